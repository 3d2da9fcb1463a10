"""Tests for the ``events`` CLI commands."""

from __future__ import annotations

import json

from click.testing import CliRunner

from activation_kb.cli import cli
from conftest import TEST_DATA

D = TEST_DATA / "telemetry"


def test_summarize_json_and_convert(tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["events", "summarize", str(D / "synthetic_client.xml"), "--json",
                              "--rejected", str(tmp_path / "rej.csv")])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["records"] == 5 and data["loaded"] == 5
    out = tmp_path / "o.parquet"
    res = runner.invoke(cli, ["events", "convert", str(D / "synthetic_host.xml"), "-o", str(out)])
    assert res.exit_code == 0 and out.exists()


def test_bad_input_one_line_exit_2():
    runner = CliRunner()
    for name in ("garbage.bin", "malicious_xxe.xml", "missing.xml"):
        res = runner.invoke(cli, ["events", "summarize", str(D / name)])
        assert res.exit_code == 2, res.output
        assert "Traceback" not in res.output and name in res.output
