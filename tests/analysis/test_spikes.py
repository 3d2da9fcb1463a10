"""Spike detection on constructed series and on the simulator's ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from activation_kb.analysis.spikes import detect_spikes, expected_counts, score_threshold
from activation_kb.errors import AnalysisError

# six weeks from a Monday
HOURS = pd.date_range("2026-01-05", periods=24 * 7 * 6, freq="h", tz="UTC")


def _series(values, **extra):
    return pd.DataFrame({"time": HOURS[: len(values)], "value": np.asarray(values, float), **extra})


def _weekly(rng, monday_peak=40.0, base=3.0):
    """Working-hours background with a Monday-morning peak every week (Poisson noise)."""
    hour, day = HOURS.hour.to_numpy(), HOURS.day_of_week.to_numpy()
    mean = np.where((day < 5) & (hour >= 8) & (hour < 18), base, 0.2)
    mean = np.where((day == 0) & (hour >= 8) & (hour < 11), monday_peak, mean)
    return rng.poisson(mean).astype(float)


def test_known_spike_found_with_its_window():
    values = np.zeros(len(HOURS))
    values[500:504] = 40  # four hours of 40 failures where none are expected
    spikes = detect_spikes(_series(values))
    assert len(spikes) == 1
    spike = spikes.iloc[0]
    assert spike["start"] == HOURS[500] and spike["end"] == HOURS[504]
    assert spike["observed"] == 160 and spike["expected"] < 1
    assert spike["detected"] == HOURS[501]  # raised at the end of its first hour
    assert spike["peak"] in set(HOURS[500:504]) and spike["buckets"] == 4
    assert spike["score"] >= score_threshold(0.5) and spike["severity"] in ("high", "critical")


def test_weekly_pattern_is_not_flagged_but_a_wednesday_rise_is(rng):
    values = _weekly(rng)
    assert detect_spikes(_series(values)).empty
    wednesday = np.flatnonzero((HOURS.day_of_week == 2) & (HOURS.hour == 10))[4]
    values[wednesday : wednesday + 3] += 40  # the Monday peak's size, on a Wednesday
    spikes = detect_spikes(_series(values))
    assert len(spikes) == 1
    assert spikes.iloc[0]["start"] <= HOURS[wednesday] < spikes.iloc[0]["end"]
    assert spikes.iloc[0]["end"] <= HOURS[wednesday + 4]


def test_zeros_and_constant_series_give_no_spike():
    assert detect_spikes(_series(np.zeros(len(HOURS)))).empty
    assert detect_spikes(_series(np.full(len(HOURS), 7.0))).empty
    out = expected_counts(_series(np.zeros(48)))
    assert (out["expected"] >= 0).all() and not out["in_spike"].any()


def test_low_counts_matter_by_fleet_size():
    values = np.zeros(len(HOURS))
    values[600] = 4  # four failures in one hour where none are expected
    assert len(detect_spikes(_series(values), fleet_size=500)) == 1
    assert detect_spikes(_series(values), fleet_size=50_000).empty  # min_excess 50
    values[600] = 300
    assert len(detect_spikes(_series(values), fleet_size=50_000)) == 1


def test_busy_monday_with_attempts_is_not_a_spike(rng):
    """Failures rising with the attempts (a holiday backlog) are expected given the exposure."""
    attempts = np.where(HOURS.hour.to_numpy() >= 8, 200.0, 20.0)
    busy = np.flatnonzero((HOURS.day_of_week == 1) & (HOURS.hour == 9))[4]
    attempts[busy : busy + 3] *= 4  # everybody back at once
    failures = rng.binomial(attempts.astype(int), 0.05).astype(float)
    counts = _series(failures, attempts=attempts + failures)
    assert detect_spikes(counts, value="value").empty
    assert len(detect_spikes(counts, value="value", exposure=None)) >= 1  # without exposure: a rise


def test_keys_and_sensitivity(rng):
    a, b = _weekly(rng), _weekly(rng)
    b[700:706] += 25
    counts = pd.concat([_series(a, code="0xA"), _series(b, code="0xB")], ignore_index=True)
    spikes = detect_spikes(counts)
    assert list(spikes["code"]) == ["0xB"]
    loose = detect_spikes(counts, sensitivity=1.0)
    strict = detect_spikes(counts, sensitivity=0.1)
    assert len(strict) <= len(spikes) <= len(loose)
    assert score_threshold(1.0) == 2 and score_threshold(0.5) == 6


@pytest.mark.parametrize(
    "counts, kwargs, match",
    [
        (pd.DataFrame({"when": HOURS[:3], "value": [1.0, 2, 3]}), {}, "time column"),
        (pd.DataFrame({"time": HOURS[:3], "value": [1.0, -2, 3]}), {}, "negative"),
        (pd.DataFrame({"time": HOURS[:3], "value": ["a", "b", "c"]}), {}, "numeric"),
        (pd.DataFrame({"time": [HOURS[0]] * 2, "value": [1.0, 2]}), {}, "several rows"),
        (pd.DataFrame({"time": HOURS[:3], "value": [1.0, 2, 3]}), {"sensitivity": 0},
         "sensitivity"),
        (pd.DataFrame({"time": HOURS[:3], "value": [1.0, 2, 3]}), {"history": "often"}, "duration"),
    ],
)
def test_bad_input(counts, kwargs, match):
    with pytest.raises(AnalysisError, match=match):
        detect_spikes(counts, **kwargs)


@pytest.fixture(scope="module")
def simulated():
    from activation_kb.analysis.attempts import activation_attempts
    from activation_kb.simulate import simulate_fleet

    events, truth = simulate_fleet(1000, 60, seed=0)
    return activation_attempts(events), truth


def test_simulated_incidents_are_found_and_nothing_else(simulated):
    from activation_kb.analysis.frequency import error_frequency
    from activation_kb.analysis.incidents import explain_spikes
    from activation_kb.simulate import score_detection

    table, truth = simulated
    spikes = detect_spikes(error_frequency(table, "h", "code"))
    score = score_detection(explain_spikes(spikes, table), truth)
    assert score.recall == 1.0 and score.precision == 1.0
    assert score.truth["top_code_ok"].all() and score.truth["category_ok"].all()
    # every spike is inside an injected incident's window (2 hours of slack for the retries)
    for spike in spikes.itertuples():
        inside = (truth["start"] - pd.Timedelta("2h") <= spike.start) & (
            spike.start < truth["end"] + pd.Timedelta("2h"))
        assert inside.any(), spike
