"""CLI command ``activation-kb health``: the fleet's and the KMS hosts' activation health.

A thin wrapper over :func:`~activation_kb.assess_health` (:func:`~activation_kb.fleet_health`
and :func:`~activation_kb.kms_health` on records read once) and its summary. Exit codes: 0
done, 2 bad usage or input (an unreadable export, an inventory CSV without the needed columns),
4 with ``--fail-on-risk`` when a machine is expired or a KMS host is (or is forecast within 14
days to be) below its threshold.
"""

from __future__ import annotations

import json

import click

__all__ = ["register", "RISK_EXIT"]

#: Exit code of ``--fail-on-risk`` when something is at risk.
RISK_EXIT = 4


def _echo_text(summary: dict, kms_messages: list[str]) -> None:
    click.echo(f"Fleet health at {summary['at']}: {summary['devices']:,} machines")
    for status, count in summary["by_status"].items():
        click.echo(f"  {status:<14}{count:>8,}")
    if summary["act_first"]:
        click.echo("Act first:")
        for row in summary["act_first"]:
            code = row["last_failure_code"] or ""
            failure = f"; last failure {code} ({row['last_failure_category']})" if code else ""
            click.echo(f"  {row['device']:<28}{row['status']:<14}{row['reason']}{failure}")
            if row.get("resolution"):
                click.echo(f"  {'':<28}{'':<14}resolution: {row['resolution'][:160]}")
    if kms_messages:
        click.echo("KMS hosts:")
        for message in kms_messages:
            click.echo(f"  {message}")


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level activation-kb group."""

    @group.command("health")
    @click.argument("events", nargs=-1, required=True, metavar="EVENTS...")
    @click.option("--inventory", "inventory", multiple=True, metavar="CSV",
                  type=click.Path(dir_okay=True),
                  help="Licence-state snapshot (Get-CimInstance SoftwareLicensingProduct | "
                       "Export-Csv, ConfigMgr, Intune); the newer fact wins. Repeatable.")
    @click.option("--at", "at", default=None, metavar="TIME",
                  help="Assess as of this time (default: the end of the data).")
    @click.option("--tz", default=None, metavar="ZONE",
                  help="IANA time zone of naive times and of local times in CSV exports.")
    @click.option("--top", "top_n", type=click.IntRange(min=0), default=20, show_default=True,
                  help="Machines listed under 'Act first'.")
    @click.option("--lang", type=click.Choice(["en", "fr"]), default="en", show_default=True,
                  help="Language of the reasons, host messages, causes and resolutions.")
    @click.option("--json", "as_json", is_flag=True,
                  help="Print the summary as JSON (what health.json holds).")
    @click.option("--fail-on-risk", is_flag=True,
                  help="Exit with 4 when a machine is expired or a KMS host is (or is forecast "
                       "within 14 days to be) below its threshold.")
    def health(events, inventory, at, tz, top_n, lang, as_json, fail_on_risk) -> None:
        """Which machines are not activated or will stop being so, and each KMS host's outlook.

        EVENTS are event exports (files, directories or quoted globs, any format
        `events summarize` reads).
        """
        from ..analysis.health import assess_health

        health = assess_health(list(events), at, inventory=list(inventory) or None, tz=tz,
                               lang=lang)
        summary = health.summary(top_n=top_n, lang=lang)
        if as_json:
            click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        else:
            _echo_text(summary, health.kms.messages)
        if fail_on_risk and summary["at_risk"]:
            if not as_json:
                click.echo("At risk: " + "; ".join(summary["alerts"]), err=True)
            raise SystemExit(RISK_EXIT)
