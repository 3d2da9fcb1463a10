"""Parameter checks (activation_kb.params): one error type per kind of mistake, messages that
say what was received and what is expected, and the old call forms that keep working."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from activation_kb import errors
from activation_kb.deprecation import old_forms
from activation_kb.errors import (
    ActivationKBError,
    ChoiceError,
    DateError,
    DurationError,
    FrequencyError,
    MissingDependencyError,
    NumberError,
    ParameterError,
    ReportError,
    ReportParameterError,
    SensitivityError,
    TimeZoneError,
    UnsupportedLanguageError,
)
from activation_kb.params import (
    MAX_DATE,
    MIN_DATE,
    ReportParams,
    SpikeParams,
    check_buckets,
    check_choice,
    check_date,
    check_duration,
    check_freq,
    check_lang,
    check_number,
    check_paths,
    check_period,
    check_sensitivity,
    check_timezone,
    check_top_n,
    relative_span,
)


def test_every_kind_is_a_parameter_error_and_a_value_error():
    kinds = [TimeZoneError, DateError, DurationError, FrequencyError, SensitivityError,
             NumberError, ChoiceError, UnsupportedLanguageError, ReportParameterError]
    for kind in kinds:
        assert issubclass(kind, ParameterError) and issubclass(kind, ValueError)
        assert issubclass(kind, ActivationKBError)
    assert issubclass(ReportParameterError, ReportError)
    assert len({*kinds}) == len(kinds)


@pytest.mark.parametrize(
    "call, kind, message",
    [
        (lambda: check_timezone("Mars/Olympus"), TimeZoneError,
         "tz='Mars/Olympus': not a time zone; expected an IANA name such as Europe/Paris"),
        (lambda: check_timezone(""), TimeZoneError, "tz=''"),
        (lambda: check_timezone(3), TimeZoneError, "tz=3"),
        (lambda: check_date("31/02/2026", "since"), DateError,
         "since='31/02/2026': not a date or time; expected e.g. 2026-03-01"),
        (lambda: check_date("NaT", "--start"), DateError, "--start 'NaT': not a date"),
        (lambda: check_date(pd.NaT, "until"), DateError, "until=NaT: not a date"),
        (lambda: check_date(20260101, "since"), DateError, "since=20260101: not a date"),
        (lambda: check_date("1601-01-01", "since"), DateError,
         "since='1601-01-01': outside the dates that can be analysed; expected a date from "
         "1678-01-01 to 2261-12-31"),
        (lambda: check_date("9999-12-31T23:59", "until"), DateError, "outside the dates"),
        (lambda: check_duration("often", "history"), DurationError,
         "history='often': not a duration; expected e.g. 28D, 36h or 15min"),
        (lambda: check_duration("-3D", "gap"), DurationError, "expected a positive duration"),
        (lambda: check_duration("99999D", "history"), DurationError,
         "history='99999D': longer than the 3660 days that can be analysed"),
        (lambda: check_duration(7, "history"), DurationError, "not a duration"),
        (lambda: relative_span("0D"), DurationError, "since='0D': expected a positive"),
        (lambda: relative_span("99999D"), DurationError, "longer than"),
        (lambda: check_period("2026-03-01", "2026-02-01"), DateError,
         "until='2026-02-01' must be after since='2026-03-01'"),
        (lambda: check_period("1000D", "1680-01-01"), DurationError, "reaches back before"),
        (lambda: check_freq("1ns"), FrequencyError,
         "freq='1ns': buckets must last at least one minute"),
        (lambda: check_freq("59s"), FrequencyError, "at least one minute"),
        (lambda: check_freq("fortnightly"), FrequencyError, "not a bucket size"),
        (lambda: check_freq(None), FrequencyError, "freq=None"),
        (lambda: check_buckets(pd.Timestamp("2026-01-01"), pd.Timestamp("2026-12-31"), "1min"),
         FrequencyError, "into 524,161 buckets, more than 100,000"),
        (lambda: check_lang("de"), UnsupportedLanguageError,
         "lang='de': unsupported catalogue language; expected one of: en, fr"),
        (lambda: check_lang(None), UnsupportedLanguageError, "lang=None"),
        (lambda: check_sensitivity(0), SensitivityError,
         "sensitivity=0: expected a number in (0, 1]"),
        (lambda: check_sensitivity(True), SensitivityError, "sensitivity=True"),
        (lambda: check_sensitivity("0.5"), SensitivityError, "sensitivity='0.5'"),
        (lambda: check_top_n(0), NumberError, "top_n=0: expected a whole number >= 1"),
        (lambda: check_top_n(2.5), NumberError, "top_n=2.5"),
        (lambda: check_top_n(True), NumberError, "top_n=True"),
        (lambda: check_number(float("inf"), "--days", minimum=0, maximum=10,
                              above_minimum=True), NumberError,
         "--days inf: expected a finite number > 0 and <= 10"),
        (lambda: check_choice("often", "measure", ("events", "rate")), ChoiceError,
         "measure='often': expected one of: events, rate"),
        (lambda: check_paths("/nowhere/x.xml"), ParameterError,
         "events: /nowhere/x.xml: no such file or directory"),
        (lambda: check_paths("/nowhere/*.evtx"), ParameterError, "matches no file"),
        (lambda: check_paths([]), ParameterError, "no input given"),
    ],
)
def test_each_mistake_has_its_kind_and_says_what_was_expected(call, kind, message):
    with pytest.raises(kind) as info:
        call()
    assert message in str(info.value)
    assert info.value.parameter is not None or kind is ParameterError


def test_checks_return_the_working_form():
    assert check_timezone(None) is None and check_timezone("Europe/Paris") == "Europe/Paris"
    stamp = check_date("2026-03-01 08:00", "since", tz="Europe/Paris")
    assert stamp == pd.Timestamp("2026-03-01 07:00", tz="UTC") and stamp.unit == "ns"
    assert check_date("", "since") is None and check_date(None, "since") is None
    assert check_date(MIN_DATE, "since") == MIN_DATE and check_date(MAX_DATE, "x") == MAX_DATE
    assert check_duration(" 36h ", "gap") == pd.Timedelta(hours=36)
    assert relative_span("2W") == pd.Timedelta(weeks=2) and relative_span("2026-01-01") is None
    start, end = check_period("7D", "2026-03-01")
    assert start == pd.Timedelta(days=7) and end == pd.Timestamp("2026-03-01", tz="UTC")
    assert [check_freq(f) for f in ("1min", "15min", "h", "D", "W", "MS")] == [
        "1min", "15min", "h", "D", "W", "MS"]
    assert check_buckets(pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-02"), "h") == 25
    assert check_sensitivity(1) == 1.0 and isinstance(check_sensitivity(1), float)
    assert check_top_n(3.0) == 3 and isinstance(check_top_n(3.0), int)


@given(st.datetimes(min_value=pd.Timestamp("1000-01-01").to_pydatetime(),
                    max_value=pd.Timestamp("9999-01-01").to_pydatetime()))
def test_a_date_is_accepted_exactly_when_it_is_in_range(moment):
    stamp = pd.Timestamp(moment.isoformat())
    inside = MIN_DATE.tz_localize(None) <= stamp <= MAX_DATE.tz_localize(None)
    try:
        result = check_date(moment.isoformat(), "since")
    except DateError:
        assert not inside
    else:
        assert inside and result.tz_localize(None) == stamp


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_sensitivity_accepts_exactly_0_to_1(value):
    inside = 0 < value <= 1
    try:
        check_sensitivity(value)
    except SensitivityError:
        assert not inside
    else:
        assert inside


def test_spike_params_are_checked_when_built():
    params = SpikeParams(sensitivity=0.7, history="14D")
    assert params.lookback == pd.Timedelta(days=14)
    assert params.detect_kwargs() == {"sensitivity": 0.7, "history": "14D", "direction": "up"}
    assert SpikeParams(direction="both").detect_kwargs()["direction"] == "both"
    with pytest.raises(SensitivityError):
        SpikeParams(sensitivity=2)
    with pytest.raises(DurationError, match="history='soon'"):
        SpikeParams(history="soon")
    with pytest.raises(ChoiceError, match="direction='sideways': expected one of: up, down, both"):
        SpikeParams(direction="sideways")
    with pytest.raises(AttributeError):
        params.sensitivity = 0.1  # frozen


def test_report_params_are_checked_and_typed(tmp_path):
    export = tmp_path / "exports" / "site-a" / "pc1.xml"
    export.parent.mkdir(parents=True)
    export.write_text("<Events/>")
    params = ReportParams(events=[str(tmp_path / "exports")], since="7D", freq="D", top_n=3.0,
                          sensitivity=1)
    assert params.events == (str((tmp_path / "exports").resolve()),)  # exports in subfolders
    assert params.since == "7D" and params.top_n == 3 and params.sensitivity == 1.0
    assert ReportParams(since="2026-03-01 08:00").since == "2026-03-01T08:00:00"
    assert params.spikes == SpikeParams(1.0, "28D")
    notebook = ReportParams().notebook_parameters(default_events=["sample.parquet"])
    assert notebook["events"] == ["sample.parquet"] and notebook["history"] == "28D"
    with pytest.raises(DurationError, match="since='99999D'"):
        ReportParams(since="99999D")
    with pytest.raises(FrequencyError, match="buckets"):  # a year of minutes and its history
        ReportParams(since="2025-01-01", until="2026-01-01", freq="1min")
    with pytest.raises(FrequencyError, match="buckets"):
        ReportParams(since="3000D", freq="15min")


def test_old_forms_warn_and_keep_working():
    @old_forms(positional=("lang", "tz"), renamed={"top": "top_n"})
    def show(data, *, lang="en", tz=None, top_n=10):
        """Return what was given."""
        return data, lang, tz, top_n

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert show(1, lang="fr") == (1, "fr", None, 10)  # the new form does not warn
    with pytest.warns(DeprecationWarning, match=r"show\(\): passing lang, tz by position"):
        assert show(1, "fr", "UTC") == (1, "fr", "UTC", 10)
    with pytest.warns(DeprecationWarning, match=r"show\(\): top= is deprecated; write top_n="):
        assert show(1, top=3) == (1, "en", None, 3)
    with pytest.raises(TypeError, match="multiple values for argument 'lang'"):
        show(1, "fr", lang="en")
    assert show.__name__ == "show" and show.__doc__ == "Return what was given."


def test_missing_dependency_names_an_extra_that_exists_or_pip():
    message = str(MissingDependencyError("distributed", "dask", "The Dask engine"))
    assert "pip install 'activation-kb[dask]'" in message and "pip install distributed" in message
    for extra in ("report", "widgets", "evtx", None):  # evtx: a base dependency, no extra
        error = MissingDependencyError("papermill", extra, "Running a report")
        assert "activation-kb[" not in str(error) and error.extra is None
        assert str(error).endswith("Please run: pip install papermill")
    assert errors._extras() >= {"dask"}
