"""The fleet analysis, the package's front door: load, count, detect, explain, check the data.

:func:`analyze_fleet` runs the whole chain on event exports (or a frame) and returns a
:class:`FleetAnalysis`: what a notebook needs next (``.counts``, ``.incidents``, ``.table`` ...),
the settings it was made with (``.lang``, ``.tz``, ``.freq``, ``.since``, ``.until``) and
:meth:`FleetAnalysis.where` to look at part of the fleet. Every ``plot_*`` function of
:mod:`activation_kb.views.figures` accepts a FleetAnalysis directly. :func:`write_outputs` saves
its machine-readable part (``incidents.json``, ``incidents.csv``, ``run_summary.json``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import schema
from ..errors import AnalysisError, ParameterError
from ..params import (
    MIN_DATE,
    SpikeParams,
    check_buckets,
    check_choice,
    check_freq,
    check_lang,
    check_local_cluster,
    check_period,
    check_timezone,
)
from ..params import relative_span as relative_span
from ..progress import stage
from .attempts import AttemptTable, activation_attempts
from .comparison import previous_period
from .frequency import error_frequency
from .incidents import explain_spikes, number_incidents
from .silence import SILENCE_KEYS, detect_silences, silence_incidents
from .spikes import detect_spikes
from .summary import quality_notes, summarize, uncatalogued, unreadable

__all__ = ["FleetAnalysis", "analyze_fleet", "write_outputs", "DETECTION_KEYS", "SILENCE_KEYS"]

#: Key sets spikes are looked for in: each code fleet-wide, and each code per site.
DETECTION_KEYS: tuple[tuple[str, ...], ...] = (("code",), ("code", "site"))
# SILENCE_KEYS (from .silence): each site and each KMS host whose successful activations or
# records fall away ("went silent" incidents)
#: The engines :func:`analyze_fleet` runs on.
ENGINES = ("pandas", "dask")


@dataclass
class FleetAnalysis:
    """Everything the report shows, computed once, with the settings it was computed with.

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
        Spikes of failures of every key set in :data:`DETECTION_KEYS`.
    incidents : pandas.DataFrame
        ``explain_spikes`` of those spikes, and the sites and KMS hosts that went silent
        (``kind`` "went_silent"), numbered together, largest first.
    summary : dict
        Fleet size, attempts, failure rate, period, records loaded and rejected.
    quality : dict
        Data-quality notes: rejected records by reason, duplicates, records whose result code
        could not be read, silent machines, empty buckets, and ``skipped_files``: the files
        found beside the exports that are not exports (path and reason; see
        :attr:`skipped_files`).
    uncatalogued : pandas.DataFrame
        Codes seen that the article does not document, with their description.
    rejected : pandas.DataFrame
        The rejected records (file, record, reason).
    files : list of dict
        Per input file: path, format, records, loaded, rejected, duplicates.
    parameters : dict
        The parameters of the analysis as given (for ``run_summary.json``).
    lang : str
        Language of the catalogue text; figures and report sections use it by default.
    tz : str or None
        Time zone of the buckets and of displayed times (None: UTC).
    freq : str
        Bucket size of the counts.
    since, until : pandas.Timestamp or None
        The period ``[since, until)`` in UTC; None where it is open (from the first event, up
        to the last one). A relative ``since`` ("7D") is resolved here.
    spike_params : SpikeParams
        The spike-detection parameters.
    filters : dict
        What :meth:`where` kept (empty for the whole fleet): name -> tuple of values.
    silences : pandas.DataFrame
        Falls in the successful activations and records of each site and KMS host
        (:func:`~activation_kb.analysis.silence.detect_silences`), behind the "went silent"
        incidents.
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
    lang: str = "en"
    tz: str | None = None
    freq: str = "h"
    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None
    spike_params: SpikeParams = field(default_factory=SpikeParams)
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    silences: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def skipped_files(self) -> list[dict[str, str]]:
        """Files found beside the exports that are not exports, not read: path and reason.

        A ``README.md``, ``notes.txt``, ``desktop.ini``, ``Thumbs.db``, a hidden file, an
        archive ... (see :func:`~activation_kb.load_events`); empty for a frame or a store.
        """
        return list(self.quality.get("skipped_files", []))

    @property
    def measure(self) -> str:
        """What ``counts`` and ``code_counts`` count: failed attempts ("events")."""
        return "events"

    def where(
        self,
        *,
        site: str | list[str] | None = None,
        kms_host: str | list[str] | None = None,
        category: str | list[str] | None = None,
        code: str | list[str] | None = None,
        since: object = None,
        until: object = None,
    ) -> FleetAnalysis:
        """Return the analysis of part of the fleet: attempts kept by site, KMS host, time ...

        Parameters
        ----------
        site, kms_host : str or list of str, optional
            Keep the attempts at these sites, or served by these KMS hosts (names compared
            without case).
        category, code : str or list of str, optional
            Keep the failures of these categories, or of these codes (any spelling); the
            attempts stay (they are the denominator of failure rates).
        since, until : str or timestamp, optional
            Keep the attempts that started in ``[since, until)``, within the analysed period;
            naive times are in :attr:`tz`.

        Returns
        -------
        FleetAnalysis
            A view: ``table``, ``counts``, ``code_counts``, ``summary`` and ``uncatalogued``
            are computed again from the attempts kept (with the same buckets), ``spikes`` and
            ``incidents`` are those that hold failures of the view, ``events`` are the
            period's records (not filtered by dimension); ``quality``, ``rejected`` and
            ``files`` describe the input and stay as they are. Every ``plot_*`` function
            accepts it. Filters of a view of a view add up.

        Raises
        ------
        ParameterError
            For an unknown category or code, or a bad date.
        """
        from .subset import where

        return where(self, site=site, kms_host=kms_host, category=category, code=code,
                     since=since, until=until)


