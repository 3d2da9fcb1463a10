"""From spikes to explained incidents (activation_kb.analysis.incidents)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activation_kb.analysis.attempts import activation_attempts
from activation_kb.analysis.frequency import error_frequency
from activation_kb.analysis.incidents import INCIDENT_COLUMNS, explain_spikes
from activation_kb.analysis.spikes import detect_spikes
from activation_kb.errors import AnalysisError, DurationError, NumberError, SchemaError
from activation_kb.simulate import simulate_fleet


@pytest.fixture(scope="module")
def dns_and_rogue():
    """A DNS outage at one site, and an undocumented code on a few machines elsewhere."""
    events, truth = simulate_fleet(600, 21, seed=4, background=False, incidents=[
        {"kind": "dns_srv_missing", "start": 8.3, "end": 9.0, "scope": "lyon"},
    ])
    table = activation_attempts(events)
    # five berlin machines fail with a code the article does not document (0x8007000D)
    berlin = sorted(set(table.attempts.loc[table.attempts["site"] == "berlin", "device"]))[:5]
    rows = []
    for i, name in enumerate(berlin):
        for hour in range(10):
            rows.append({"event_time": pd.Timestamp("2026-01-20 08:00", tz="UTC")
                         + pd.Timedelta(hours=2 * hour, minutes=i), "host": name,
                         "event_id": 8198, "event_kind": "activation_failure",
                         "result_code": 0x8007000D, "is_success": False, "site": "berlin",
                         "role": "client"})
    from activation_kb.schema import coerce_events

    events = pd.concat([events, coerce_events(pd.DataFrame(rows))], ignore_index=True)
    table = activation_attempts(events.sort_values("event_time", kind="stable"))
    spikes = detect_spikes(error_frequency(table, freq="h", by="code"))
    return table, spikes, truth


def test_codes_rising_together_are_one_incident(dns_and_rogue):
    table, spikes, truth = dns_and_rogue
    assert {"0x8007232B", "0xC004F074"} <= set(spikes["code"])
    incidents = explain_spikes(spikes, table)
    assert list(incidents.columns) == list(INCIDENT_COLUMNS)
    dns = incidents[incidents["codes"].map(lambda c: "0x8007232B" in c)]
    assert len(dns) == 1
    inc = dns.iloc[0]
    # the specific code leads; 0xC004F074 (no KMS could be contacted) is its symptom
    assert inc["codes"] == ["0x8007232B", "0xC004F074"] and inc["top_code"] == "0x8007232B"
    assert inc["category"] == "dns" and inc["categories"] == ["dns", "kms_unreachable"]
    assert inc["message"] == "DNS name does not exist." and "SRV" in inc["cause"]
    assert "slmgr.vbs /skms" in inc["resolution"] and inc["in_article"]
    assert inc["start"] <= truth["start"].iloc[0] + pd.Timedelta("2h")
    assert inc["spikes"] == 2 and inc["devices"] > 5 and inc["failures"] >= inc["devices"]
    top = inc["dimensions"][0]
    assert (top["dimension"], top["value"]) == ("site", "lyon") and top["share"] == 1.0
    assert top["fleet_share"] < 0.5 and inc["scope"].startswith("site=lyon (100% of failing")
    assert inc["first_seen"] >= inc["start"] and inc["last_seen"] < inc["end"]
    assert inc["detected"] >= inc["start"]


def test_uncatalogued_code_is_described_and_flagged(dns_and_rogue):
    table, spikes, _ = dns_and_rogue
    incidents = explain_spikes(spikes, table)
    rogue = incidents[incidents["top_code"] == "0x8007000D"].iloc[0]
    assert not rogue["in_article"] and rogue["uncatalogued_codes"] == ["0x8007000D"]
    assert rogue["category"] == "other"
    assert "Not documented in the article" in rogue["cause"]
    assert "ERROR_INVALID_DATA" in rogue["cause"]  # the Win32 name from describe_code
    assert rogue["devices"] == 5 and "site=berlin" in rogue["scope"]


def test_french_text(dns_and_rogue):
    table, spikes, _ = dns_and_rogue
    inc = explain_spikes(spikes, table, lang="fr")
    dns = inc[inc["top_code"] == "0x8007232B"].iloc[0]
    assert dns["message"] == "Le nom DNS n’existe pas."
    assert dns["category_label"] == "DNS et découverte du KMS"
    assert dns["scope"].startswith("site\u00a0: lyon (100\u202f% des appareils en échec")


def test_single_machine_spikes_are_left_out(dns_and_rogue):
    table, spikes, _ = dns_and_rogue
    strict = explain_spikes(spikes, table, min_devices=6)  # the rogue code hits 5 machines
    assert "0x8007000D" not in set(strict["top_code"])
    assert strict.attrs["single_machine_spikes"] == 1


def test_empty_and_bad_input(dns_and_rogue):
    table, spikes, _ = dns_and_rogue
    empty = explain_spikes(spikes.iloc[:0], table)
    assert empty.empty and list(empty.columns) == list(INCIDENT_COLUMNS)
    with pytest.raises(AnalysisError, match="detect_spikes"):
        explain_spikes(pd.DataFrame({"code": ["0x8007232B"]}), table)
    with pytest.raises(AnalysisError, match="dimension"):
        explain_spikes(spikes, table, dimensions=["colour"])
    from activation_kb.errors import UnsupportedLanguageError

    with pytest.raises(UnsupportedLanguageError):
        explain_spikes(spikes, table, lang="de")


def test_a_language_where_the_catalogue_goes_says_so(dns_and_rogue):
    """explain_spikes(spikes, table, "fr") used to fail with an AttributeError."""
    table, spikes, _ = dns_and_rogue
    with pytest.warns(DeprecationWarning, match="passing catalogue by position"):
        with pytest.raises(SchemaError, match="catalogue must be a catalogue DataFrame .* not the "
                                              "str 'fr'; to choose the language pass lang='fr'"):
            explain_spikes(spikes, table, "fr")
    with pytest.raises(SchemaError, match=r"catalogue lacks column\(s\) \['cause', 'message', "
                                          r"'resolution'\]"):
        explain_spikes(spikes, table, catalogue=pd.DataFrame({"code": ["0x8007232B"]}))
    with pytest.raises(SchemaError, match="not the list"):
        explain_spikes(spikes, table, catalogue=[1, 2])


def test_old_keywords_and_positions_still_work(dns_and_rogue):
    from activation_kb import load_catalogue

    table, spikes, _ = dns_and_rogue
    new = explain_spikes(spikes, table, catalogue=load_catalogue("fr"), lang="fr", top_n=2)
    with pytest.warns(DeprecationWarning) as caught:
        old = explain_spikes(spikes, table, load_catalogue("fr"), "fr", top=2)
    assert len(caught) == 2
    pd.testing.assert_frame_equal(old, new)
    assert all(len(d) <= 2 for d in new["dimensions"])
    from activation_kb import category_label

    assert new.loc[0, "category_label"] == category_label(new.loc[0, "category"], lang="fr")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(gap="soon"), DurationError, "gap='soon'"),
        (dict(overlap=1.5), NumberError, "overlap=1.5"),
        (dict(top_n=-1), NumberError, "top_n=-1"),
        (dict(min_devices=2.5), NumberError, "min_devices=2.5"),
    ],
)
def test_bad_settings_are_refused(dns_and_rogue, kwargs, error, match):
    table, spikes, _ = dns_and_rogue
    with pytest.raises(error, match=match):
        explain_spikes(spikes, table, **kwargs)


def test_a_profile_of_one_row_per_device_explains_as_the_attempts_do(dns_and_rogue):
    """The Dask engine passes each machine's usual values, categorical: the same incidents.

    A category no failing machine holds (here a site nobody is at) must not become a
    dimension row of zero devices.
    """
    from activation_kb.analysis.attempts import AttemptTable
    from activation_kb.analysis.incidents import _profile

    table, spikes, _ = dns_and_rogue
    dims = ["site", "kms_host", "edition", "sku_id", "role"]
    usual = _profile(table.attempts, dims).reset_index()
    for dim in dims:
        usual[dim] = pd.Categorical(usual[dim], categories=sorted(set(usual[dim]) | {"zz-empty"}))
    one_each = AttemptTable(attempts=usual, errors=table.errors)
    end = table.attempts["time"].max()
    expected = explain_spikes(spikes, table, data_end=end)
    got = explain_spikes(spikes, one_each, data_end=end)
    assert len(got) == len(expected) > 0
    assert got["dimensions"].tolist() == expected["dimensions"].tolist()
    assert got["scope"].tolist() == expected["scope"].tolist()
    assert all(row["devices"] > 0 and row["value"] != "zz-empty"
               for dims_ in got["dimensions"] for row in dims_)


def test_windows_found_by_mask_or_by_sorted_times_are_the_same(dns_and_rogue, monkeypatch):
    """Few spikes: a mask over the errors' times; many: the times sorted once, then searched."""
    import activation_kb.analysis.incidents as module

    table, spikes, _ = dns_and_rogue
    assert 0 < len(spikes) <= module._MASKED_SPIKES
    masked = explain_spikes(spikes, table)
    monkeypatch.setattr(module, "_MASKED_SPIKES", 0)
    sorted_ = explain_spikes(spikes, table)
    pd.testing.assert_frame_equal(masked, sorted_)
    by_time = module._ByTime(table.errors, len(spikes))
    assert by_time.order is not None  # the sorted path was the one taken


