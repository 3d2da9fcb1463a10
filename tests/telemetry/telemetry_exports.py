"""Build event exports of every text format with known records and known damage.

The tests count what a file holds from how it was built, never from the loader: ``n`` records
written, ``junk`` pieces of text put between records (each one a record for the loaders to
reject), and which records were damaged (undecodable bytes in the computer name, or a time out
of range). So ``records == loaded + rejected + duplicates`` is checked against a count made
independently of the parser (the completeness check), and every intact record must load.

Also :func:`run_bounded`: run Python code in a child process with a hard time limit, so a test
of something that could hang fails instead of hanging.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

NS = "http://schemas.microsoft.com/win/2004/08/events/event"
CMID = "36f27b39-2fd5-440b-be67-a09996d27a38"
SKU = "68531fb9-5511-4989-97be-d11a0f55633f"
START = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
#: Stands for the damaged bytes in a computer name until the text is encoded.
SENTINEL = "QQBADQQ"
INFO = (f"0xC004F074, 0x00000000, kms01.contoso.com:1688, {CMID}, 2024/03/01 09:00, 0, 2, "
        f"41760, {SKU}, 25")
MESSAGE = ("The client has sent an activation request to the key management service "
           "machine.\r\nInfo:\r\n" + INFO)

#: Bytes that cannot be decoded, per encoding (a lone UTF-16 surrogate for UTF-16).
BAD_BYTES = {
    "utf-8": b"\xff", "utf-8-sig": b"\xc3\x28", "utf-16-le": b"\x00\xd8",
    "utf-16-be": b"\xdc\x00", "shift_jis": b"\x81\x20", "windows-1252": b"\x81",
}
#: Times that no events frame can hold, as each format writes them.
OUT_OF_RANGE = {
    "iso": ["1601-01-01T00:00:00.0000000Z", "9999-12-31T23:59:59.999999Z",
            "1601-01-01T00:00:00.000000Z", "0001-01-01T00:00:00Z"],
    "us": ["1/1/1601 12:00:00 AM", "12/31/9999 11:59:59 PM"],
    "la": ["1601-01-01T00:00:00Z", "9999-12-31T23:59:59.9999999Z"],
}
#: Text formats, the encodings each is written in, and its time style.
FORMATS = {
    "wevtutil_xml": (("utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "shift_jis",
                      "windows-1252"), "iso"),
    "winevent_csv": (("utf-8", "utf-8-sig", "utf-16-le", "utf-16-be"), "us"),
    "eventviewer_csv": (("utf-8-sig", "utf-16-le"), "us"),
    "la_event": (("utf-8", "utf-8-sig"), "la"),
    "la_windowsevent": (("utf-8", "utf-16-le"), "la"),
    "evtx_json": (("utf-8", "utf-16-le"), "iso"),
    "canonical_csv": (("utf-8",), "canonical"),
}
OUT_OF_RANGE["canonical"] = ["1601-01-01 00:00:00.000000000Z", "9999-12-31 23:59:59Z"]


@dataclass
class Export:
    """An export's bytes and what it holds, counted as it was built."""

    data: bytes
    fmt: str
    n: int
    junk: int = 0
    damaged: set[int] = field(default_factory=set)
    times: list[datetime] = field(default_factory=list)

    @property
    def records(self) -> int:
        """Records present: those written plus each piece of text between them."""
        return self.n + self.junk

    def intact_times(self) -> list[datetime]:
        """Event times of the records written undamaged (each record's time is unique)."""
        return [t for i, t in enumerate(self.times) if i not in self.damaged]


def _time(t: datetime, style: str) -> str:
    if style == "iso":
        return t.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
    if style == "us":
        return f"{t.month}/{t.day}/{t.year} {t.strftime('%I:%M:%S %p').lstrip('0')}"
    if style == "la":
        return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return t.strftime("%Y-%m-%d %H:%M:%S.000000000Z")


def _xml(i: int, host: str, when: str) -> str:
    return (f'<Event xmlns="{NS}"><System><Provider Name="Microsoft-Windows-Security-SPP"/>'
            f"<EventID>12288</EventID><Level>4</Level><TimeCreated SystemTime='{when}'/>"
            f"<EventRecordID>{i + 1}</EventRecordID><Channel>Application</Channel>"
            f"<Computer>{host}</Computer></System><EventData><Data>{INFO}</Data></EventData>"
            "</Event>")


def _rows(fmt: str, i: int, host: str, when: str) -> list[str]:
    if fmt == "winevent_csv":
        return [MESSAGE, "12288", "0", "16384", "4", str(i + 1), "Microsoft-Windows-Security-SPP",
                "Application", host, when]
    if fmt == "eventviewer_csv":  # no computer name: the damage goes in the source
        return ["Information", when, "Security-SPP" + host.removeprefix(f"pc{i}"), "12288",
                "None", MESSAGE]
    if fmt == "la_event":
        return [when, "Microsoft-Windows-Security-SPP", "Application", host, "4", "Information",
                f"<Param>{INFO}</Param>", "12288", MESSAGE]
    raise ValueError(fmt)


