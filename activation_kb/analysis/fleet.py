"""The fleet analysis behind the report: load, count, detect, explain, and check the data.

:func:`analyze_fleet` runs the whole chain on event exports (or a frame) and returns a
:class:`FleetAnalysis` that the report notebook displays section by section;
:func:`write_outputs` saves its machine-readable part (``incidents.json``, ``incidents.csv``,
``run_summary.json``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import schema as S
from ..errors import AnalysisError
from .attempts import AttemptTable, activation_attempts
from .frequency import error_frequency, to_utc
from .incidents import explain_spikes
from .spikes import detect_spikes

__all__ = ["FleetAnalysis", "analyze_fleet", "write_outputs", "relative_span", "DETECTION_KEYS"]

#: Key sets spikes are looked for in: each code fleet-wide, and each code per site.
DETECTION_KEYS: tuple[tuple[str, ...], ...] = (("code",), ("code", "site"))
_DURATION = re.compile(r"^\d+(\.\d+)?\s*(d|day|days|h|hour|hours|min|w|W|D|H)$")
_SILENT = pd.Timedelta(days=10)  # a client silent this long stopped reporting (renewals: 7 days)


@dataclass
class FleetAnalysis:
    """Everything the report shows, computed once.

    Attributes
    ----------
    events : pandas.DataFrame
        The canonical events in the analysed period.
    table : AttemptTable
        Attempts and errors built from them.
    counts : pandas.DataFrame
        Failed attempts per bucket and category (``error_frequency``).
    code_counts : pandas.DataFrame
        Failed attempts per bucket and code.
    spikes : pandas.DataFrame
        Spikes of every key set in :data:`DETECTION_KEYS`.
    incidents : pandas.DataFrame
        ``explain_spikes`` of those spikes.
    summary : dict
        Fleet size, attempts, failure rate, period, records loaded and rejected.
    quality : dict
        Data-quality notes: rejected records by reason, duplicates, silent machines, empty
        buckets.
    uncatalogued : pandas.DataFrame
        Codes seen that the article does not document, with their description.
    rejected : pandas.DataFrame
        The rejected records (file, record, reason).
    files : list of dict
        Per input file: path, format, records, loaded, rejected, duplicates.
    parameters : dict
        The parameters of the analysis.
    """

    events: pd.DataFrame
    table: AttemptTable
    counts: pd.DataFrame
    code_counts: pd.DataFrame
    spikes: pd.DataFrame
    incidents: pd.DataFrame
    summary: dict[str, Any]
    quality: dict[str, Any]
    uncatalogued: pd.DataFrame
    rejected: pd.DataFrame
    files: list[dict[str, Any]] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)


def relative_span(value: object) -> pd.Timedelta | None:
    """Return the duration that a ``since`` such as "7D" or "36h" names, else None.

    Raises
    ------
    AnalysisError
        For a duration that is not positive.
    """
    if not isinstance(value, str) or not _DURATION.match(value.strip()):
        return None
    span = pd.Timedelta(value.strip())
    if span <= pd.Timedelta(0):
        raise AnalysisError(f"since={value!r} must be a positive duration such as 7D")
    return span


def _load(events: Any, tz: str | None):
    """Events from a frame or from paths; returns (frame, rejected, files, records, duplicates)."""
    if isinstance(events, pd.DataFrame):
        frame = S.coerce_events(events) if set(S.EVENT_COLUMNS) - set(events.columns) else events
        return frame, S.empty_rejected(), [], len(frame), 0
    from ..telemetry import load_events

    result = load_events(events, tz=tz)
    return result.events, result.rejected, result.files, result.records, result.duplicates


def _load_store(store: Any, since: object, until: object, tz: str | None, history: str):
    """Read the records of a store the analysis needs (period and baseline), if memory allows."""
    from ..store._layout import open_store
    from ..store._read import BYTES_PER_RECORD, available_memory, count_rows, read_range
    from .engine_dask import store_period

    root = open_store(store)
    first, _, hi = store_period(root, since, until, tz, history)
    rows = count_rows(root, first, hi)
    need, have = rows * BYTES_PER_RECORD, available_memory()
    if need > have:
        raise AnalysisError(
            f"the pandas engine needs about {need / 1e9:.1f} GB to analyse the {rows:,} records "
            f"of {root} in this period, and {have / 1e9:.1f} GB is available; use the Dask "
            "engine, which works day by day (engine='dask'; CLI: --engine dask), or a "
            "shorter period")
    frame = read_range(root, first, hi)
    return frame, S.empty_rejected(), [], len(frame), 0


def _uncatalogued(table: AttemptTable) -> pd.DataFrame:
    from ..catalogue.hresult import describe_code

    errors = table.errors[table.errors["category"] == "other"]
    columns = ["code", "failures", "devices", "symbol", "message", "facility", "notes"]
    if errors.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for code, group in errors.groupby("code", observed=True):
        info = describe_code(str(code))
        rows.append({
            "code": str(code), "failures": int(group["attempt"].nunique()),
            "devices": int(group["device"].nunique()), "symbol": info.symbol or "",
            "message": info.message or "", "facility": info.facility_name or str(info.facility),
            "notes": "; ".join(info.notes),
        })
    return pd.DataFrame(rows, columns=columns).sort_values("failures", ascending=False,
                                                            ignore_index=True)


def _quality(table, rejected, duplicates, counts, end) -> dict[str, Any]:
    reasons = rejected["reason"].astype(str).str.split(":").str[0].value_counts()
    last = table.attempts.groupby("device", observed=True)["time"].max()
    silent = last[last < end - _SILENT]
    busy = counts.groupby("time")["attempts"].first() if not counts.empty else pd.Series(dtype=int)
    empty = busy[busy == 0]
    return {
        "rejected": int(len(rejected)),
        "rejected_by_reason": {str(k): int(v) for k, v in reasons.items()},
        "duplicates": int(duplicates),
        "silent_devices": int(len(silent)),
        "silent_examples": [str(d) for d in silent.sort_values().index[:10]],
        "silent_after": str(_SILENT),
        "buckets": int(len(busy)),
        "empty_buckets": int(len(empty)),
        "longest_gap_buckets": int(_longest_run(busy.to_numpy() == 0)) if len(busy) else 0,
    }


def _longest_run(flags) -> int:
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def analyze_fleet(
    events: Any,
    *,
    since: object = None,
    until: object = None,
    freq: str = "h",
    lang: str = "en",
    sensitivity: float = 0.5,
    tz: str | None = None,
    history: str = "28D",
    engine: str = "pandas",
    scheduler: Any = None,
) -> FleetAnalysis:
    """Run the report's analysis on event exports or an events frame.

    Parameters
    ----------
    events : path, list of paths, glob, directory or pandas.DataFrame
        What :func:`~activation_kb.load_events` reads, or a canonical events frame.
    since, until : str or timestamp, optional
        Period ``[since, until)``; naive times are in ``tz`` (UTC by default). ``since`` may
        also be a duration ("7D", "36h", "2W"): that long before ``until``, or before the last
        event when ``until`` is not given (what a scheduled job wants).
    freq : str
        Bucket size of the counts ("h", "D" ...).
    lang : {"en", "fr"}
        Language of the catalogue text in the incidents.
    sensitivity : float
        Passed to :func:`~activation_kb.detect_spikes`.
    tz : str, optional
        Time zone of local times in CSV exports, of naive ``since``/``until`` and of the
        buckets (a day starts at local midnight).
    history : str
        How far back the spike baseline looks. Events up to this long before ``since`` are
        read for the baseline only: the report shows the period, compared with the weeks
        before it.
    engine : {"pandas", "dask"}
        ``"dask"`` analyses an event store (see :func:`~activation_kb.ingest`) on a Dask
        cluster: one task per day, only small results come back (see
        :mod:`activation_kb.analysis.distributed`). The pandas engine reads a store's period
        into memory, after checking that it fits.
    scheduler : str or distributed.Client, optional
        With ``engine="dask"``: the scheduler's address ("tcp://host:8786") or a client;
        default a local cluster of one worker process per core, started and closed here.

    Returns
    -------
    FleetAnalysis

    Raises
    ------
    AnalysisError
        For a bad period or parameter; :class:`~activation_kb.TelemetryError` for unreadable
        inputs.
    """
    from ..catalogue.article import check_language

    check_language(lang)
    span = relative_span(since)
    lo, hi = (None if span else to_utc(since, "since", tz)), to_utc(until, "until", tz)
    if lo is not None and hi is not None and hi <= lo:
        raise AnalysisError(f"until ({until}) must be after since ({since})")
    try:
        lookback = pd.Timedelta(history)
    except (ValueError, TypeError):
        raise AnalysisError(f"history={history!r} is not a duration such as '28D'") from None
    if engine not in ("pandas", "dask"):
        raise AnalysisError(f"engine={engine!r}; expected 'pandas' or 'dask'")
    from ..store._layout import is_store

    store = isinstance(events, (str, Path)) and is_store(events)
    if engine == "dask":
        if not store:
            raise AnalysisError(
                "engine='dask' analyses an event store; ingest the exports into one first "
                "(activation-kb events ingest EXPORTS... --store DIR) and pass DIR")
        from .engine_dask import analyze_store_dask

        return analyze_store_dask(events, since=since, until=until, freq=freq, lang=lang,
                                  sensitivity=sensitivity, tz=tz, history=history,
                                  scheduler=scheduler)
    if store:
        frame, rejected, files, records, duplicates = _load_store(events, since, until, tz,
                                                                  history)
    else:
        frame, rejected, files, records, duplicates = _load(events, tz)
    if span is not None:  # "7D": the last 7 days before `until`, or before the last event
        end = hi if hi is not None else (frame[S.EVENT_TIME].max() if len(frame) else None)
        lo = None if end is None else end - span
    # the baseline learns from up to `history` before the period: a short period (a week) is
    # compared with the weeks before it, not with itself
    first = None if lo is None else lo - lookback
    if first is not None:
        frame = frame[(frame[S.EVENT_TIME] >= first).to_numpy(bool)]
    if hi is not None:
        frame = frame[(frame[S.EVENT_TIME] < hi).to_numpy(bool)]
    frame = frame.reset_index(drop=True)
    table_all = activation_attempts(frame)
    spikes = pd.concat(
        [
            detect_spikes(error_frequency(table_all, freq, list(keys), start=first, end=hi, tz=tz),
                          sensitivity, history=history)
            for keys in DETECTION_KEYS
        ],
        ignore_index=True,
    )
    if lo is not None:  # report the period only
        spikes = spikes[spikes["end"] > lo].reset_index(drop=True)
        frame = frame[(frame[S.EVENT_TIME] >= lo).to_numpy(bool)].reset_index(drop=True)
    incidents = explain_spikes(spikes, table_all, lang=lang)
    table = table_all.between(lo, None) if lo is not None else table_all
    counts = error_frequency(table, freq, "category", start=lo, end=hi, tz=tz)
    code_counts = error_frequency(table, freq, "code", start=lo, end=hi, tz=tz)
    attempts = table.attempts
    start = lo if lo is not None else (frame[S.EVENT_TIME].min() if len(frame) else None)
    end = hi if hi is not None else (frame[S.EVENT_TIME].max() if len(frame) else None)
    failed = int(attempts["failed"].sum())
    failing_devices = int(attempts.loc[attempts["failed"], "device"].nunique())
    summary = {
        "period_start": None if start is None else pd.Timestamp(start).isoformat(),
        "period_end": None if end is None else pd.Timestamp(end).isoformat(),
        "devices": int(attempts["device"].nunique()),
        "kms_hosts": int(frame.loc[frame[S.ROLE] == "kms_host", S.HOST].nunique()),
        "sites": sorted(s for s in attempts["site"].astype(str).unique() if s),
        "attempts": int(len(attempts)),
        "failed_attempts": failed,
        "failure_rate": round(failed / len(attempts), 4) if len(attempts) else 0.0,
        "failing_devices": failing_devices,
        "events": int(len(frame)),
        "records": int(records),
        "rejected": int(len(rejected)),
        "duplicates": int(duplicates),
        "incidents": int(len(incidents)),
        "codes": int(table.errors["code"].nunique()),
    }
    quality = _quality(table, rejected, duplicates, counts,
                       pd.Timestamp(end) if end is not None else pd.Timestamp.now(tz="UTC"))
    return FleetAnalysis(
        events=frame, table=table, counts=counts, code_counts=code_counts, spikes=spikes,
        incidents=incidents, summary=summary, quality=quality, uncatalogued=_uncatalogued(table),
        rejected=rejected, files=files,
        parameters={"since": since, "until": until, "freq": freq, "lang": lang,
                    "sensitivity": sensitivity, "tz": tz, "history": history},
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def write_outputs(analysis: FleetAnalysis, directory: str | Path) -> dict[str, Path]:
    """Write the incidents (JSON and CSV) and the run summary into ``directory``.

    Parameters
    ----------
    analysis : FleetAnalysis
        Output of :func:`analyze_fleet`.
    directory : str or Path
        Existing directory.

    Returns
    -------
    dict
        ``{"incidents.json": path, "incidents.csv": path, "run_summary.json": path}``.
    """
    out = Path(directory)
    incidents = analysis.incidents
    records = [_jsonable(row) for row in incidents.to_dict(orient="records")]
    paths = {name: out / name for name in ("incidents.json", "incidents.csv", "run_summary.json")}
    paths["incidents.json"].write_text(
        json.dumps(records, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    flat = incidents.drop(columns=["dimensions", "codes_detail"], errors="ignore").copy()
    for column in ("codes", "categories", "uncatalogued_codes"):
        if column in flat.columns:
            flat[column] = flat[column].map(lambda v: " ".join(v) if isinstance(v, list) else v)
    flat.to_csv(paths["incidents.csv"], index=False)
    summary = {
        "summary": analysis.summary,
        "quality": analysis.quality,
        "files": analysis.files,
        "parameters": analysis.parameters,
    }
    paths["run_summary.json"].write_text(
        json.dumps(_jsonable(summary), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return paths
