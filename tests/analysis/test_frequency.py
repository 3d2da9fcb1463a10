"""Error frequency: failed attempts per bucket and key, every bucket present."""

from __future__ import annotations

import pandas as pd
import pytest

from activation_kb.analysis.attempts import activation_attempts
from activation_kb.analysis.frequency import error_frequency
from activation_kb.errors import (
    AnalysisError,
    ChoiceError,
    DateError,
    FrequencyError,
    TimeZoneError,
)
from activation_kb.schema import coerce_events

T0 = pd.Timestamp("2026-03-02 00:00", tz="UTC")  # a Monday


def _attempt(hours, host, codes, site="paris", kms="kms01"):
    """Records of one attempt: a 12288 with the first code (or success) and an 8198 per failure."""
    t = T0 + pd.Timedelta(hours=hours)
    first = codes[0] if codes else 0
    rows = [{"event_time": t, "host": host, "event_id": 12288, "event_kind": "kms_request",
             "result_code": first, "is_success": not codes, "site": site, "kms_host": kms,
             "role": "client"}]
    for i, code in enumerate(codes[1:] or codes[:0]):
        rows.append({"event_time": t + pd.Timedelta(seconds=2 + i), "host": host,
                     "event_id": 8198, "event_kind": "activation_failure", "result_code": code,
                     "is_success": False, "site": site, "role": "client"})
    return rows


@pytest.fixture
def events():
    rows = []
    rows += _attempt(1.2, "a", [0x8007232B, 0xC004F074])  # DNS failure reported two ways
    rows += _attempt(1.5, "b", [0x8007232B, 0xC004F074])
    rows += _attempt(1.7, "c", [])
    rows += _attempt(3.1, "a", [0x8007232B, 0xC004F074])  # retry two hours later
    rows += _attempt(3.2, "d", [0xC004F06C], site="lyon", kms="kms02")
    rows += _attempt(3.3, "e", [], site="lyon", kms="kms02")
    rows += _attempt(5.0, "c", [])
    return coerce_events(pd.DataFrame(rows))


def test_counts_failed_attempts_per_hour_and_category(events):
    f = error_frequency(events, freq="h", by="category")
    assert list(f.columns) == ["time", "category", "value", "failures", "attempts"]
    assert f.attrs["measure"] == "events" and f.attrs["devices"] == 5
    # every hour from the first to the last attempt, for every category seen: 5 hours x 3
    assert len(f) == 15 and set(f["time"]) == set(pd.date_range(T0 + pd.Timedelta(hours=1),
                                                                 periods=5, freq="h"))
    at = f.set_index(["time", "category"])
    h1, h3 = T0 + pd.Timedelta(hours=1), T0 + pd.Timedelta(hours=3)
    assert at.loc[(h1, "dns"), "value"] == 2 and at.loc[(h1, "kms_unreachable"), "value"] == 2
    assert at.loc[(h1, "dns"), "attempts"] == 3
    assert at.loc[(h3, "dns"), "value"] == 1 and at.loc[(h3, "clock"), "value"] == 1
    assert at.loc[(h3, "clock"), "attempts"] == 3
    # empty buckets are present with 0
    assert (f.loc[f["time"] == T0 + pd.Timedelta(hours=2), "value"] == 0).all()
    assert f["value"].sum() == 7


def test_devices_and_rate(events):
    devices = error_frequency(events, freq="D", by="code", measure="devices")
    devices = devices.set_index("code")["value"]
    assert devices["0x8007232B"] == 2  # a failed twice, b once: two devices
    assert devices["0xC004F06C"] == 1
    rate = error_frequency(events, freq="h", by="category", measure="rate")
    rate = rate.set_index(["time", "category"])
    assert rate.loc[(T0 + pd.Timedelta(hours=1), "dns"), "value"] == pytest.approx(2 / 3)
    assert rate.loc[(T0 + pd.Timedelta(hours=2), "dns"), "value"] == 0.0  # no attempt: 0


