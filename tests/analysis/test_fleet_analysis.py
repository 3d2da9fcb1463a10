"""The front door: FleetAnalysis carries its settings, `where` keeps part of the fleet, and
parameters that cannot work are refused before any data is read."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from conftest import TEST_DATA

from activation_kb import (
    ChoiceError,
    DateError,
    DurationError,
    FleetAnalysis,
    FrequencyError,
    InvalidCodeError,
    ParameterError,
    SensitivityError,
    SpikeParams,
    TimeZoneError,
    UnsupportedLanguageError,
    analyze_fleet,
    error_frequency,
    load_events,
    plot_code_heatmap,
    plot_frequency,
    plot_incident,
    plot_top_codes,
)
from activation_kb.analysis.subset import filter_table


def test_the_analysis_carries_its_settings(small_fleet):
    analysis = analyze_fleet(small_fleet.events, freq="D", lang="fr", tz="Europe/Paris",
                             since="2026-01-20", spike_params=SpikeParams(0.8, "14D"))
    assert (analysis.lang, analysis.tz, analysis.freq) == ("fr", "Europe/Paris", "D")
    assert analysis.since == pd.Timestamp("2026-01-19 23:00", tz="UTC") and analysis.until is None
    assert analysis.spike_params == SpikeParams(0.8, "14D") and analysis.filters == {}
    assert str(analysis.counts["time"].dt.tz) == "Europe/Paris"
    assert analysis.parameters["sensitivity"] == 0.8 and analysis.parameters["history"] == "14D"
    # figures take the language (and the counts, spikes, incidents) from the analysis
    fig = plot_frequency(analysis)
    assert "catégorie" in fig.layout.title.text
    assert "Code d'erreur" in plot_code_heatmap(analysis).layout.yaxis.title.text.replace(
        "&#39;", "'")
    assert plot_top_codes(analysis).layout.separators == ", "


def test_figures_from_an_analysis_match_figures_from_its_frames(small_analysis):
    a = small_analysis
    pairs = [
        (plot_frequency(a), plot_frequency(a.counts, a.spikes, incidents=a.incidents)),
        (plot_code_heatmap(a, top_n=5), plot_code_heatmap(a.code_counts, top_n=5)),
        (plot_top_codes(a, top_n=5), plot_top_codes(a.table, top_n=5)),
    ]
    for mine, theirs in pairs:
        assert mine.to_json() == theirs.to_json()
    assert len(a.incidents) >= 3
    by_row = plot_incident(a.incidents.iloc[1], a.table, freq="h")
    assert plot_incident(1, a).to_json() == by_row.to_json()
    assert plot_incident(a.incidents.loc[1, "incident_id"], a).to_json() == by_row.to_json()
    with pytest.raises(Exception, match="no incident 'INC-999'"):
        plot_incident("INC-999", a)


def test_where_a_site_recounts_its_attempts_on_the_same_buckets(small_analysis):
    a = small_analysis
    paris = a.where(site="paris")
    assert isinstance(paris, FleetAnalysis) and paris.filters == {"site": ("paris",)}
    assert set(paris.table.attempts["site"].astype(str)) == {"paris"}
    assert set(paris.table.errors["attempt"]) <= set(paris.table.attempts["attempt"])
    expected = (a.table.attempts["site"].astype(str) == "paris").sum()
    assert len(paris.table.attempts) == paris.summary["attempts"] == expected
    # same buckets as the whole fleet, and the counts are those of the filtered table
    assert list(paris.counts["time"].unique()) == list(a.counts["time"].unique())
    recount = error_frequency(paris.table, freq=a.freq, by="category",
                              since=a.counts["time"].min(), until=a.counts["time"].max()
                              + pd.Timedelta(1, "ns"))
    pd.testing.assert_frame_equal(paris.counts, recount)
    # every site's failures add up to the fleet's
    sites = a.summary["sites"]
    total = sum(a.where(site=s).counts["failures"].sum() for s in sites)
    unknown = a.table.attempts["site"].astype(str) == ""
    assert total + a.table.errors[
        a.table.errors["attempt"].isin(a.table.attempts.loc[unknown, "attempt"])
    ].drop_duplicates(["attempt", "category"]).shape[0] == a.counts["failures"].sum()
    # incidents and spikes kept are those with failures at the site
    assert set(paris.incidents["incident_id"]) <= set(a.incidents["incident_id"])
    for spike in paris.spikes.to_dict(orient="records"):
        errors = paris.table.errors
        inside = errors[(errors["time"] >= spike["start"]) & (errors["time"] < spike["end"])
                        & (errors["code"].astype(str) == spike["code"])]
        assert len(inside)
    # the input's quality is the whole input's
    assert paris.quality is a.quality and paris.summary["records"] == a.summary["records"]


def test_where_a_code_keeps_every_attempt_as_denominator(small_analysis):
    a = small_analysis
    code = a.incidents.loc[0, "top_code"]
    view = a.where(code=code.lower())  # any spelling
    assert view.filters == {"code": (code,)}
    assert len(view.table.attempts) == len(a.table.attempts)
    assert set(view.table.errors["code"].astype(str)) == {code}
    failed = view.table.attempts["failed"]
    assert failed.sum() == view.table.errors["attempt"].nunique() == view.summary[
        "failed_attempts"]
    assert view.summary["codes"] == 1 and code in set(view.incidents["top_code"])
    both = view.where(category=view.table.errors["category"].astype(str).iloc[0])
    assert len(both.table.errors) == len(view.table.errors)


def test_where_filters_add_up_and_time_narrows(small_analysis):
    a = small_analysis
    since, until = "2026-01-26", pd.Timestamp("2026-02-02", tz="UTC")
    week = a.where(since=since, until=until)
    assert week.since == pd.Timestamp(since, tz="UTC") and week.until == until
    assert week.table.attempts["time"].between(week.since, until, inclusive="left").all()
    assert week.counts["time"].min() == week.since and week.counts["time"].max() < until
    assert week.events["event_time"].between(week.since, until, inclusive="left").all()
    narrower = week.where(site=["paris", "lyon"]).where(site="lyon", kms_host="KMS01.CONTOSO.COM")
    assert narrower.filters == {"site": ("lyon",), "kms_host": ("KMS01.CONTOSO.COM",)}
    attempts = narrower.table.attempts
    assert set(attempts["site"].astype(str)) <= {"lyon"}
    assert set(attempts["kms_host"].astype(str).str.lower()) <= {"kms01.contoso.com"}
    assert narrower.summary["filters"] == {"site": ["lyon"], "kms_host": ["KMS01.CONTOSO.COM"]}
    empty = a.where(site="atlantis")
    assert empty.table.attempts.empty and empty.incidents.empty
    assert plot_frequency(empty).layout.annotations[0].name == "no_data"


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(category="weather"), ChoiceError, "category='weather'"),
        (dict(code="0xZZZ"), InvalidCodeError, "ZZZ"),
        (dict(site=3), ParameterError, "site=3: expected a name or a list"),
        (dict(since="2030-01-01"), DateError, "does not overlap"),
        (dict(until="not a date"), DateError, "until='not a date'"),
    ],
)
def test_where_refuses_what_cannot_work(small_analysis, kwargs, error, match):
    with pytest.raises(error, match=match):
        small_analysis.where(**kwargs)


def test_filter_table_keeps_categories_of_the_whole_table(small_analysis):
    table = small_analysis.table
    kept = filter_table(table, {"site": ("lyon",)})
    assert list(kept.attempts["site"].cat.categories) == list(table.attempts["site"].cat.categories)
    assert kept.attempts["site"].value_counts()["paris"] == 0


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(since="1601-01-01"), DateError, "outside the dates"),
        (dict(until="9999-12-31"), DateError, "outside the dates"),
        (dict(since="NaT"), DateError, "not a date"),
        (dict(since="99999D"), DurationError, "longer than"),
        (dict(freq="1ns"), FrequencyError, "at least one minute"),
        (dict(freq="1min", since="2000-01-01", until="2026-01-01"), FrequencyError, "buckets"),
        (dict(tz="Mars/Olympus"), TimeZoneError, "tz='Mars/Olympus'"),
        (dict(lang="de"), UnsupportedLanguageError, "lang='de'"),
        (dict(sensitivity=float("nan")), SensitivityError, "sensitivity=nan"),
        (dict(history="forever"), DurationError, "history='forever'"),
        (dict(spike_params=SpikeParams(), sensitivity=0.9), ParameterError, "not both"),
    ],
)
def test_bad_parameters_are_refused_before_reading(tmp_path, kwargs, error, match):
    missing = tmp_path / "not-read-yet.xml"  # would raise a TelemetryError if it were read
    started = time.perf_counter()
    with pytest.raises(error, match=match):
        analyze_fleet(missing, **kwargs)
    assert time.perf_counter() - started < 1


def test_unreadable_result_codes_are_counted_not_dropped(tmp_path):
    text = (TEST_DATA / "telemetry" / "synthetic_client.xml").read_text(encoding="utf-8")
    assert text.count("<Data>0xC004F074, 0x00000000") == 1
    damaged = tmp_path / "damaged.xml"
    damaged.write_text(text.replace("<Data>0xC004F074, 0x00000000",
                                    "<Data>0xC0G4F074, 0x00000000"), encoding="utf-8")
    loaded = load_events(damaged)
    assert loaded.n_rejected == 0  # the record is kept ...
    analysis = analyze_fleet(damaged)
    quality = analysis.quality
    assert quality["unreadable_codes"] == 1  # ... and counted
    (example,) = quality["unreadable_code_examples"]
    assert example["text"] == "0xC0G4F074" and example["event_id"] == 12288
    assert example["file"].endswith("damaged.xml") and example["record"] == 1
    clean = analyze_fleet(TEST_DATA / "telemetry" / "synthetic_client.xml")
    assert clean.quality["unreadable_codes"] == 0
    assert clean.summary["failed_attempts"] > analysis.summary["failed_attempts"]


def test_analysis_of_a_frame_without_raw_text_counts_nothing_unreadable(small_fleet):
    events = small_fleet.events.assign(result_code=small_fleet.events["result_code"])
    events.loc[events.index[:5], "result_code"] = pd.NA
    analysis = analyze_fleet(events.assign(raw=pd.NA), freq="D")
    assert analysis.quality["unreadable_codes"] == 0
    assert np.isfinite(analysis.summary["failure_rate"])
