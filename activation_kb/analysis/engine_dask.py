"""``analyze_fleet(STORE, engine="dask")``: the fleet analysis with its heavy part on Dask.

The heavy part runs as Dask tasks (:mod:`.distributed`); what comes back is small, and the rest
is the pandas engine's own code: :func:`~.spikes.detect_spikes` on the counts,
:func:`~.incidents.explain_spikes` on the failed attempts' errors and the device profiles.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from .. import schema as S
from ..params import SpikeParams
from .attempts import AttemptTable
from .comparison import previous_result, previous_window
from .distributed import PROFILE_DIMENSIONS, Plan, compute_facts, dask_client
from .frequency import assemble_counts
from .incidents import explain_spikes, number_incidents
from .silence import detect_silences, silence_incidents
from .spikes import detect_spikes
from .summary import activity_notes, uncatalogued

__all__ = ["analyze_store_dask", "store_period"]


def store_period(root: Path, since: object, until: object, tz: str | None, history: str):
    """Return ``(first, lo, hi)``: the range to read and the period of an analysis of a store.

    ``since`` may be a duration ("7D"): that long before ``until``, or before the store's last
    event.
    """
    from ..store._read import store_span
    from .fleet import relative_span
    from .frequency import to_utc

    span = relative_span(since)
    lo = None if span else to_utc(since, "since", tz)
    hi = to_utc(until, "until", tz)
    if span is not None:
        end = hi if hi is not None else store_span(root)[1]
        lo = None if end is None else end - span
    first = None if lo is None else lo - pd.Timedelta(history)
    return first, lo, hi


def _days(root: Path, first: pd.Timestamp | None, hi: pd.Timestamp | None) -> list[str]:
    from ..store._layout import day_dirs

    days = list(day_dirs(root))
    if first is not None:
        days = [d for d in days if pd.Timestamp(d, tz="UTC") + pd.Timedelta(days=1) > first]
    if hi is not None:
        days = [d for d in days if pd.Timestamp(d, tz="UTC") < hi]
    return days


def _plan(first, lo, hi, freq, tz) -> Plan:
    from .fleet import DETECTION_KEYS

    requests = [(f"spikes:{'+'.join(keys)}", tuple(keys), False) for keys in DETECTION_KEYS]
    requests += [("counts", ("category",), True), ("code_counts", ("code",), True)]
    return Plan(first=first, lo=lo, hi=hi, freq=freq, tz=tz, requests=tuple(requests))


def _empty_facts(plan: Plan) -> dict[str, Any]:
    from .dask_machines import merge_machines
    from .distributed import with_machines

    facts = {"counts": {name: {"attempts": 0} for name, _, _ in plan.requests},
             "failed": None, "errors": None, "attempts": 0, "sites": pd.Series([], dtype=str),
             "events": 0, "records": 0, "kms_hosts": pd.Series([], dtype=str),
             "unreadable": {"unreadable_codes": 0, "unreadable_code_examples": []},
             "first_attempt": None, "last_attempt": None, "previous": None, "activity": None}
    return with_machines(facts, merge_machines([]), plan)


def analyze_store_dask(store: Any, *, since: object, until: object, freq: str, lang: str,
                       tz: str | None, spike_params: SpikeParams, scheduler: Any = None,
                       workers: int | None = None, memory_limit: str | int | None = None):
    """Analyse an event store with the Dask engine; see :func:`~activation_kb.analyze_fleet`.

    Returns
    -------
    FleetAnalysis
        As the pandas engine's, except that ``events`` is empty (the records stay in the
        store; ``summary["events"]`` counts them) and ``table.attempts`` lists the failed
        attempts only (``table.errors`` is complete; ``summary`` and the counts count every
        attempt).
    """
    from ..store._layout import open_store
    from .fleet import DETECTION_KEYS, FleetAnalysis, counts_start

    root = open_store(store)
    first, lo, hi = store_period(root, since, until, tz, spike_params.history)
    span_first, span_last = _period_edges(root, lo, hi)
    start = lo if lo is not None else span_first
    end = hi if hi is not None else span_last
    plan = _plan(first, lo, hi, freq, tz)
    if lo is not None and end is not None:
        plan = replace(plan, before=previous_window(lo, end)[0])
    days = _days(root, first, hi)
    if days:
        with dask_client(scheduler, workers, memory_limit) as client:
            facts = compute_facts(root, days, plan, client)
    else:
        facts = _empty_facts(plan)
    requests = {name: keys for name, keys, _ in plan.requests}
    start_counts = counts_start(first, facts["first_attempt"])
    spikes = pd.concat(
        [detect_spikes(assemble_counts(facts["counts"][f"spikes:{'+'.join(keys)}"], freq,
                                       list(keys), "events", start_counts, hi, tz),
                       fleet_size=int(len(facts["devices"])), **spike_params.detect_kwargs())
         for keys in DETECTION_KEYS],
        ignore_index=True,
    )
    # taken out of the facts: the period's rows below replace them, not beside them
    errors = facts.pop("errors")
    failed = facts.pop("failed")
    if errors is None or not len(errors):
        from .attempts import activation_attempts

        empty = activation_attempts(S.empty_events())
        errors, failed = empty.errors, empty.attempts
    profile = AttemptTable(attempts=facts["profile_table"], errors=errors)
    data_end = facts["last_attempt"]
    explained = explain_spikes(spikes, profile, lang=lang, dimensions=PROFILE_DIMENSIONS,
                               data_end=data_end)
    silences, silent = _silences(facts, spike_params, freq, tz, lang, explained)
    if lo is not None:  # the period's spikes, explained again (their grouping may differ)
        spikes = spikes[spikes["end"] > lo].reset_index(drop=True)
        silences = silences[silences["end"] > lo].reset_index(drop=True)
        silent = silent[silent["end"] > lo]
        explained = explain_spikes(spikes, profile, lang=lang, dimensions=PROFILE_DIMENSIONS,
                                   data_end=data_end)
    incidents = number_incidents(explained, silent)
    if lo is not None:
        failed = failed[(failed["time"] >= lo).to_numpy(bool)].reset_index(drop=True)
        errors = errors[errors["attempt"].isin(failed["attempt"]).to_numpy(bool)]
    table = AttemptTable(attempts=failed.reset_index(drop=True),
                         errors=errors.reset_index(drop=True))
    counts = assemble_counts(facts["counts"]["counts"], freq, list(requests["counts"]),
                             "events", lo, hi, tz)
    code_counts = assemble_counts(facts["counts"]["code_counts"], freq,
                                  list(requests["code_counts"]), "events", lo, hi, tz)
    attempts = int(facts["attempts"])
    failures = int(len(failed))
    summary = {
        "period_start": None if start is None else pd.Timestamp(start).isoformat(),
        "period_end": None if end is None else pd.Timestamp(end).isoformat(),
        "devices": int(len(facts["last_seen"])),
        "kms_hosts": int(len(facts["kms_hosts"])),
        "sites": sorted(s for s in facts["sites"].astype(str) if s),
        "attempts": attempts,
        "failed_attempts": failures,
        "failure_rate": round(failures / attempts, 4) if attempts else 0.0,
        "failing_devices": int(failed["device"].nunique()),
        "events": int(facts["events"]),
        "records": int(facts["records"]),
        "rejected": 0,
        "duplicates": 0,
        "incidents": int(len(incidents)),
        "codes": int(table.errors["code"].nunique()),
        "previous": _previous(facts, plan, lo),
    }
    quality = _quality(facts["last_seen"], counts,
                       pd.Timestamp(end) if end is not None else pd.Timestamp.now(tz="UTC"))
    quality.update(facts["unreadable"],
                   single_machine_spikes=int(incidents.attrs.get("single_machine_spikes", 0)))
    return FleetAnalysis(
        events=S.empty_events(), table=table, counts=counts, code_counts=code_counts,
        spikes=spikes, incidents=incidents, summary=summary, quality=quality, silences=silences,
        uncatalogued=uncatalogued(table), rejected=S.empty_rejected(), files=[],
        parameters={"since": since, "until": until, "freq": freq, "lang": lang,
                    "sensitivity": spike_params.sensitivity, "tz": tz,
                    "history": spike_params.history, "engine": "dask"},
        lang=lang, tz=tz, freq=freq, since=lo, until=hi, spike_params=spike_params,
    )


def _silences(facts: dict[str, Any], params: SpikeParams, freq: str, tz: str | None, lang: str,
              failures: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Falls in activity and their went-silent incidents, from the workers' activity counts."""
    if facts["activity"] is None:
        silences = detect_silences(None, None, activity={"buckets": pd.Series([], dtype=object),
                                                         "counts": {}}, keys=())
    else:
        silences = detect_silences(None, None, freq=freq, tz=tz, activity=facts["activity"],
                                   sensitivity=params.sensitivity, history=params.history,
                                   fleet_size=int(len(facts["devices"])))
    return silences, silence_incidents(silences, lang=lang, data_end=facts["last_attempt"],
                                       failures=failures)


