"""Each record is read by one Dask task; attempts at the tasks' edges are grouped from both sides.

These call the engine's task functions directly (no cluster): tasks over any split of the days
and edges merged any number at a time give the attempts of the whole store grouped at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activation_kb import ingest, simulate_fleet, write_events
from activation_kb.analysis import distributed as engine
from activation_kb.analysis.attempts import (
    ATTEMPT_WINDOW,
    activation_attempts,
    grouped_records,
)
from activation_kb.analysis.engine_dask import _days, _plan, store_period
from activation_kb.store._read import read_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A fleet whose attempts straddle every midnight: moved to start just before it."""
    events, _ = simulate_fleet(400, 6, seed=5, incidents="none")
    grouped = grouped_records(events)
    attempts = grouped.table.attempts
    first = attempts["time"].array.asi8
    span = grouped.last - first
    midnight = attempts["time"].dt.ceil("D").array.asi8
    # one attempt of several records in three, moved to straddle the midnight after it
    moved = (span > 0) & (np.arange(len(first)) % 3 == 0) & (midnight > first)
    shift = np.where(moved, midnight - first - span // 2, 0)
    of = grouped.attempt_of
    delta = np.where(of >= 0, shift[np.maximum(of, 0)], 0)
    times = events["event_time"] + pd.to_timedelta(delta, unit="ns")
    out = events.assign(event_time=times).sort_values(["event_time", "host"], kind="stable",
                                                      ignore_index=True)
    root = tmp_path_factory.mktemp("edges")
    write_events(out, root / "moved.parquet")
    ingest(root / "moved.parquet", root / "store")
    return root / "store"


def _whole(store):
    return activation_attempts(read_store(store))


def test_the_fleet_has_attempts_across_midnight(store):
    attempts = _whole(store).attempts
    to_midnight = attempts["time"].dt.ceil("D") - attempts["time"]
    across = attempts[(to_midnight > pd.Timedelta(0)) & (to_midnight < ATTEMPT_WINDOW)
                      & (attempts["records"] > 1)]
    assert len(across) >= 50  # the test below would pass without edges otherwise


def _split(days, cuts):
    """Groups ``(first day, days)`` of ``days`` cut before the positions ``cuts``."""
    bounds = [0, *sorted(set(cuts)), len(days)]
    return [(days[a], len(days[a:b])) for a, b in zip(bounds, bounds[1:]) if b > a]


def _facts(store, plan, groups, at_once):
    parts = [engine.partition_facts(str(store), day, i, plan, span)
             for i, (day, span) in enumerate(groups)]
    sides = [None, *parts, None]
    midnights = [[f["edges"][s] for f, s in ((before, "tail"), (after, "head")) if f is not None]
                 for before, after in zip(sides, sides[1:])]
    edges = [engine.boundary_facts([r for m in midnights[at:at + at_once] for r in m],
                                   len(groups) + k, plan)
             for k, at in enumerate(range(0, len(midnights), at_once))]
    return parts, engine.merge_facts([engine._others(p) for p in (*parts, *edges)]), \
        pd.concat([_text(p["failed"]) for p in (*parts, *edges)], ignore_index=True)


def _text(frame):
    """The rows with their names as text (each task has its own categories)."""
    return frame.drop(columns="attempt").astype(
        {c: str for c in frame.columns if c not in ("attempt", "time", "records", "failed")})


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(1, 6), max_size=6), at_once=st.integers(1, 4))
def test_any_split_into_tasks_gives_the_attempts_of_the_whole(store, cuts, at_once):
    first, lo, hi = store_period(store, None, None, None, "28D")
    plan = _plan(first, lo, hi, "D", None)
    days = _days(store, first, hi)
    whole = _whole(store).between(lo, None)
    parts, merged, failed = _facts(store, plan, _split(days, cuts), at_once)
    assert merged["attempts"] == len(whole.attempts)
    assert merged["records"] == sum(p["records"] for p in parts) == len(read_store(store))
    expected = _text(whole.attempts[whole.attempts["failed"].to_numpy(bool)])
    keys = ["device", "time"]
    got = failed.sort_values(keys).reset_index(drop=True)
    want = expected.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want[got.columns])


def test_a_task_leaves_out_only_the_attempts_at_its_edges(store):
    first, lo, hi = store_period(store, None, None, None, "28D")
    plan = _plan(first, lo, hi, "D", None)
    day = _days(store, first, hi)[2]
    facts = engine.partition_facts(str(store), day, 0, plan)
    start = pd.Timestamp(day, tz="UTC")
    end = start + pd.Timedelta(days=1)
    head, tail = facts["edges"]["head"], facts["edges"]["tail"]
    assert len(head) and len(tail)
    assert head["event_time"].min() < start + ATTEMPT_WINDOW
    assert tail["event_time"].max() >= end - ATTEMPT_WINDOW
    own = activation_attempts(read_store(store, start, end)).between(lo, None).attempts
    edge = activation_attempts(pd.concat([head, tail], ignore_index=True)).between(lo, None)
    # what the task counted and what it handed on: its own attempts, once
    assert 0 < len(edge.attempts) < len(own)
    assert len(edge.attempts) + facts["attempts"] == len(own)
