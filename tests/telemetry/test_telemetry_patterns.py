"""Issue 11: no pattern in a loader or parser can backtrack for long.

Every compiled pattern of ``activation_kb.telemetry`` must have an entry in :data:`WORST`: the
100 kB input that would make it slowest if it had nested quantifiers over the same characters,
and how the loader applies it. Each runs in a child process with a hard limit and must take
under a second. The pyarrow (RE2) patterns of the field parsers are linear by construction; they
are fed 100 kB of their worst input through the parsers all the same.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest
from telemetry_exports import run_bounded

import activation_kb.telemetry as telemetry

K = 100_000

#: module.NAME -> (method, [Python expressions building 100 kB worst inputs])
WORST = {
    "_xml._START": ("finditer", ["b'<Even' * 20000", "b'<Event' * 16000"]),
    "_xml._FILLER_TOKEN": ("match", ["b'\\t' * K + b'x'", "b'<a ' + b'b ' * 50000",
                                     "b'<?' + b'?' * K", "b'</' + b'a' * K"]),
    "_xml._DECL": ("match", ["b' ' * K + b'<?xm'", "b'<?xml ' + b'?' * K"]),
    "_xml._DECLARED": ("search", ["b'encoding' + b' ' * K + b'='", "b'encoding= ' * 10000",
                                  "b'encoding=\"' + b'a' * K"]),
    "_xml._SURROGATES": ("sub", ["'\\udc80' * K", "'a' * K"]),
    "_source._SURROGATE": ("search", ["'a' * K"]),
    "_formats._JSON_KEY": ("findall", ["'\"a [' * 25000", "'\"' + 'a' * K",
                                       "'\"a\"' + ' ' * K", "'\"a [b' * 20000 + ']'"]),
    "_formats._JSON_COLUMN": ("findall", ["'\"name\"' + ' ' * K", "'\"name\":' * 14000",
                                          "'\"name\": \"' + 'a' * K"]),
    "_message._INFO_LABEL": ("match", ["' ' * K + 'x'", "'info' + 'o' * K + ' x'",
                                       "'info:' + ' ' * K + 'x'", "'info' + ' ' * K + 'x'"]),
    "_message._QUOTED": ("findall", ["\"'\" + 'a' * K", "\"'a\" * 50000"]),
    "_xmlrender._NOT_XML": ("sub", ["'\\x01' * K", "'a' * K"]),
    "_evtx._ATTR": ("findall", ["'x' * K", "'a=\"' + 'x' * K", "' a=\"b\"' * 14000"]),
    "_evtx._RECORD_NUMBER": ("search", ["'record number ' * 7000", "'record number ' + '1' * K"]),
    "_evtx._CHUNK_NUMBER": ("search", ["'chunk number ' * 7500"]),
    "_evtx._PROVIDER": ("search", ["'microsoft-windows-security-spp' * 3300",
                                   "'security-' * 11000", "'software protection ' * 5000"]),
    "_evtxjson._PROVIDER": ("search", ["'microsoft-windows-security-spp' * 3300"]),
    "_evtxrows._ATTR": ("findall", ["' ' + 'x' * K", "' x' * 50000", "' a=\"' + 'x' * K"]),
    "_evtxrows._SYSTEM": ("match", ["'<System><Provider' + ' a=\"b\"' * 14000",
                                    "'<System><Provider' + ' a' * 50000",
                                    "'<System><Provider></Provider><EventID>' + 'x' * K"]),
    "_evtxrows._EVENT_DATA": ("match", ["'<EventData>' + '<Data>x</Data>' * 7000",
                                        "'<EventData>' + '<Data Name=\"' + 'x' * K"]),
    "_evtxrows._DATA_ITEM": ("findall", ["'<Data Name=\"' * 8000", "'<Data>' + 'x' * K"]),
    "_evtxrows._ENTITY": ("sub", ["'&#' * 50000", "'&#x' + 'f' * K"]),
    "_evtxrows._NOT_XML": ("sub", ["'\\x01' * K"]),
    "inventory._CIM": ("match", ["'1' * K", "'1' * 14 + '.' + '1' * K"]),
}

_CHILD = r"""
import re, sys, time, importlib
K = 100_000
for key, method, expr in {cases!r}:
    module, name = key.split(".")
    pattern = getattr(importlib.import_module("activation_kb.telemetry." + module), name)
    text = eval(expr)
    t = time.perf_counter()
    if method == "sub":
        pattern.sub("", text)
    elif method == "finditer":
        for _ in pattern.finditer(text):
            pass
    else:
        getattr(pattern, method)(text)
    print(key, expr, round(time.perf_counter() - t, 4), flush=True)