def _previous(facts: dict[str, Any], plan: Plan, lo) -> dict[str, Any] | None:
    """Return the previous period's figures, as :func:`~.comparison.previous_period` does."""
    part = facts["previous"]
    if plan.before is None or part is None or not part["attempts"]:
        return None
    figures = {"attempts": part["attempts"], "failed_attempts": part["failed_attempts"],
               "failure_rate": round(part["failed_attempts"] / part["attempts"], 4),
               "failing_devices": int(len(part["failing"]))}
    return previous_result(plan.before, pd.Timestamp(lo), figures,
                           pd.Timestamp(facts["first_attempt"]))


def _period_edges(root: Path, lo, hi):
    """First and last event time of the period (the store's when the period is open)."""
    from ..store._read import store_span

    if lo is not None and hi is not None:
        return lo, hi
    first, last = store_span(root)
    return (lo if lo is not None else first), (hi if hi is not None else last)


def _quality(last_seen: pd.DataFrame, counts: pd.DataFrame, end: pd.Timestamp) -> dict[str, Any]:
    """Return the pandas engine's data-quality notes, from the per-device facts."""
    return {
        "rejected": 0,
        "rejected_by_reason": {},
        "duplicates": 0,
        "skipped_files": [],  # a store holds exports' events only
        **activity_notes(last_seen.set_index("device")["time"], counts, end),
    }
