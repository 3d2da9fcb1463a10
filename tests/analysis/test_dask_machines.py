"""The Dask engine's machine facts: cut into buckets per task, each bucket merged once.

What they must give is what the pandas engine computes from all the attempts at once: each
machine's usual value of every profile dimension (``incidents._profile``) and its last attempt
in the period, whatever the split into tasks and buckets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activation_kb.analysis.dask_machines import (
    MACHINE_SCHEMA,
    PROFILE_DIMENSIONS,
    bucket_of,
    combine_machines,
    machine_buckets,
    merge_machines,
)
from activation_kb.analysis.incidents import _profile

T0 = pd.Timestamp("2026-03-01", tz="UTC")
NAMES = ["ws-1", "WS-2", "é-3", "", "srv.a", "b", "ws-10"]
VALUES = ["", "a", "b", "Z", "é", "a b"]


def _attempts(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["device", "minute", *PROFILE_DIMENSIONS])
    out = pd.DataFrame({"device": pd.Categorical(frame["device"]),
                        "time": T0 + pd.to_timedelta(frame["minute"], unit="min")})
    for dim in PROFILE_DIMENSIONS:
        out[dim] = pd.Categorical(frame[dim])
    return out


def _expected(attempts: pd.DataFrame, lo: pd.Timestamp | None) -> pd.DataFrame:
    profile = _profile(attempts, PROFILE_DIMENSIONS).astype(str)
    period = attempts if lo is None else attempts[attempts["time"] >= lo]
    last = period.groupby(period["device"].astype(str))["time"].max()
    profile["last"] = last.reindex(profile.index)
    return profile.sort_index()


def _merged(parts: list[pd.DataFrame], lo, buckets: int, combine: int = 0) -> pd.DataFrame:
    pieces = [machine_buckets(part, lo, buckets) for part in parts]
    frames = []
    for k in range(buckets):
        mine = [p[k] for p in pieces]
        if combine:  # as the engine does: a few tasks' bucket at a time, then all of them
            mine = [combine_machines(mine[at:at + combine])
                    for at in range(0, len(mine), combine)]
        frames.append(merge_machines(mine))
    out = pd.concat(frames, ignore_index=True)
    assert out["device"].is_unique  # a machine is in one bucket only
    out = out.set_index(out["device"].astype(str)).drop(columns="device")
    out.index.name = "device"
    for dim in PROFILE_DIMENSIONS:
        out[dim] = out[dim].astype(str)
    return out.sort_index()


_row = st.tuples(st.sampled_from(NAMES), st.integers(0, 600),
                 *[st.sampled_from(VALUES) for _ in PROFILE_DIMENSIONS])


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(_row, min_size=1, max_size=60), cuts=st.lists(st.integers(0, 60),
                                                                   max_size=4),
       buckets=st.integers(1, 5), lo_minute=st.one_of(st.none(), st.integers(0, 600)),
       combine=st.integers(0, 3))
def test_any_split_into_tasks_and_buckets_gives_the_profile_of_all_attempts(rows, cuts, buckets,
                                                                         lo_minute, combine):
    attempts = _attempts(rows)
    lo = None if lo_minute is None else T0 + pd.Timedelta(minutes=lo_minute)
    edges = sorted({0, len(rows), *[min(c, len(rows)) for c in cuts]})
    parts = [attempts.iloc[a:b].reset_index(drop=True) for a, b in zip(edges, edges[1:])]
    got = _merged(parts, lo, buckets, combine)
    expected = _expected(attempts, lo)
    pd.testing.assert_index_equal(got.index, expected.index)
    for dim in PROFILE_DIMENSIONS:
        assert got[dim].tolist() == expected[dim].tolist(), dim
    assert got["last"].tolist() == expected["last"].tolist()


def test_ties_go_to_the_smallest_value_and_empty_values_never_win():
    attempts = _attempts([
        ("m1", 0, "b", "", "client", "s", "client"),
        ("m1", 1, "a", "", "client", "s", "client"),   # a and b: one each, a is smaller
        ("m1", 2, "", "", "", "", "kms_host"),
        ("m1", 3, "", "", "", "", "kms_host"),
        ("m1", 4, "", "", "", "", "kms_host"),          # "" is the most frequent, never usual
    ])
    got = merge_machines(machine_buckets(attempts, None, 1)).iloc[0]
    assert (got["site"], got["kms_host"], got["edition"], got["role"]) == ("a", "", "client",
                                                                           "kms_host")


def test_buckets_are_the_same_in_every_process_and_cover_every_machine():
    import subprocess
    import sys

    names = np.array([f"ws-{i}" for i in range(500)], dtype=object)
    here = bucket_of(names, 7)
    code = ("import numpy as np; from activation_kb.analysis.dask_machines import bucket_of; "
            "print(bucket_of(np.array([f'ws-{i}' for i in range(500)], dtype=object), 7).tolist())")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout
    assert [int(x) for x in there.strip()[1:-1].split(",")] == here.tolist()
    assert set(here) == set(range(7))  # 500 names fill 7 buckets
    assert (bucket_of(names, 1) == 0).all()


def test_an_empty_bucket_and_no_piece_merge_to_no_machine():
    empty = merge_machines([])
    assert list(empty.columns) == ["device", *PROFILE_DIMENSIONS, "last"]
    assert len(empty) == 0
    assert len(merge_machines([MACHINE_SCHEMA.empty_table()])) == 0
    assert combine_machines([]).schema == MACHINE_SCHEMA
    assert len(merge_machines([combine_machines([MACHINE_SCHEMA.empty_table()])])) == 0


def test_combining_makes_a_machine_active_in_many_tasks_one_row():
    days = [_attempts([("m1", 60 * day, "s", "k", "client", "x", "client"),
                       ("m2", 60 * day + 1, "s", "k", "server", "y", "client")])
            for day in range(5)]
    combined = combine_machines([machine_buckets(day, None, 1)[0] for day in days])
    assert combined.num_rows == 2
    rows = combined.to_pandas().set_index("device")
    assert rows.loc["m1", "n"] == 5
    assert rows.loc["m2", "last"] == T0 + pd.Timedelta(minutes=241)


@pytest.mark.parametrize("buckets", [1, 3])
def test_a_machine_without_an_attempt_in_the_period_has_no_last(buckets):
    attempts = _attempts([("old", 0, "a", "k", "client", "s", "client"),
                          ("new", 500, "a", "k", "client", "s", "client")])
    got = _merged([attempts], T0 + pd.Timedelta(minutes=100), buckets)
    assert pd.isna(got.loc["old", "last"])
    assert got.loc["new", "last"] == T0 + pd.Timedelta(minutes=500)
    assert isinstance(machine_buckets(attempts, None, buckets)[0], pa.Table)