def _load(events: Any, tz: str | None, strict: bool = False,
          ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Events from a frame or from paths, and how the input was read."""
    if isinstance(events, pd.DataFrame):
        frame = events
        if set(schema.EVENT_COLUMNS) - set(events.columns):
            frame = schema.coerce_events(events)
        return frame, {"rejected": schema.empty_rejected(), "files": [], "records": len(frame),
                       "duplicates": 0, "skipped_files": []}
    from ..telemetry import load_events

    result = load_events(events, tz=tz, strict=strict)
    return result.events, {"rejected": result.rejected, "files": result.files,
                           "records": result.records, "duplicates": result.duplicates,
                           "skipped_files": result.skipped_files}


def _period(start: pd.Timestamp | pd.Timedelta | None, end: pd.Timestamp | None,
            frame: pd.DataFrame) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """Resolve a relative ``since`` ("7D": before ``until``, or before the last event)."""
    if not isinstance(start, pd.Timedelta):
        return start, end
    last = end if end is not None else (frame[schema.EVENT_TIME].max() if len(frame) else None)
    return (None if last is None else _before(last, start)), end


def _load_store(store: Any, since: object, until: object, tz: str | None,
                history: str) -> tuple[pd.DataFrame, dict[str, Any]]:
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
            "engine, which reads a few days at a time (engine='dask'; CLI: --engine dask), or a "
            "shorter period")
    frame = read_range(root, first, hi)
    return frame, {"rejected": schema.empty_rejected(), "files": [], "records": len(frame),
                   "duplicates": 0, "skipped_files": []}


def _before(moment: pd.Timestamp, span: pd.Timedelta) -> pd.Timestamp:
    """Return ``moment - span``, or :data:`~activation_kb.params.MIN_DATE` if that is earlier."""
    return MIN_DATE if moment < MIN_DATE + span else moment - span


def _window(frame: pd.DataFrame, first: pd.Timestamp | None,
            end: pd.Timestamp | None) -> pd.DataFrame:
    """Return the records in ``[first, end)`` (None: open)."""
    times = frame[schema.EVENT_TIME]
    keep = pd.Series(True, index=frame.index)
    if first is not None:
        keep &= times >= first
    if end is not None:
        keep &= times < end
    return frame if keep.all() else frame[keep.to_numpy(bool)].reset_index(drop=True)


def _detect(table: AttemptTable, freq: str, tz: str | None, first: pd.Timestamp | None,
            end: pd.Timestamp | None, params: SpikeParams) -> pd.DataFrame:
    """Spikes of every key set of :data:`DETECTION_KEYS` over ``[first, end)``."""
    kwargs = params.detect_kwargs()
    first = counts_start(first, table.attempts["time"].min() if len(table.attempts) else None)
    found = [
        detect_spikes(
            error_frequency(table, freq=freq, by=list(keys), since=first, until=end, tz=tz),
            fleet_size=table.devices if len(table.attempts) else 0, **kwargs,
        )
        for keys in DETECTION_KEYS
    ]
    return pd.concat(found, ignore_index=True)


def counts_start(first: pd.Timestamp | None, data_start: pd.Timestamp | None):
    """Where the counts the detector reads begin: ``first``, unless the data begin later.

    Buckets before the first attempt of the data are not quiet, they are not there: counting
    them as zeros would give the detector weeks of silence before the first day of the data,
    and the ordinary level of the first days would look like a spike. ``None`` starts the
    counts at the data's first bucket.
    """
    if first is None or data_start is None or pd.Timestamp(data_start) > first:
        return None
    return first


def _spike_params(spike_params: SpikeParams | None, sensitivity: float,
                  history: str) -> SpikeParams:
    if spike_params is None:
        return SpikeParams(sensitivity, history)
    if not isinstance(spike_params, SpikeParams):
        raise ParameterError(f"spike_params must be a SpikeParams, not "
                             f"{type(spike_params).__name__}", "spike_params", spike_params)
    if (sensitivity, history) != (0.5, "28D"):
        raise ParameterError("pass either spike_params or sensitivity/history, not both",
                             "spike_params", spike_params)
    return spike_params


def analyze_fleet(
    events: Any,
    *,
    since: object = None,
    until: object = None,
    freq: str = "h",
    lang: str = "en",
    tz: str | None = None,
    sensitivity: float = 0.5,
    history: str = "28D",
    spike_params: SpikeParams | None = None,
    engine: str = "pandas",
    scheduler: Any = None,
    workers: int | None = None,
    memory_limit: str | int | None = None,
    strict: bool = False,
) -> FleetAnalysis:
    """Analyse a fleet's activation events: counts, spikes, incidents and data quality.

    Parameters
    ----------
    events : path, list of paths, glob, directory or pandas.DataFrame
        What :func:`~activation_kb.load_events` reads, or a canonical events frame.
    since, until : str or timestamp, optional
        Period ``[since, until)``; naive times are in ``tz`` (UTC by default). ``since`` may
        also be a duration ("7D", "36h", "2W"): that long before ``until``, or before the last
        event when ``until`` is not given (what a scheduled job wants).
    freq : str
        Bucket size of the counts ("h", "D" ...), at least one minute.
    lang : {"en", "fr"}
        Language of the catalogue text in the incidents; kept for figures and the report.
    tz : str, optional
        Time zone of local times in CSV exports, of naive ``since``/``until`` and of the
        buckets (a day starts at local midnight).
    sensitivity : float
        Spike detection sensitivity in (0, 1] (see :func:`~activation_kb.detect_spikes`), for
        rises in failures and for sites and KMS hosts that went silent.
    history : str
        How far back the spike baseline looks. Events up to this long before ``since`` are
        read for the baseline only: the report shows the period, compared with the weeks
        before it.
    spike_params : SpikeParams, optional
        The spike parameters as one object (instead of ``sensitivity`` and ``history``); its
        ``direction`` applies to the failure counts (rises by default). Falls in the
        successful activations and records of each site and KMS host are always looked for
        (``direction="down"``) and become "went silent" incidents.
    engine : {"pandas", "dask"}
        ``"dask"`` analyses an event store (see :func:`~activation_kb.ingest`) on a Dask
        cluster: one task per run of days, only small results come back (see
        :mod:`activation_kb.analysis.distributed`). The pandas engine reads a store's period
        into memory, after checking that it fits.
    scheduler : str or distributed.Client, optional
        With ``engine="dask"``: the scheduler's address ("tcp://host:8786") or a client;
        default a local cluster of one worker process per core, started and closed here.
    workers : int, optional
        With ``engine="dask"`` and no scheduler: worker processes of the local cluster.
    memory_limit : str or int, optional
        With ``engine="dask"`` and no scheduler: memory limit of each worker of the local
        cluster ("2GB", "512MiB" or bytes; default Dask's share of the machine's memory).
        Tasks are sized to fit it, however large the store (see
        :mod:`activation_kb.analysis.dask_memory`); a limit too small to run them is refused
        before any task runs.
    strict : bool
        Files found beside the exports that are not exports (``README.md``, ``notes.txt``,
        ``desktop.ini``, hidden files ...) are normally skipped and listed with the reason in
        ``quality["skipped_files"]`` (:attr:`FleetAnalysis.skipped_files`); ``strict=True``
        makes them an error, raised before any file is read.

    Returns
    -------
    FleetAnalysis

    Raises
    ------
    ParameterError
        For a bad parameter (its subclass names the kind: DateError, FrequencyError ...),
        before any file is read.
    TelemetryError
        For unreadable inputs, paths holding no export, and with ``strict`` files that are
        not exports.

    Examples
    --------
    >>> from activation_kb import analyze_fleet, simulate_fleet, plot_frequency
    >>> fleet = simulate_fleet(devices=60, days=10, seed=1)
    >>> analysis = analyze_fleet(fleet.events, freq="D", lang="fr")
    >>> analysis.lang, analysis.freq, len(analysis.counts) > 0
    ('fr', 'D', True)
    >>> paris = analysis.where(site="paris")
    >>> paris.filters, paris.summary["sites"]
    ({'site': ('paris',)}, ['paris'])
    >>> fig = plot_frequency(paris)  # in French, like the analysis
    """
    lang, tz, freq = check_lang(lang), check_timezone(tz), check_freq(freq)
    params = _spike_params(spike_params, sensitivity, history)
    start, end = check_period(since, until, tz=tz)
    if isinstance(start, pd.Timestamp) and end is not None:
        check_buckets(start - params.lookback, end, freq)
    engine = check_choice(engine, "engine", ENGINES)
    if scheduler is not None and engine != "dask":
        raise ParameterError(f"scheduler={scheduler!r}: a Dask scheduler needs engine='dask'",
                             "scheduler", scheduler)
    workers, memory_limit = check_local_cluster(workers, memory_limit, engine, scheduler)
    from ..store._layout import is_store

    store = isinstance(events, (str, Path)) and is_store(events)
    if engine == "dask":
        if not store:
            raise AnalysisError(
                "engine='dask' analyses an event store; ingest the exports into one first "
                "(activation-kb events ingest EXPORTS... --store DIR) and pass DIR")
        from .engine_dask import analyze_store_dask

        return analyze_store_dask(events, since=since, until=until, freq=freq, lang=lang,
                                  tz=tz, spike_params=params, scheduler=scheduler,
                                  workers=workers, memory_limit=memory_limit)
    if store:
        frame, loaded = _load_store(events, since, until, tz, params.history)
    else:
        frame, loaded = _load(events, tz, strict)
    unread = unreadable(frame)
    lo, hi = _period(start, end, frame)
    # the baseline learns from up to `history` before the period: a short period (a week) is
    # compared with the weeks before it, not with itself
    first = None if lo is None else _before(lo, params.lookback)
    frame = _window(frame, first, hi)
    with stage("grouping attempts"):
        table_all = activation_attempts(frame)
    with stage("detecting spikes"):
        spikes = _detect(table_all, freq, tz, first, hi, params)
    with stage("detecting silences"):
        silences = detect_silences(table_all, frame, freq=freq, tz=tz,
                                   sensitivity=params.sensitivity, history=params.history,
                                   fleet_size=table_all.devices)
        data_end = table_all.attempts["time"].max() if len(table_all.attempts) else None
        silent = silence_incidents(silences, lang=lang, data_end=data_end,  # weeks before: echoes
                                   failures=explain_spikes(spikes, table_all, lang=lang))
    if lo is not None:  # report the period only
        spikes = spikes[spikes["end"] > lo].reset_index(drop=True)
        silences = silences[silences["end"] > lo].reset_index(drop=True)
        silent = silent[silent["end"] > lo]
        frame = _window(frame, lo, None)
    with stage("explaining incidents"):
        incidents = number_incidents(explain_spikes(spikes, table_all, lang=lang), silent)
    with stage("counting errors"):
        table = table_all.between(lo, None) if lo is not None else table_all
        counts = error_frequency(table, freq=freq, by="category", since=lo, until=hi, tz=tz)
        code_counts = error_frequency(table, freq=freq, by="code", since=lo, until=hi, tz=tz)
    times = frame[schema.EVENT_TIME]
    period = (lo if lo is not None else (times.min() if len(frame) else None),
              hi if hi is not None else (times.max() if len(frame) else None))
    summary = summarize(
        table, *period, events=len(frame), records=loaded["records"],
        rejected=len(loaded["rejected"]), duplicates=loaded["duplicates"],
        incidents=len(incidents),
        kms_hosts=frame.loc[frame[schema.ROLE] == "kms_host", schema.HOST].nunique(),
    )
    summary["previous"] = previous_period(table_all, lo, period[1])
    quality = quality_notes(table, loaded, counts,
                            period[1] if period[1] is not None else pd.Timestamp.now(tz="UTC"))
    quality.update(unread,
                   single_machine_spikes=int(incidents.attrs.get("single_machine_spikes", 0)))
    return FleetAnalysis(
        events=frame, table=table, counts=counts, code_counts=code_counts, spikes=spikes,
        incidents=incidents, summary=summary, quality=quality, uncatalogued=uncatalogued(table),
        rejected=loaded["rejected"], files=loaded["files"],
        parameters={"since": since, "until": until, "freq": freq, "lang": lang,
                    "sensitivity": params.sensitivity, "tz": tz, "history": params.history},
        lang=lang, tz=tz, freq=freq, since=lo, until=hi, spike_params=params,
        silences=silences,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is pd.NaT or value is pd.NA or (isinstance(value, float) and value != value):
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
        ``{"incidents.json": path, "incidents.csv": path, "run_summary.json": path}``. In the
        CSV, list and dict columns (``codes``, ``affected_devices``, ``dimensions`` ...) are
        JSON text. ``run_summary.json`` holds ``summary``, ``quality``, ``files`` (read),
        ``skipped_files`` (found, not exports: path and reason) and ``parameters``.
    """
    out = Path(directory)
    incidents = analysis.incidents
    records = [_jsonable(row) for row in incidents.to_dict(orient="records")]
    paths = {name: out / name for name in ("incidents.json", "incidents.csv", "run_summary.json")}
    paths["incidents.json"].write_text(
        json.dumps(records, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    flat = incidents.copy()
    for column in flat.columns:  # lists and dicts as JSON, never Python reprs
        if flat[column].map(lambda v: isinstance(v, (list, tuple, dict))).any():
            flat[column] = flat[column].map(
                lambda v: json.dumps(_jsonable(v), ensure_ascii=False)
                if isinstance(v, (list, tuple, dict)) else v)
    flat.to_csv(paths["incidents.csv"], index=False)
    summary = {
        "summary": analysis.summary,
        "quality": analysis.quality,
        "files": analysis.files,
        "skipped_files": analysis.skipped_files,
        "parameters": analysis.parameters,
    }
    paths["run_summary.json"].write_text(
        json.dumps(_jsonable(summary), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return paths
