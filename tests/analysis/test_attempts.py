"""Grouping event records into activation attempts (activation_kb.analysis.attempts)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activation_kb.analysis.attempts import activation_attempts
from activation_kb.errors import AnalysisError
from activation_kb.schema import coerce_events

T0 = pd.Timestamp("2026-03-02 09:00", tz="UTC")


def _rec(seconds, host, event_id, kind, code=None, success=None, **extra):
    row = {
        "event_time": T0 + pd.Timedelta(seconds=seconds), "host": host, "event_id": event_id,
        "event_kind": kind, "result_code": code, "is_success": success,
        "role": "kms_host" if kind == "kms_host_request" else "client",
        "channel": "Key Management Service" if kind == "kms_host_request" else "Application",
    }
    row.update(extra)
    return row


def _events(rows):
    return coerce_events(pd.DataFrame(rows))


@pytest.fixture
def two_logs():
    """One failed attempt seen in the client's log and the KMS host's, then a success."""
    return _events([
        _rec(0, "PARIS-WS00001.contoso.com", 12288, "kms_request", 0xC004F06C, False,
             kms_host="kms01.contoso.com", min_count=25, site="paris",
             cmid="36f27b39-2fd5-440b-be67-a09996d27a38"),
        _rec(0.5, "kms01.contoso.com", 12290, "kms_host_request", 0xC004F06C, False,
             client_name="paris-ws00001", cmid="36f27b39-2fd5-440b-be67-a09996d27a38"),
        _rec(1, "PARIS-WS00001.contoso.com", 12289, "kms_response", 0xC004F06C, False),
        _rec(2, "PARIS-WS00001.contoso.com", 8198, "activation_failure", 0xC004F06C, False),
        _rec(3, "PARIS-WS00001.contoso.com", 8233, "vl_failure", 0xC004F06C, False),
        _rec(7200, "PARIS-WS00001.contoso.com", 12288, "kms_request", 0, True,
             kms_host="kms01.contoso.com", min_count=25, site="paris"),
        _rec(7201, "PARIS-WS00001.contoso.com", 12289, "kms_response", 0, True),
        _rec(8000, "PARIS-WS00001.contoso.com", 1003, "status_check"),  # not an attempt
    ])


def test_records_of_one_attempt_count_once_across_logs(two_logs):
    table = activation_attempts(two_logs)
    assert table.records == 7  # the status check is left out
    assert list(table.attempts["failed"]) == [True, False]
    assert set(table.attempts["device"]) == {"paris-ws00001"}  # FQDN and short name: one device
    assert len(table.errors) == 1
    error = table.errors.iloc[0]
    assert error["code"] == "0xC004F06C" and error["category"] == "clock"
    assert error["time"] == T0  # the first record of the attempt with that code
    assert error["kms_host"] == "kms01.contoso.com" and error["edition"] == "client"
    assert error["site"] == "paris" and error["role"] == "client"
    assert list(table.attempts["records"]) == [5, 2]  # 12288, 12290, 12289, 8198, 8233; then 2
    later = table.between(T0 + pd.Timedelta(hours=1), None)
    assert len(later.attempts) == 1 and later.errors.empty and later.records == 2
    assert len(table.between(None, T0 + pd.Timedelta(hours=1)).errors) == 1


def test_specific_and_umbrella_codes_are_two_errors_of_one_attempt():
    events = _events([
        _rec(0, "LYON-LT00002", 12288, "kms_request", 0x800706BA, False,
             kms_host="kms02.contoso.com", min_count=5),
        _rec(2, "LYON-LT00002", 8198, "activation_failure", 0xC004F074, False),
        _rec(3, "LYON-LT00002", 8233, "vl_failure", 0x800706BA, False),
    ])
    table = activation_attempts(events)
    assert len(table.attempts) == 1
    assert sorted(table.errors["code"]) == ["0x800706BA", "0xC004F074"]
    # the 8198 record names no KMS host: its error takes the one the 12288 of the attempt names
    assert set(table.errors["kms_host"]) == {"kms02.contoso.com"}
    assert set(table.errors["edition"]) == {"server"}


def test_host_log_only_counts_clients_by_name_or_cmid():
    events = _events([
        _rec(0, "kms01", 12290, "kms_host_request", 0, True, client_name="A.contoso.com"),
        _rec(60, "kms01", 12290, "kms_host_request", 0xC004F038, False, cmid="0000-1"),
        _rec(120, "kms01", 12290, "kms_host_request", 0xC004F038, False, cmid="0000-2"),
    ])
    table = activation_attempts(events)
    assert sorted(table.attempts["device"]) == ["0000-1", "0000-2", "a"]
    assert set(table.attempts["role"]) == {"kms_host"}  # seen only in a KMS host's log
    assert set(table.errors["kms_host"]) == {"kms01"}


def test_missing_columns_and_empty_input():
    with pytest.raises(AnalysisError, match="event_kind"):
        activation_attempts(pd.DataFrame({"event_time": [T0], "host": ["a"]}))
    table = activation_attempts(_events([_rec(0, "a", 1003, "status_check")]))
    assert table.attempts.empty and table.errors.empty and table.records == 0


@settings(max_examples=40, deadline=None)
@given(st.permutations(range(7)))
def test_order_of_records_does_not_matter(order):
    events = coerce_events(  # the same records, in any order
        pd.DataFrame([
            _rec(0, "A", 12288, "kms_request", 0x8007232B, False),
            _rec(2, "A", 8198, "activation_failure", 0xC004F074, False),
            _rec(3, "A", 8233, "vl_failure", 0x8007232B, False),
            _rec(7200, "A", 12288, "kms_request", 0x8007232B, False),
            _rec(7202, "A", 8198, "activation_failure", 0xC004F074, False),
            _rec(0, "B", 12288, "kms_request", 0, True),
            _rec(1, "B", 12289, "kms_response", 0, True),
        ]).iloc[list(order)]
    )
    table = activation_attempts(events)
    assert len(table.attempts) == 3
    assert table.attempts["failed"].sum() == 2
    assert sorted(table.errors["code"]) == ["0x8007232B"] * 2 + ["0xC004F074"] * 2


def test_simulated_fleet_attempts_match_the_model():
    from activation_kb.simulate import simulate_fleet

    events, _ = simulate_fleet(150, 10, seed=3, background=False, incidents=[
        {"kind": "kms_host_down", "start": 2, "end": 3, "scope": "kms01.contoso.com"}])
    table = activation_attempts(events)
    # every client 12288 starts one attempt (no attempt here lacks a request)
    requests = events[events["event_id"] == 12288]
    assert len(table.attempts) == len(requests)
    failed = requests["is_success"].eq(False).sum()
    assert table.attempts["failed"].sum() == failed
    # each failed attempt is one 0x800706BA (12288/8233) and one 0xC004F074 (8198)
    assert (table.errors["code"].value_counts() == failed).all()


@settings(max_examples=40, deadline=None)
@given(sites=st.lists(st.sampled_from(["lyon", "Berlin", "oslo", "", "zürich"]), min_size=2,
                      max_size=4),
       others=st.lists(st.sampled_from(["lyon", "Berlin", "oslo", "zürich"]), max_size=3),
       as_category=st.booleans())
def test_disagreeing_records_give_the_greatest_value_whatever_their_order(sites, others,
                                                                          as_category):
    # one attempt whose records name different sites, beside other machines' attempts that
    # make the sites' encoding order differ from one frame to the other
    def frame(first, order):
        rows = [_rec(first + i, f"ws{10 + i}", 12288, "kms_request", code=0, site=site)
                for i, site in enumerate(others)]
        rows += [_rec(10 + i, "ws01", 12288, "kms_request", code=0xC004F074, site=site)
                 for i, site in enumerate(order)]
        return _events(rows).sort_values("event_time", kind="stable", ignore_index=True)

    # the other machines' sites met after ws01's in one frame, before in the other, and ws01's
    # own records in the opposite order: the sites are encoded in different orders
    forward, backward = frame(100, sites), frame(-100, sites[::-1])
    if as_category:
        forward["site"] = forward["site"].astype("category")
    want = max((s for s in sites if s), default="")
    for frame in (forward, backward):
        attempts = activation_attempts(frame).attempts
        assert attempts.loc[attempts["device"] == "ws01", "site"].astype(str).tolist() == [want]