_HEADERS = {
    "winevent_csv": ["Message", "Id", "Version", "Qualifiers", "Level", "RecordId",
                     "ProviderName", "LogName", "MachineName", "TimeCreated"],
    "eventviewer_csv": ["Level", "Date and Time", "Source", "Event ID", "Task Category"],
    "la_event": ["TimeGenerated [UTC]", "Source", "EventLog", "Computer", "EventLevel",
                 "EventLevelName", "ParameterXml", "EventID", "RenderedDescription"],
}


def _canonical(hosts: list[str], whens: list[str]) -> list[str]:
    from activation_kb.schema import EVENT_COLUMNS

    header = ",".join(f'"{c}"' for c in EVENT_COLUMNS)
    lines = []
    for i, (host, when) in enumerate(zip(hosts, whens)):
        values = {"event_time": when, "host": f'"{host}"', "role": '"client"',
                  "channel": '"Application"', "provider": '"Microsoft-Windows-Security-SPP"',
                  "event_id": "12288", "record_id": str(i + 1), "level": '"info"',
                  "event_kind": '"kms_request"', "activation_method": '"KMS"',
                  "result_code": "3221549172", "code": '"0xC004F074"', "is_success": "false",
                  "site": '""', "message": f'"{MESSAGE}"', "source_record": str(i + 1)}
        lines.append(",".join(values.get(c, "") for c in EVENT_COLUMNS))
    return [header, *lines]


def build(fmt: str, n: int, *, encoding: str = "utf-8", bad_bytes: set[int] = frozenset(),
          bad_times: dict[int, str] | None = None, junk: dict[int, str] | None = None,
          compress: bool = False) -> Export:
    """Write ``n`` records of ``fmt`` (each a 12288 with a unique time, record ID and host).

    ``bad_bytes``: records whose computer name holds bytes ``encoding`` cannot decode.
    ``bad_times``: record -> time text out of range. ``junk``: record -> text put before it
    (whitespace-only text is not a record; anything else is one to reject).
    """
    bad_times = bad_times or {}
    junk = junk or {}
    style = FORMATS[fmt][1]
    times = [START + timedelta(minutes=i) for i in range(n)]
    hosts = [f"pc{i}" + (SENTINEL if i in bad_bytes else "") for i in range(n)]
    whens = [bad_times.get(i, _time(t, style)) for i, t in enumerate(times)]
    junk_records = sum(1 for text in junk.values() if text.strip())
    if fmt == "wevtutil_xml":
        decl = encoding if encoding in ("shift_jis", "windows-1252") else "utf-8"
        parts = [f'<?xml version="1.0" encoding="{decl}"?>\n<Events>\n']
        for i in range(n):
            parts.append(junk.get(i, "") + _xml(i, hosts[i], whens[i]) + "\n")
        text = "".join(parts) + "</Events>\n"
    elif fmt in ("evtx_json", "la_windowsevent"):
        objs = []
        for i in range(n):
            if fmt == "evtx_json":
                obj = {"Event": {"System": {
                    "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-SPP"}},
                    "EventID": 12288, "Level": 4,
                    "TimeCreated": {"#attributes": {"SystemTime": whens[i]}},
                    "EventRecordID": i + 1, "Channel": "Application", "Computer": hosts[i]},
                    "EventData": {"Data": {"#text": INFO}}}}
            else:
                obj = {"TimeGenerated": whens[i], "Computer": hosts[i], "Channel": "Application",
                       "Provider": "Microsoft-Windows-Security-SPP", "EventID": 12288,
                       "EventLevel": 4, "EventRecordId": i + 1, "EventData": {"Data": [INFO]}}
            objs.append(json.dumps(obj))
        if fmt == "evtx_json":
            text = "".join(junk.get(i, "") + objs[i] + "\n" for i in range(n))
        else:
            text = "[\n" + "".join(("," if i else "") + junk.get(i, "") + "\n  " + objs[i]
                                   for i in range(n)) + "\n]\n"
    elif fmt == "canonical_csv":
        lines = _canonical(hosts, whens)
        text = lines[0] + "\n" + "".join(junk.get(i, "") + lines[i + 1] + "\n"
                                         for i in range(n))
    else:
        buf = io.StringIO()
        writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writerow(_HEADERS[fmt])
        for i in range(n):
            buf.write(junk.get(i, ""))
            writer.writerow(_rows(fmt, i, hosts[i], whens[i]))
        text = buf.getvalue()
    data = _encode(text, encoding)
    if compress:
        data = gzip.compress(data)
    return Export(data, fmt, n, junk_records, set(bad_bytes) | set(bad_times), times)


def _encode(text: str, encoding: str) -> bytes:
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff", "utf-8-sig": b"\xef\xbb\xbf"}
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    data = text.encode(codec)
    return bom.get(encoding, b"") + data.replace(SENTINEL.encode(codec), BAD_BYTES[encoding])


def run_bounded(code: str, seconds: float) -> str:
    """Run ``code`` in a fresh Python process; fail the test if it runs over ``seconds``.

    Returns what it printed. The child is killed at the limit, so nothing keeps running.
    """
    try:
        done = subprocess.run([sys.executable, "-"], input=code, capture_output=True,
                              text=True, timeout=seconds)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        raise AssertionError(f"still running after {seconds} s (killed); last output: "
                             f"{out.strip().splitlines()[-1:]}") from None
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout
