"""Spike detection on constructed series, any bucket size, causality, and the simulator's truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activation_kb.analysis.spikes import (
    SPIKE_COLUMNS,
    detect_spikes,
    expected_counts,
    score_threshold,
)
from activation_kb.analysis.spikes._baseline import trailing
from activation_kb.analysis.spikes._fit import scale_sizes
from activation_kb.analysis.spikes._runs import runs
from activation_kb.errors import (
    AnalysisError,
    ChoiceError,
    DurationError,
    NumberError,
    SensitivityError,
)

# six weeks from a Monday
HOURS = pd.date_range("2026-01-05", periods=24 * 7 * 6, freq="h", tz="UTC")


def _series(values, times=HOURS, **extra):
    return pd.DataFrame({"time": times[: len(values)], "value": np.asarray(values, float),
                         **extra})


def _weekly(rng, monday_peak=40.0, base=3.0, times=HOURS):
    """Working-hours background with a Monday-morning peak every week (Poisson noise)."""
    hour, day = times.hour.to_numpy(), times.day_of_week.to_numpy()
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
    assert spike["direction"] == "up" and not spike["warming_up"]
    assert spike["baseline_days"] == pytest.approx(500 / 24, abs=0.05)
    assert list(spikes.columns) == list(SPIKE_COLUMNS)


def test_weekly_pattern_is_learnt_and_a_wednesday_rise_is_not(rng):
    """A causal baseline knows a Monday peak once it has seen it; a Wednesday rise stays news."""
    values = _weekly(rng)
    after_two_weeks = HOURS[0] + pd.Timedelta(days=14)
    spikes = detect_spikes(_series(values))
    assert (spikes["start"] < after_two_weeks).all()  # only while the peak was new
    wednesday = np.flatnonzero((HOURS.day_of_week == 2) & (HOURS.hour == 10))[4]
    values[wednesday : wednesday + 3] += 40  # the Monday peak's size, on a Wednesday
    spikes = detect_spikes(_series(values))
    late = spikes[spikes["start"] >= after_two_weeks]
    assert len(late) == 1
    assert late.iloc[0]["start"] <= HOURS[wednesday] < late.iloc[0]["end"]
    assert late.iloc[0]["end"] <= HOURS[wednesday + 4]


def test_zeros_and_constant_series_give_no_spike():
    assert detect_spikes(_series(np.zeros(len(HOURS)))).empty
    assert detect_spikes(_series(np.full(len(HOURS), 7.0))).empty
    out = expected_counts(_series(np.zeros(48)))
    assert np.isnan(out["expected"].iloc[0])  # nothing is known before the first bucket
    assert (out["expected"].iloc[1:] >= 0).all() and not out["in_spike"].any()


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
    without = detect_spikes(counts, value="value", exposure=None)  # without exposure: a rise
    assert ((without["start"] <= HOURS[busy + 2]) & (without["end"] > HOURS[busy])).any()


def test_keys_and_sensitivity(rng):
    a, b = _weekly(rng), _weekly(rng)
    b[700:706] += 25
    counts = pd.concat([_series(a, code="0xA"), _series(b, code="0xB")], ignore_index=True)
    spikes = detect_spikes(counts)
    late = spikes[spikes["start"] >= HOURS[0] + pd.Timedelta(days=14)]
    assert list(late["code"]) == ["0xB"] and late.iloc[0]["start"] <= HOURS[700]
    loose = detect_spikes(counts, sensitivity=1.0)
    strict = detect_spikes(counts, sensitivity=0.1)
    assert len(strict) <= len(spikes) <= len(loose)
    assert score_threshold(1.0) == 2 and score_threshold(0.5) == 6


THREE = pd.DataFrame({"time": HOURS[:3], "value": [1.0, 2, 3]})


@pytest.mark.parametrize(
    "counts, kwargs, error, match",
    [
        (pd.DataFrame({"when": HOURS[:3], "value": [1.0, 2, 3]}), {}, AnalysisError,
         "time column"),
        (pd.DataFrame({"time": HOURS[:3], "value": [1.0, -2, 3]}), {}, AnalysisError,
         "negative"),
        (pd.DataFrame({"time": HOURS[:3], "value": ["a", "b", "c"]}), {}, AnalysisError,
         "numeric"),
        (pd.DataFrame({"time": HOURS[:3], "value": [1.0, np.inf, 3]}), {}, AnalysisError,
         "infinite"),
        (pd.DataFrame({"time": [HOURS[0], pd.NaT], "value": [1.0, 2]}), {}, AnalysisError,
         "missing times"),
        (pd.DataFrame({"time": HOURS[[0, 2, 5]], "value": [1.0, 2, 3]}), {}, AnalysisError,
         "regular"),
        (THREE, {"sensitivity": 0}, SensitivityError, "sensitivity"),
        (THREE, {"sensitivity": True}, SensitivityError, "sensitivity"),
        (THREE, {"history": "often"}, DurationError, "history"),
        (THREE, {"gap": "-2h"}, DurationError, "gap"),
        (THREE, {"direction": "sideways"}, ChoiceError, "direction"),
        (THREE, {"min_excess": -1}, NumberError, "min_excess"),
    ],
)
def test_bad_input(counts, kwargs, error, match):
    with pytest.raises(error, match=match):
        detect_spikes(counts, **kwargs)
    with pytest.raises(error, match=match):
        expected_counts(counts, **kwargs)


# --- any regular step, missing buckets, repeated buckets ------------------------------------------


@pytest.mark.parametrize("step", ["1min", "5min", "15min", "30min", "40min", "1h", "2h", "6h",
                                  "1D"])
def test_any_step_finds_a_burst_and_nothing_else(step, rng):
    """Scales adapt to the step: a burst a tenth of the series in is found, quiet time is not."""
    td = pd.Timedelta(step)
    n = int(min(pd.Timedelta(days=35) / td, 20_000))
    times = pd.date_range("2026-01-05", periods=n, freq=step, tz="UTC")
    day = (times.hour.to_numpy() + times.minute.to_numpy() / 60.0) / 24.0
    base = (4.0 + 3.0 * np.sin(2 * np.pi * day)) * td / pd.Timedelta("1h")
    values = rng.poisson(base).astype(float)
    at = int(n * 0.7)
    width = max(1, int(pd.Timedelta("2h") / td))
    values[at : at + width] += 10 * base[at : at + width] + 20
    spikes = detect_spikes(_series(values, times))
    hit = (spikes["start"] <= times[at]) & (spikes["end"] > times[at])
    assert hit.sum() == 1, spikes
    assert len(spikes) - hit.sum() <= 1  # at most one chance rise elsewhere
    assert 1 in scale_sizes(td, n)


def test_missing_buckets_are_missing_and_keep_the_seasonality(rng):
    """Dropped rows (a collector outage) do not shift the hour-of-day profile or count as 0."""
    hour = HOURS.hour.to_numpy()
    values = rng.poisson(np.where((hour >= 8) & (hour < 18), 30.0, 1.0)).astype(float)
    counts = _series(values)
    gappy = counts.drop(index=range(300, 307)).reset_index(drop=True)  # 7 hours lost
    assert detect_spikes(gappy).empty
    out = expected_counts(gappy)
    assert len(out) == len(HOURS) and out["value"].isna().sum() == 7
    assert not out["in_spike"].any()
    # the hour of the day still drives the expectation after the gap
    after = out[(out["time"] >= HOURS[320]) & (out["time"] < HOURS[344])]
    day = after[after["time"].dt.hour.between(8, 17)]["expected"]
    night = after[~after["time"].dt.hour.between(8, 17)]["expected"]
    assert day.min() > 5 * night.max()
    # zeros stand for nothing failing: a silent stretch is a fall, a missing one is not
    silent = counts.copy()
    silent.loc[344:353, "value"] = 0.0  # from 08:00 to 18:00 on the fifteenth day
    assert len(detect_spikes(silent, direction="down")) == 1
    assert detect_spikes(silent.drop(index=range(344, 354)), direction="down").empty


def test_repeated_buckets_are_summed():
    values = np.zeros(len(HOURS))
    values[500] = 40
    counts = _series(values)
    split = pd.concat([counts, counts.iloc[[500]].assign(value=10.0)], ignore_index=True)
    spikes = detect_spikes(split)
    assert spikes.attrs["summed_rows"] == 1
    assert spikes.iloc[0]["observed"] == 50


def test_local_time_across_daylight_saving_changes(rng):
    """Hourly local buckets: the repeated autumn hour is summed, the lost spring hour missing."""
    utc = pd.date_range("2026-03-01", "2026-11-15", freq="h", tz="UTC")
    local = utc.tz_convert("Europe/Paris")
    values = rng.poisson(np.where((local.hour >= 8) & (local.hour < 18), 20.0, 2.0))
    naive = pd.DataFrame({"time": local.tz_localize(None), "value": values.astype(float)})
    aware = pd.DataFrame({"time": local, "value": values.astype(float)})
    for counts in (naive, aware):
        spikes = detect_spikes(counts)
        assert spikes.attrs["summed_rows"] == 1  # 02:00 twice on 25 October
        assert spikes.empty
    out = expected_counts(aware)
    assert out["value"].isna().sum() == 1  # 02:00 never happened on 29 March


# --- direction ----------------------------------------------------------------------------------


def test_direction_down_finds_a_host_that_went_silent(rng):
    hour = HOURS.hour.to_numpy()
    values = rng.poisson(np.where((hour >= 8) & (hour < 18), 25.0, 2.0)).astype(float)
    silent = np.flatnonzero((HOURS.day_of_week == 3) & (HOURS.hour == 9))[3]
    values[silent : silent + 6] = 0  # the KMS host stops answering for six working hours
    values[silent + 100] += 80
    counts = _series(values)
    down = detect_spikes(counts, direction="down")
    assert len(down) == 1 and down.iloc[0]["direction"] == "down"
    assert down.iloc[0]["start"] == HOURS[silent]
    assert HOURS[silent + 6] <= down.iloc[0]["end"] <= HOURS[silent + 8]  # maybe a slow return
    assert down.iloc[0]["excess"] < -100 and down.iloc[0]["peak_observed"] == 0
    up = detect_spikes(counts)
    assert set(up["direction"]) == {"up"} and (up["start"] == HOURS[silent + 100]).any()
    both = detect_spikes(counts, direction="both")
    assert set(both["direction"]) == {"up", "down"} and len(both) == len(up) + len(down)


# --- causality and sensitivity (properties) -------------------------------------------------------


@st.composite
def _scenarios(draw):
    """An hourly or 5-minute series with a daily cycle, a few bursts and maybe a silence."""
    step = draw(st.sampled_from(["1h", "1h", "5min"]))
    per_day = int(pd.Timedelta("1D") / pd.Timedelta(step))
    days = draw(st.integers(6, 16))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    times = pd.date_range("2026-01-05", periods=days * per_day, freq=step, tz="UTC")
    level = draw(st.sampled_from([0.05, 0.5, 4.0, 40.0]))
    day = (times.hour.to_numpy() >= 8) & (times.hour.to_numpy() < 18)
    values = rng.poisson(np.where(day, level, level / 5)).astype(float)
    for _ in range(draw(st.integers(0, 4))):
        at = int(rng.integers(0, len(values)))
        values[at : at + int(rng.integers(1, per_day // 4))] += draw(
            st.sampled_from([3.0, 10.0, 4 * level + 5]))
    if draw(st.booleans()):
        at = int(rng.integers(0, len(values)))
        values[at : at + per_day // 4] = 0
    cut = draw(st.integers(per_day * 2, len(values) - 1))
    return _series(values, times), cut, per_day


def _same(a: pd.Series, b: pd.Series) -> bool:
    fields = ["start", "end", "detected", "direction", "observed", "expected", "buckets", "score"]
    return all(a[f] == b[f] or (isinstance(a[f], float) and np.isclose(a[f], b[f]))
               for f in fields)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_scenarios())
def test_causal_later_data_changes_nothing_before(scenario):
    """Judging on data up to T or up to T + 7 days gives the same past (a spike open at T may
    only grow), and the expectation of every bucket before T is the same."""
    counts, cut, per_day = scenario
    longer = counts.iloc[: cut + 7 * per_day]
    short = counts.iloc[:cut]
    t_end = short["time"].iloc[-1] + (counts["time"].iloc[1] - counts["time"].iloc[0])
    e_short = expected_counts(short, direction="both")
    e_long = expected_counts(longer, direction="both").iloc[: len(e_short)]
    np.testing.assert_allclose(e_short["expected"], e_long["expected"], rtol=1e-9)
    np.testing.assert_allclose(e_short["score"], e_long["score"], rtol=1e-9, atol=1e-9)
    s_short = detect_spikes(short, 1.0, direction="both")
    s_long = detect_spikes(longer, 1.0, direction="both")
    # closed at T: no window ending after T can join it. Such windows (at most a day, or 7
    # steps, long) flag buckets from T - window on; a run joins what starts within gap + 1
    # bucket after its reach (spikes/_runs.runs), and a bucket reaches to the end of the
    # window that flagged it: up to a window past the spike's end.
    step = counts["time"].iloc[1] - counts["time"].iloc[0]
    window = max(pd.Timedelta("1D"), 7 * step)
    open_after = t_end - max(pd.Timedelta("12h"), step) - step - 2 * window
    for _, spike in s_short.iterrows():
        same_way = s_long[s_long["direction"] == spike["direction"]]
        holder = same_way[(same_way["start"] <= spike["start"]) & (same_way["end"] >= spike["end"])]
        assert len(holder) == 1, (spike, s_long)  # grown, maybe, never lost or split
        assert holder.iloc[0]["detected"] <= spike["detected"]
        if spike["end"] <= open_after:  # closed at T: exactly the same
            assert _same(spike, holder.iloc[0]), (spike, holder.iloc[0])
    for _, spike in s_long[s_long["detected"] <= t_end].iterrows():
        same_way = s_short[s_short["direction"] == spike["direction"]]
        inside = same_way[(same_way["start"] >= spike["start"]) & (same_way["end"] <= spike["end"])]
        assert len(inside) >= 1 and inside["detected"].min() == spike["detected"], spike


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_scenarios(), st.floats(0.05, 1.0), st.floats(0.05, 1.0))
def test_higher_sensitivity_finds_a_superset(scenario, s1, s2):
    counts = scenario[0]
    low, high = sorted((s1, s2))
    fewer = detect_spikes(counts, low, direction="both")
    more = detect_spikes(counts, high, direction="both")
    assert len(fewer) <= len(more) or True  # merged spikes may be fewer; containment is the rule
    for _, spike in fewer.iterrows():
        same_way = more[more["direction"] == spike["direction"]]
        holder = (same_way["start"] <= spike["start"]) & (same_way["end"] >= spike["end"])
        assert holder.sum() == 1, (spike, more)


def test_sensitivity_spans_obvious_to_worth_a_look(rng):
    """The lowest sensitivity keeps only large rises; the highest also finds modest ones."""
    values = rng.poisson(5.0, len(HOURS)).astype(float)
    values[300:303] += [40, 40, 40]  # obvious
    values[600:606] += 4  # modest: about +2 standard deviations an hour, for six hours
    counts = _series(values)
    strict = detect_spikes(counts, 0.05)
    loose = detect_spikes(counts, 1.0)
    assert len(strict) == 1 and strict.iloc[0]["start"] <= HOURS[300] < strict.iloc[0]["end"]
    assert ((loose["start"] <= HOURS[603]) & (loose["end"] > HOURS[600])).any()


def test_scores_still_order_the_largest_spikes():
    values = np.zeros(len(HOURS))
    values[300], values[700] = 1000, 3000  # both far beyond one chance in 10**300
    spikes = detect_spikes(_series(values))
    assert len(spikes) == 2
    by_start = spikes.sort_values("start")
    assert by_start.iloc[1]["score"] > by_start.iloc[0]["score"] > 300


def test_warming_up_is_said():
    values = np.zeros(len(HOURS))
    values[64:66] = 30  # on the third day, with two days of history
    spikes = detect_spikes(_series(values))
    assert len(spikes) == 1 and spikes.iloc[0]["warming_up"]
    assert 2 < spikes.iloc[0]["baseline_days"] < 3
    values[64:66] = 0
    values[40] = 30  # within two days nothing is judged: the daily cycle was not seen twice
    assert detect_spikes(_series(values)).empty


# --- helpers ------------------------------------------------------------------------------------


@given(st.integers(1, 30), st.integers(1, 40), st.integers(1, 120))
def test_trailing_sums_match_a_loop(lag, count, length):
    x = np.arange(2 * length, dtype=float).reshape(2, length) % 7
    naive = np.zeros_like(x)
    for m in range(1, count + 1):
        if m * lag < length:
            naive[:, m * lag :] += x[:, : length - m * lag]
    np.testing.assert_allclose(trailing(x, lag, count), naive)


def test_runs_join_buckets_of_one_window_and_close_gaps():
    flags = np.zeros(40, bool)
    flags[[2, 3, 10, 30]] = True
    reach = np.full(40, -np.inf)
    reach[[2, 3, 10, 30]] = [3, 7, 10, 30]
    assert runs(flags, reach, gap=1) == [(2, 4), (10, 11), (30, 31)]  # 7 to 10: two buckets
    reach[3] = 8  # one bucket between: closer than the gap
    assert runs(flags, reach, gap=1) == [(2, 11), (30, 31)]
    assert runs(flags, reach, gap=20) == [(2, 31)]


# --- the simulator's ground truth ---------------------------------------------------------------


@pytest.fixture(scope="module")
def simulated():
    from activation_kb.analysis.attempts import activation_attempts
    from activation_kb.simulate import simulate_fleet

    events, truth = simulate_fleet(1000, 60, seed=0)
    return activation_attempts(events), truth


def test_simulated_incidents_are_found_and_nothing_else(simulated):
    """As the report reads it: a week of history before the period, spikes ending in it."""
    from activation_kb.analysis.frequency import error_frequency
    from activation_kb.analysis.incidents import explain_spikes
    from activation_kb.simulate import score_detection

    table, truth = simulated
    spikes = detect_spikes(error_frequency(table, "h", "code"))
    since = table.attempts["time"].min() + pd.Timedelta(days=7)
    spikes = spikes[spikes["end"] > since]
    score = score_detection(explain_spikes(spikes, table), truth)
    assert score.recall == 1.0 and score.precision == 1.0
    assert score.truth["top_code_ok"].all() and score.truth["category_ok"].all()
    # every spike is inside an injected incident's window (2 hours of slack for the retries)
    for spike in spikes.itertuples():
        inside = (truth["start"] - pd.Timedelta("2h") <= spike.start) & (
            spike.start < truth["end"] + pd.Timedelta("2h"))
        assert inside.any(), spike