def test_dimensions_scale_the_attempts(events):
    f = error_frequency(events, freq="D", by=["category", "site"]).set_index(["category", "site"])
    assert f.loc[("dns", "paris"), "failures"] == 3
    assert f.loc[("dns", "paris"), "attempts"] == 5  # paris made 5 attempts, lyon 2
    assert f.loc[("clock", "lyon"), "attempts"] == 2
    assert ("clock", "paris") not in f.index  # only combinations seen are listed


def test_time_range_and_zone(events):
    f = error_frequency(events, freq="D", by="category", since="2026-03-01", until="2026-03-04",
                        tz="Europe/Paris")
    days = sorted(set(f["time"]))
    assert [d.isoformat() for d in days] == [
        "2026-03-01T00:00:00+01:00", "2026-03-02T00:00:00+01:00", "2026-03-03T00:00:00+01:00"]
    assert f["value"].sum() == 7  # dns 3, kms_unreachable 3, clock 1
    later = error_frequency(events, freq="h", by="category", since=T0 + pd.Timedelta(hours=3))
    assert later["value"].sum() == 3  # hour 3: a (dns + kms_unreachable) and d (clock)


def test_an_attempt_counts_once_per_category():
    rows = _attempt(1, "x", [0x800706BA, 0xC004F074])  # both kms_unreachable
    f = error_frequency(coerce_events(pd.DataFrame(rows)), freq="h", by="category")
    assert f.set_index("category").loc["kms_unreachable", "value"] == 1
    by_code = error_frequency(coerce_events(pd.DataFrame(rows)), freq="h", by="code")
    assert sorted(by_code["code"]) == ["0x800706BA", "0xC004F074"]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(measure="count"), ChoiceError, "measure='count'"),
        (dict(by="colour"), AnalysisError, "by="),
        (dict(freq="fortnightly"), FrequencyError, "freq='fortnightly'"),
        (dict(freq="30s"), FrequencyError, "at least one minute"),
        (dict(freq="1min", since="2020-01-01"), FrequencyError, "more than 100,000"),
        (dict(tz="Mars/Olympus"), TimeZoneError, "tz='Mars/Olympus'"),
        (dict(since="2026-03-05", until="2026-03-01"), DateError, "after"),
        (dict(since="yesterday-ish"), DateError, "since='yesterday-ish'"),
        (dict(until="1601-01-01"), DateError, "outside the dates"),
    ],
)
def test_bad_arguments(events, kwargs, error, match):
    with pytest.raises(error, match=match):
        error_frequency(events, **kwargs)


def test_old_call_forms_still_work_with_a_warning(events):
    new = error_frequency(events, freq="D", by="code", measure="devices", since="2026-03-01")
    with pytest.warns(DeprecationWarning) as caught:
        old = error_frequency(events, "D", "code", "devices", start="2026-03-01")
    assert {str(w.message) for w in caught} == {
        "error_frequency(): passing freq, by, measure by position is deprecated; write freq=..., "
        "by=..., measure=...",
        "error_frequency(): start= is deprecated; write since=",
    }
    pd.testing.assert_frame_equal(old, new)
    with pytest.raises(TypeError, match="both start= .deprecated. and since="):
        error_frequency(events, start="2026-03-01", since="2026-03-01")
    with pytest.raises(TypeError, match="at most 4 positional"):
        error_frequency(events, "D", "code", "devices", "extra")


def test_simulated_counts_match_the_attempt_table(small_fleet):
    table = activation_attempts(small_fleet.events)
    counts = error_frequency(table, freq="h", by="code")
    per_code = counts.groupby("code", observed=True)["failures"].sum()
    assert per_code.to_dict() == table.errors["code"].value_counts().to_dict()
    hours = counts["time"].nunique()
    assert hours == len(pd.date_range(table.attempts["time"].min().floor("h"),
                                      table.attempts["time"].max().floor("h"), freq="h"))
    weekly = error_frequency(table, freq="W", by="category")
    assert set(weekly["time"].dt.day_of_week) == {0}  # weeks start on Monday
    by_cat = table.errors.drop_duplicates(["attempt", "category"])["category"].value_counts()
    assert weekly.groupby("category", observed=True)["failures"].sum().to_dict() == by_cat.to_dict()
