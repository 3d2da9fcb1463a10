"""The report's analysis chain (activation_kb.analysis.fleet) without a kernel."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from activation_kb.analysis.fleet import analyze_fleet, relative_span, write_outputs
from activation_kb.errors import DateError, DurationError
from activation_kb.report.runner import default_events
from activation_kb.simulate import score_detection


@pytest.fixture(scope="module")
def sample():
    return pd.read_parquet(default_events())


def test_whole_sample(sample):
    analysis = analyze_fleet(sample)
    s = analysis.summary
    assert s["events"] == len(sample) and s["records"] == len(sample)
    assert s["attempts"] == len(analysis.table.attempts) > s["failed_attempts"] > 0
    assert s["failure_rate"] == round(s["failed_attempts"] / s["attempts"], 4)
    assert s["sites"] == ["berlin", "branch-oslo", "lyon", "madrid", "paris"]
    assert s["incidents"] == len(analysis.incidents)
    # against the sample's ground truth: each injected incident found, with its code on top
    truth = pd.DataFrame(json.loads(default_events().with_name("incidents.json").read_text()))
    truth[["start", "end"]] = truth[["start", "end"]].apply(pd.to_datetime, utc=True)
    score = score_detection(analysis.incidents, truth)
    assert score.recall == 1.0 and score.truth["top_code_ok"].all()
    # and what else is reported is small: background blips (bench_detection.py measures the
    # rate, precision 0.95, over many fleets), never a critical or high incident
    extra = score.found[~score.found["matched"]]
    assert len(extra) <= 1 and set(extra["severity"]) <= {"low", "medium"}
    assert analysis.quality["rejected"] == 0 and analysis.quality["buckets"] > 1000
    assert set(analysis.spikes.columns) >= {"code", "site", "start", "end"}  # both key sets


def test_a_short_period_is_compared_with_the_weeks_before(sample):
    """The count-low incident fills half of this week: the weeks before say it is one; with a
    day of history the baseline has not seen a week and says so (warming_up)."""
    week = analyze_fleet(sample, since="2026-01-25", until="2026-02-02")
    assert list(week.incidents["top_code"]) == ["0xC004F038"]
    assert not week.spikes["warming_up"].any()
    assert week.counts["time"].min() == pd.Timestamp("2026-01-25", tz="UTC")
    assert week.summary["period_start"] == "2026-01-25T00:00:00+00:00"
    blind = analyze_fleet(sample, since="2026-01-25", until="2026-02-02", history="1D")
    assert blind.spikes["warming_up"].all() and (blind.spikes["baseline_days"] <= 1).all()


def test_since_as_a_duration(sample):
    last = sample["event_time"].max()
    analysis = analyze_fleet(sample, since="7D")
    assert pd.Timestamp(analysis.summary["period_start"]) == last - pd.Timedelta("7D")
    assert analysis.events["event_time"].min() >= last - pd.Timedelta("7D")
    assert analysis.since == last - pd.Timedelta("7D") and analysis.until is None
    assert relative_span("36h") == pd.Timedelta(hours=36) and relative_span("2026-01-01") is None
    with pytest.raises(DurationError, match="since='0D': expected a positive duration"):
        analyze_fleet(sample, since="0D")
    with pytest.raises(DateError, match="after"):
        analyze_fleet(sample, since="2026-02-01", until="2026-01-01")


def test_write_outputs(sample, tmp_path):
    analysis = analyze_fleet(sample, lang="fr")
    paths = write_outputs(analysis, tmp_path)
    incidents = json.loads(paths["incidents.json"].read_text())
    assert len(incidents) == len(analysis.incidents) >= 7
    assert incidents[0]["incident_id"].startswith("INC-2026")
    assert isinstance(incidents[0]["dimensions"], list) and incidents[0]["start"].endswith("+00:00")
    csv = pd.read_csv(paths["incidents.csv"])
    # lists and dicts are JSON text in the CSV, never Python reprs
    for column in ("codes", "categories", "affected_devices", "dimensions", "codes_detail"):
        assert csv[column].map(json.loads).tolist() == [i[column] for i in incidents], column
    assert csv["codes"].map(json.loads).map(lambda c: c[0].startswith("0x")).all()
    assert list(csv["incident_id"]) == [i["incident_id"] for i in incidents]
    summary = json.loads(paths["run_summary.json"].read_text())
    assert summary["parameters"]["lang"] == "fr"
    assert summary["summary"]["incidents"] == len(incidents)
    assert summary["quality"]["unreadable_codes"] == 0