"""


def _compiled_patterns() -> set[str]:
    found = set()
    for info in pkgutil.iter_modules(telemetry.__path__):
        module = importlib.import_module(f"activation_kb.telemetry.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, re.Pattern):
                found.add(f"{info.name}.{name}")
    return found


def test_every_loader_pattern_has_its_worst_input():
    missing = _compiled_patterns() - set(WORST)
    assert not missing, f"add the worst 100 kB input of {sorted(missing)} to WORST"


def test_patterns_on_their_worst_input_are_fast():
    cases = [(key, method, expr) for key, (method, exprs) in sorted(WORST.items())
             for expr in exprs]
    out = run_bounded(_CHILD.format(cases=cases), 120)
    lines = out.strip().splitlines()
    assert len(lines) == len(cases)
    for line in lines:
        assert float(line.rsplit(" ", 1)[1]) < 1.0, line


_PARSERS = r"""
import time
import pyarrow as pa
from activation_kb.telemetry._fields import KIND_PARSERS, hexcode
from activation_kb.telemetry._build import TimeParser, build_events
K = 100_000
inputs = ["hr=" + "0" * K, "hr=" + "-" * K, "Reason:" + " " * K, "hr=0x" + "F" * K,
          "AppId=" + "{" * K, "AppId" + " " * K + "=", "x:" * 50000 + "1", " " * K + ":1",
          "0x" + "8" * K + ", 0x0, " + "a:" * 20000, "Trigger=" + "A" * K,
          ("0" * 8 + "-") * 10000, "\x1f" * K, "," * K]
for kind, parser in KIND_PARSERS.items():
    for text in inputs:
        t = time.perf_counter()
        parser(pa.array([text] * 3))
        print(kind, text[:12].encode("unicode_escape").decode(), round(time.perf_counter() - t, 4),
              flush=True)
t = time.perf_counter()
hexcode(pa.array(["-" * K, "0x" + "0" * K, "hr=" + "0x" * 50000]))
print("hexcode", "-", round(time.perf_counter() - t, 4), flush=True)
rows = [(1, "1" * K, "2024-03-01T08:00:00" + "0" * K, "9" * K, "4", "Application", "pc1",
         "Microsoft-Windows-Security-SPP" * 3000, "", None),
        (2, "12288", "2024-03-01T08:00:00." + "1" * K + "Z", "1", "4", "Application", "pc1",
         "x" * K, "", None)]
t = time.perf_counter()
frame, rejects, _ = build_events(rows, "f", "wevtutil_xml", TimeParser())
print("build_events", len(rejects), round(time.perf_counter() - t, 4), flush=True)
"""


def test_field_parsers_on_100_kb_fields_are_fast():
    out = run_bounded(_PARSERS, 120)
    for line in out.strip().splitlines():
        assert float(line.rsplit(" ", 1)[1]) < 1.0, line
    assert "build_events 2" in out  # an event ID and a time of 100 kB are rejected


@pytest.mark.parametrize("fmt, text", [
    ("wevtutil_xml", "</Event>" + " " * K + "Page 2"),
    ("wevtutil_xml", "<!--" + "-" * K),
    ("wevtutil_xml", "<Events " + "a " * (K // 2)),
    ("winevent_csv", '"' + "," * K),
    ("la_windowsevent", "[" + "{" * 5000 + "," * K),
    ("la_windowsevent", '[{"TimeGenerated": "' + "\\u" * (K // 2)),
    ("evtx_json", "{" * K),
    ("canonical_csv", '"' + '""' * (K // 2)),
])
def test_loaders_on_100_kb_of_hostile_text_are_fast(fmt, text):
    from test_telemetry_load import event_xml

    body = {"wevtutil_xml": event_xml(rid=1) + text + event_xml(rid=2),
            "winevent_csv": '"Message","Id","MachineName","TimeCreated"\r\n' + text,
            "la_windowsevent": text, "evtx_json": text,
            "canonical_csv": "event_time,host,event_id\n" + text}[fmt]
    out = run_bounded(f"""
import tempfile, time, pathlib
from activation_kb.telemetry import load_events
p = pathlib.Path(tempfile.mkdtemp()) / "x"
p.write_text({body!r})
t = time.perf_counter()
r = load_events(p, format={fmt!r}, tz="UTC")
assert r.records == r.loaded + r.n_rejected + r.duplicates
print(round(time.perf_counter() - t, 4))
""", 120)
    assert float(out.split()[-1]) < 2.0
