"""What cannot work is refused before any kernel starts or anything is simulated: exit 2, one
line naming the option, the value and what is expected (issue 11, parameter checks)."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from activation_kb.cli import cli


@pytest.mark.parametrize(
    "args, message",
    [
        (["--since", "1601-01-01"], "--since '1601-01-01': outside the dates that can be analysed"),
        (["--until", "9999-12-31"], "--until '9999-12-31': outside the dates"),
        (["--since", "NaT"], "--since 'NaT': not a date"),
        (["--freq", "1ns"], "--freq '1ns': buckets must last at least one minute"),
        (["--freq", "30s"], "at least one minute"),
        (["--since", "99999D"], "--since '99999D': longer than the 3660 days"),
        (["--since", "2000-01-01", "--until", "2026-01-01", "--freq", "1min"],
         "more than 100,000"),
        (["--since", "3000D", "--freq", "15min"], "more than 100,000"),
        (["--history", "0D"], "--history '0D': expected a positive duration"),
        (["--sensitivity", "nan"], "--sensitivity nan: expected a number in (0, 1]"),
        (["--top-n", "0"], "--top-n 0: expected a whole number >= 1"),
        (["--tz", "Mars/Olympus"], "--tz 'Mars/Olympus': not a time zone"),
        (["--lang", "de"], "'de' is not one of 'en', 'fr'"),
        (["--report", "weekly"], "report 'weekly' is unknown; expected one of ['fleet_report']"),
        (["--events", "/nowhere/exports"], "no such file or directory"),
    ],
)
def test_report_run_refuses_bad_parameters_before_a_kernel(tmp_path, args, message):
    out = tmp_path / "report"
    started = time.perf_counter()
    res = CliRunner().invoke(cli, ["report", "run", "--out", str(out), *args])
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert res.output.strip().count("\n") == 0 or "Usage" in res.output
    assert "Traceback" not in res.output and "unexpected" not in res.output
    assert time.perf_counter() - started < 2 and not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--days", "inf"], "--days inf: expected a finite number > 0 and <= 3660"),
        (["--days", "nan"], "--days nan"),
        (["--days", "0"], "--days 0.0"),
        (["--days", "-2"], "--days -2.0"),
        (["--days", "40000"], "--days 40000.0"),
        (["--start", "NaT"], "--start 'NaT': not a date or time"),
        (["--start", "1601-01-01"], "--start '1601-01-01': outside the dates"),
        (["--start", "someday"], "--start 'someday': not a date"),
        (["--start", "2261-12-01", "--days", "60"], "ends after 2261-12-31"),
    ],
)
def test_simulate_refuses_what_cannot_work(tmp_path, args, message):
    out = tmp_path / "fleet"
    started = time.perf_counter()
    res = CliRunner().invoke(cli, ["simulate", "--devices", "20", "--out", str(out), *args])
    assert res.exit_code == 2, res.output
    assert message in res.output, res.output
    assert "Traceback" not in res.output and "unexpected" not in res.output
    assert time.perf_counter() - started < 2 and not out.exists()


def test_simulate_accepts_fractional_days_and_a_start(tmp_path):
    res = CliRunner().invoke(cli, ["simulate", "--devices", "20", "--days", "1.5", "--start",
                                   "2026-03-04 15:30", "--out", str(tmp_path / "f")])
    assert res.exit_code == 0, res.output
    assert "over 1.5 days" in res.output
