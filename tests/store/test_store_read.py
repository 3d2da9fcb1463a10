"""Reading a store: period bounds at and off midnight, text read as categories."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activation_kb import ingest, schema
from activation_kb.store import read_store
from activation_kb.store._layout import open_store
from activation_kb.store._read import read_range


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("read") / "store"
    ingest(DATA / "sample" / "events.parquet", root)
    return root


@pytest.fixture(scope="module")
def everything(store):
    return read_store(store)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.integers(0, 40 * 24), hours=st.integers(1, 6 * 24),
       at_midnight=st.booleans(), minutes=st.integers(0, 59))
def test_a_period_holds_exactly_its_records_with_bounds_at_midnight_or_not(
        store, everything, start, hours, at_midnight, minutes):
    # a bound at UTC midnight is the day partitions' own: the records are not compared with it
    first = everything[schema.EVENT_TIME].min().floor("D")
    since = first + pd.Timedelta(hours=start)
    until = since + pd.Timedelta(hours=hours)
    if not at_midnight:
        since += pd.Timedelta(minutes=minutes)
        until += pd.Timedelta(minutes=minutes)
    got = read_store(store, since, until)
    t = everything[schema.EVENT_TIME]
    want = everything[((t >= since) & (t < until)).to_numpy(bool)].reset_index(drop=True)
    assert len(got) == len(want)
    pd.testing.assert_series_equal(got[schema.EVENT_TIME], want[schema.EVENT_TIME])


def test_text_read_as_categories_holds_the_same_values(store, everything):
    root = open_store(store)
    columns = [schema.EVENT_TIME, schema.HOST, schema.KMS_HOST, schema.SITE, schema.SKU_ID,
               schema.TRIGGER, schema.CLIENT_NAME]
    coded = [schema.KMS_HOST, schema.SITE, schema.SKU_ID, schema.TRIGGER, schema.CLIENT_NAME]
    plain = read_range(root, None, None, columns=columns, complete=False, ordered=False)
    cats = read_range(root, None, None, columns=columns, complete=False, ordered=False,
                      categories=coded)
    assert list(cats.columns) == list(plain.columns)
    assert any(plain[c].isna().any() for c in coded)  # missing values are read as missing
    for column in coded:
        assert isinstance(cats[column].dtype, pd.CategoricalDtype)
        assert cats[column].cat.categories.is_unique
        pd.testing.assert_series_equal(cats[column].astype(object), plain[column].astype(object),
                                       obj=column)
    with pytest.raises(ValueError, match="files' order"):
        read_range(root, None, None, columns=columns, categories=coded)
