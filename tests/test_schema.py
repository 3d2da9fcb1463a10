"""The canonical frames (activation_kb.schema): columns, dtypes, coercion and validation."""

from __future__ import annotations

import pandas as pd
import pytest

from activation_kb import SchemaError
from activation_kb import schema as S


def test_constants_name_every_column_once():
    assert len(set(S.EVENT_COLUMNS)) == len(S.EVENT_COLUMNS) == len(S.EVENT_DTYPES)
    named = {getattr(S, name) for name in S.__all__ if name.isupper()
             and isinstance(getattr(S, name), str)}
    assert set(S.EVENT_COLUMNS) <= named
    assert S.EVENT_DTYPES[S.EVENT_TIME] == pd.DatetimeTZDtype("ns", "UTC")
    assert list(S.EVENT_DTYPES[S.EVENT_KIND].categories) == list(S.EVENT_KINDS)
    assert S.ERROR_CATEGORIES[-1] == "other"


def test_empty_frames_follow_the_schema():
    events = S.empty_events()
    S.validate_events(events)
    assert events.empty and list(events.columns) == list(S.EVENT_COLUMNS)
    rejected = S.empty_rejected()
    assert list(rejected.columns) == list(S.REJECTED_COLUMNS)
    assert dict(rejected.dtypes) == dict(S.REJECTED_DTYPES)


def test_coerce_adds_casts_and_keeps_extras():
    given = pd.DataFrame({
        "note": ["kept", "too"],
        "event_id": [12288, 8198],
        "host": ["PC1", "PC2"],
        "event_time": ["2026-03-01T08:00:00+01:00", "2026-03-01T07:30:00+00:00"],
        "event_kind": ["kms_request", "activation_failure"],
        "result_code": [0xC004F074, 0],
    })
    events = S.coerce_events(given)
    S.validate_events(events.drop(columns="note"))
    assert list(events.columns) == [*S.EVENT_COLUMNS, "note"]  # canonical order, extras after
    assert list(events["event_time"]) == [pd.Timestamp("2026-03-01 07:00", tz="UTC"),
                                          pd.Timestamp("2026-03-01 07:30", tz="UTC")]
    assert list(events["site"]) == ["", ""] and events["kms_host"].isna().all()
    assert events["result_code"].dtype == "UInt32" and events["result_code"][0] == 0xC004F074
    assert list(events["event_kind"].astype(str)) == ["kms_request", "activation_failure"]
    assert given.columns[0] == "note" and isinstance(given["event_time"][0], str)  # unchanged


@pytest.mark.parametrize(
    "frame, match",
    [
        (pd.DataFrame({"host": ["a"], "event_id": [1]}), "lacks required column.*event_time"),
        (pd.DataFrame({"event_time": ["2026-01-01"], "host": ["a"], "event_id": ["x"]}),
         "column 'event_id' cannot be cast to Int32"),
        (pd.DataFrame({"event_time": ["when"], "host": ["a"], "event_id": [1]}),
         "column 'event_time' cannot be cast"),
    ],
)
def test_coerce_names_the_column_that_cannot_be(frame, match):
    with pytest.raises(SchemaError, match=match):
        S.coerce_events(frame)


def test_validate_lists_every_problem():
    events = S.empty_events().drop(columns=["site", "raw"])
    events["event_id"] = events["event_id"].astype("int64")
    with pytest.raises(SchemaError) as info:
        S.validate_events(events)
    message = str(info.value)
    assert "missing column 'site'" in message and "missing column 'raw'" in message
    assert "column 'event_id' has dtype int64, expected Int32" in message
