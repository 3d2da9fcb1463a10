"""The Dask client's rows, gathered column by column (activation_kb.analysis.dask_rows)."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activation_kb.analysis.dask_rows import RowGatherer

_NAMES = st.sampled_from(["", "paris", "lyon", "berlin", "0xC004F074", "ü-host"])


@st.composite
def _parts(draw):
    """Parts of a failed-attempts-like table: ids, times, categorical names (own categories)."""
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        n = draw(st.integers(0, 12))
        names = draw(st.lists(_NAMES, min_size=n, max_size=n))
        extra = draw(st.lists(_NAMES, max_size=3))  # categories no row uses
        parts.append(pd.DataFrame({
            "attempt": np.arange(n, dtype=np.int64) + 100 * len(parts),
            "time": pd.date_range("2026-03-05", periods=n, freq="min", tz="UTC"),
            "device": pd.Categorical(names, categories=sorted(set(names) | set(extra))),
        }))
    return parts


@settings(max_examples=60, deadline=None)
@given(parts=_parts(), seed=st.integers(0, 2**16))
def test_the_parts_join_in_their_positions_whatever_order_they_came_in(parts, seed):
    rows = RowGatherer()
    arrival = np.random.default_rng(seed).permutation(len(parts))
    for i in arrival:
        rows.add("failed", parts[i], position=int(i))
    out = rows.frame("failed")
    expected = pd.concat(parts, ignore_index=True)
    assert list(out.columns) == ["attempt", "time", "device"]
    assert out["attempt"].tolist() == expected["attempt"].tolist()
    assert out["time"].tolist() == expected["time"].tolist()
    assert out["time"].dtype == expected["time"].dtype
    assert out["device"].astype(str).tolist() == expected["device"].astype(str).tolist()
    assert isinstance(out["device"].dtype, pd.CategoricalDtype)
    if len(parts) > 1:  # united categories, sorted (one part keeps its own)
        categories = list(out["device"].cat.categories)
        assert categories == sorted(set().union(*(p["device"].cat.categories for p in parts)))
    assert rows.frame("failed").empty  # given once: forgotten after


def test_a_part_without_categories_joins_as_pandas_does():
    rows = RowGatherer()
    rows.add("errors", pd.DataFrame({"code": pd.Categorical(["0xC004F074"])}), position=0)
    rows.add("errors", pd.DataFrame({"code": pd.Series([], dtype=object)}), position=1)
    rows.add("errors", pd.DataFrame({"code": ["0x8007232B"]}), position=2)
    assert rows.frame("errors")["code"].astype(str).tolist() == ["0xC004F074", "0x8007232B"]


def test_parts_with_other_columns_are_refused():
    rows = RowGatherer()
    rows.add("failed", pd.DataFrame({"attempt": [1]}), position=0)
    with pytest.raises(ValueError, match="failed: a part has columns"):
        rows.add("failed", pd.DataFrame({"time": [1]}), position=1)


def test_nothing_given_is_an_empty_frame():
    rows = RowGatherer()
    rows.add("errors", None, position=0)
    assert rows.frame("errors").empty


def test_a_received_frame_is_not_kept_alive():
    """Its columns are copied out: the frame (and a message buffer under it) can go at once."""
    frame = pd.DataFrame({"attempt": np.arange(1000, dtype=np.int64),
                          "device": pd.Categorical(["a", "b"] * 500)})
    sent = frame["attempt"].to_numpy()
    alive = weakref.ref(frame)
    rows = RowGatherer()
    rows.add("failed", frame, position=0)
    del frame
    gc.collect()
    assert alive() is None
    out = rows.frame("failed")
    assert out["attempt"].tolist() == list(range(1000))
    assert not np.shares_memory(out["attempt"].to_numpy(), sent)
