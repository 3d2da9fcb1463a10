"""Shared fixtures: paths to the project's data and the read-only ../shared material, a seeded
random generator, and one small simulated fleet (with its analysis) that most tests share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SHARED = ROOT.parent / "shared"
TEST_DATA = Path(__file__).resolve().parent / "data"
#: The shared fleet: 300 machines over five weeks with the seven default incidents (under a
#: second to simulate); five weeks give the spike baseline the four weeks of past it looks at.
SMALL_FLEET = {"devices": 300, "days": 35, "seed": 1}


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded random generator, the same in every run."""
    return np.random.default_rng(sum(map(ord, "activation_kb random object")))


@pytest.fixture
def shared_dir() -> Path:
    """The ../shared folder beside the project; tests that need it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is not present (read-only material beside the project)")
    return SHARED


@pytest.fixture(scope="session")
def small_fleet():
    """The simulated fleet of :data:`SMALL_FLEET` (``events``, ``incidents``), built once.

    Shared by every test of the session: copy a frame before changing it in place.
    """
    from activation_kb import simulate_fleet

    return simulate_fleet(**SMALL_FLEET)


@pytest.fixture(scope="session")
def small_analysis(small_fleet):
    """``analyze_fleet`` of the shared fleet (hourly buckets, English), built once."""
    from activation_kb import analyze_fleet

    return analyze_fleet(small_fleet.events)