def _most_failing_by_groups(failing, limit):
    """The reference: distinct failed attempts per machine, most first, ties by name.

    Failures without a machine name are one machine, named "nan".
    """
    per = failing.groupby("device", observed=True, dropna=False)["attempt"].nunique()
    counts = per.reset_index(name="n")
    names = counts["device"].astype(object)
    counts["device"] = names.where(names.notna(), "nan").astype(str)
    counts = counts.sort_values(["n", "device"], ascending=[False, True])
    return counts["device"].head(limit).tolist()


@settings(max_examples=80, deadline=None)
@given(
    attempts=st.lists(st.tuples(st.sampled_from(["a", "b", "c", "ws-é", "Z", None]),
                                st.integers(1, 3)), max_size=40),
    limit=st.integers(1, 5),
    categorical=st.booleans(),
)
def test_most_failing_machines_are_counted_by_distinct_attempts(attempts, limit, categorical):
    from activation_kb.analysis.incidents import _most_failing

    # each attempt is one machine's, with one to three codes (a row each)
    rows = [(number, device) for number, (device, codes) in enumerate(attempts)
            for _ in range(codes)]
    failing = pd.DataFrame({"attempt": [r[0] for r in rows],
                            "device": pd.Series([r[1] for r in rows], dtype=object)})
    if categorical:
        failing["device"] = failing["device"].astype("category")
    assert _most_failing(failing, limit) == _most_failing_by_groups(failing, limit)
