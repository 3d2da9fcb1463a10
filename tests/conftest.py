"""Shared fixtures: paths to the project's data and to the read-only ../shared material."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SHARED = ROOT.parent / "shared"
TEST_DATA = Path(__file__).resolve().parent / "data"


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
