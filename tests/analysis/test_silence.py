"""Sites and KMS hosts that went silent: activity counts, falls, "went silent" incidents."""

from __future__ import annotations

import pandas as pd
import pytest

from activation_kb import schema
from activation_kb.analysis.attempts import activation_attempts
from activation_kb.analysis.fleet import analyze_fleet
from activation_kb.analysis.silence import activity_counts, detect_silences, silence_incidents
from activation_kb.simulate import IncidentSpec, simulate_fleet


@pytest.fixture(scope="module")
def quiet_fleet():
    return simulate_fleet(1500, 35, seed=4, incidents="none").events


def _cut(events: pd.DataFrame, site: str, start: str, hours: int) -> pd.DataFrame:
    """The events without any record of ``site`` for ``hours`` from ``start`` (UTC)."""
    t0 = pd.Timestamp(start, tz="UTC")
    gone = ((events[schema.SITE].astype(str) == site)
            & (events[schema.EVENT_TIME] >= t0)
            & (events[schema.EVENT_TIME] < t0 + pd.Timedelta(hours=hours)))
    return events[~gone.to_numpy(bool)].reset_index(drop=True)


def test_activity_counts_match_a_plain_count(quiet_fleet):
    table = activation_attempts(quiet_fleet)
    ok = table.attempts[~table.attempts["failed"]]
    counts = activity_counts(table, quiet_fleet, freq="D", by="site", measure="successes")
    expected = ok.assign(day=ok["time"].dt.floor("D")).groupby(["day", "site"]).size()
    got = counts.set_index(["time", "site"])["value"]
    assert got[got > 0].sort_index().astype(int).to_dict() == expected.sort_index().to_dict()
    assert (counts.groupby("site").size() == counts["time"].nunique()).all()  # every bucket
    hosts = activity_counts(table, quiet_fleet, freq="D", by="kms_host", measure="records")
    own = quiet_fleet[quiet_fleet[schema.ROLE] == "kms_host"]
    assert hosts["value"].sum() == len(own)
    assert set(hosts["kms_host"]) == set(own[schema.HOST].str.lower())


def test_a_site_that_stops_logging_went_silent(quiet_fleet):
    """Nine working hours without a record from lyon: no failure says so, a silence does."""
    events = _cut(quiet_fleet, "lyon", "2026-02-04 08:00", 9)  # a Wednesday, day 30
    analysis = analyze_fleet(events, since="2026-02-01")
    silent = analysis.incidents[analysis.incidents["kind"] == "went_silent"]
    assert len(silent) == 1, analysis.incidents[["kind", "title", "start"]]
    incident = silent.iloc[0]
    # kms02 stands in lyon (host j stands in site j): its own records (12290) were cut too
    assert incident["title"] in ("Site lyon went silent",
                                 "KMS host kms02.contoso.com went silent (sites lyon)")
    assert incident["start"] <= pd.Timestamp("2026-02-04 09:00", tz="UTC") < incident["end"]
    assert incident["detected"] <= pd.Timestamp("2026-02-04 12:00", tz="UTC")
    assert "site=lyon" in incident["scope"] and incident["codes"] == []
    assert set(analysis.silences["measure"]) >= {"records"}
    assert (analysis.incidents["kind"] == "failures").sum() == 0
    french = analyze_fleet(events, since="2026-02-01", lang="fr")
    assert set(french.incidents["title"]) & {
        "Le site lyon est devenu silencieux",
        "L'hôte KMS kms02.contoso.com est devenu silencieux (sites lyon)"}


