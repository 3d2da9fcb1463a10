"""Records that write a result code the loader cannot read are found (so that they are counted)."""

from __future__ import annotations

import pandas as pd

from activation_kb.schema import coerce_events
from activation_kb.telemetry import UNREADABLE_COLUMNS, unreadable_codes

SEP = "\x1f"  # how insertion strings are joined in the raw column


def _events(rows):
    frame = pd.DataFrame(rows, columns=["event_kind", "result_code", "raw"])
    frame = frame.assign(event_time=pd.Timestamp("2026-03-02 08:00", tz="UTC"), host="pc1",
                         event_id=frame["event_kind"].map({
                             "kms_request": 12288, "kms_response": 12289,
                             "kms_host_request": 12290, "activation_failure": 8198,
                             "vl_failure": 8233, "dns_publish_fail": 12293,
                             "status_check": 1003}),
                         source_file="f.xml", source_record=range(1, len(frame) + 1))
    return coerce_events(frame)


def test_each_kind_is_read_where_it_writes_its_code():
    events = _events([
        ("kms_request", None, "0xZZ, 0x0, kms01:1688, , , 0, 1, 1, , 25"),  # Info line
        ("kms_request", None, f"12345678901{SEP}0x0"),                      # one item per field
        ("kms_request", None, ", 0x0, kms01:1688"),                        # no code written
        ("kms_request", 0xC004F074, "0xC004F074, 0x0"),                    # read: not listed
        ("kms_response", None, f"junk{SEP}0x0{SEP}1"),
        ("kms_host_request", None, "bad-hr, 25, PC1"),                      # rendered Info: 1-9
        ("kms_host_request", None, f"unused{SEP}0xC0G4F074{SEP}25{SEP}PC2"),   # Data items 0-9
        ("activation_failure", None, "hr=0xZZZZ; RuleId=x"),
        ("activation_failure", None, "RuleId=x; AppId=y"),                 # no hr= at all
        ("vl_failure", None, "Reason:bogus, AppId = x"),
        ("dns_publish_fail", None, "what"),
        ("status_check", None, "0xZZ"),                                    # carries no code
    ])
    found = unreadable_codes(events)
    assert list(found.columns) == list(UNREADABLE_COLUMNS)
    assert list(found["source_record"]) == [1, 2, 5, 6, 7, 8, 10, 11]
    assert list(found["text"]) == ["0xZZ", "12345678901", "junk", "bad-hr", "0xC0G4F074",
                                   "0xZZZZ", "bogus", "what"]
    assert set(found["source_file"]) == {"f.xml"}


def test_nothing_to_report():
    assert unreadable_codes(_events([("kms_request", 0, "0x0")])).empty
    assert unreadable_codes(_events([("kms_request", None, None)])).empty
    assert unreadable_codes(pd.DataFrame({"host": ["a"]})).empty  # not an events frame