def test_a_week_later_the_delayed_renewals_are_not_a_new_silence():
    """A KMS host down for a working day: the machines it failed renew a week after they got
    through, so the same hours a week later are short of them. That echo is no new silence."""
    down = IncidentSpec("kms_host_down", 23 + 7 / 24, 23 + 18 / 24, "kms01.contoso.com")
    events = simulate_fleet(1500, 35, seed=4, incidents=[down]).events
    silences = detect_silences(activation_attempts(events), events, sensitivity=0.5,
                               history="28D")
    host = silences[silences["kms_host"] == "kms01.contoso.com"]
    outage, echo = pd.Timestamp("2026-01-28 07:00", tz="UTC"), pd.Timestamp("2026-02-04", tz="UTC")
    assert (host["start"] == outage).any() and (host["start"] >= echo).any()  # both fell
    incidents = silence_incidents(silences[silences["start"] >= outage - pd.Timedelta("7D")])
    assert list(incidents["start"]) == [outage]  # the outage itself, without failures to tell
    # kms01 serves paris and berlin (site i is served by host i % 2)
    assert incidents.iloc[0]["title"] == (
        "KMS host kms01.contoso.com went silent (sites berlin, paris)")


def test_no_silence_in_a_quiet_fleet(quiet_fleet):
    """No site or KMS host of a quiet fleet went silent (false failure incidents are measured
    over many quiet fleet-days by benchmarks/bench_detection.py)."""
    analysis = analyze_fleet(quiet_fleet, since="2026-01-19")
    silent = analysis.incidents[analysis.incidents["kind"] == "went_silent"]
    assert silent.empty, silent[["kind", "title", "start"]]


def test_a_fall_in_the_first_week_is_not_a_silence_yet(quiet_fleet):
    """With less than a week of past the weekly shape of activity is unknown: a fall is
    detected (warming_up) but not reported; the same cut a week later is."""
    early = _cut(quiet_fleet, "lyon", "2026-01-08 08:00", 9)  # a Thursday, day 3
    falls = detect_silences(activation_attempts(early), early, sensitivity=0.5, history="28D")
    lyon = falls[(falls["site"] == "lyon") & (falls["start"] >= pd.Timestamp(
        "2026-01-08 08:00", tz="UTC")) & (falls["start"] < pd.Timestamp("2026-01-08 17:00",
                                                                         tz="UTC"))]
    assert len(lyon) and lyon["warming_up"].all()
    assert silence_incidents(lyon).empty
    later = _cut(quiet_fleet, "lyon", "2026-01-15 08:00", 9)  # a Thursday, day 10
    falls = detect_silences(activation_attempts(later), later, sensitivity=0.5, history="28D")
    lyon = falls[(falls["site"] == "lyon") & (falls["start"] >= pd.Timestamp(
        "2026-01-15 08:00", tz="UTC"))]
    assert len(lyon) and not lyon["warming_up"].any()
    assert len(silence_incidents(lyon)) == 1


def test_the_renewals_a_failure_incident_delayed_are_no_silence_a_week_later():
    """The sample's paris lost its DNS record from a Sunday to Monday noon (0x8007232B, a
    failures incident): its machines renewed late, so the next Monday morning is short of
    renewals. Knowing that incident, the fall is its echo, not a new silence."""
    from activation_kb.report.runner import default_events

    analysis = analyze_fleet(default_events())
    failures = analysis.incidents[analysis.incidents["kind"] == "failures"]
    dns = failures[(failures["top_code"] == "0x8007232B")]
    assert len(dns) == 1
    start, end = dns["start"].iloc[0], dns["end"].iloc[0]
    a_week_on = analysis.silences[(analysis.silences["site"] == "paris")
                                  & (analysis.silences["start"] >= end + pd.Timedelta("6D"))
                                  & (analysis.silences["start"] < end + pd.Timedelta("8D"))]
    assert len(a_week_on)  # the fall is there
    known = silence_incidents(analysis.silences, failures=failures)
    blind = silence_incidents(analysis.silences, failures=failures.drop(dns.index))
    window = (start + pd.Timedelta("6D"), end + pd.Timedelta("8D"))

    def within(incidents):
        return incidents[(incidents["start"] >= window[0]) & (incidents["start"] < window[1])]

    assert within(known).empty and len(within(blind)) == 1
