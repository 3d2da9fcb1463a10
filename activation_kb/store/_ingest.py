"""``ingest``: append exports to an event store, idempotently, safely, on all cores."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from .. import schema as S
from ..digest import file_sha256
from ._layout import LOG_DIR, REJECTED_DIR, day_dirs, day_name, open_store
from ._lock import store_lock

__all__ = ["ingest", "IngestResult", "read_log", "read_rejected", "LOG_COLUMNS", "CHUNK_BYTES"]

#: Columns of the ingest log: one row per file ingested.
LOG_COLUMNS = ("path", "sha256", "format", "bytes", "records", "loaded", "rejected",
               "duplicates", "time", "ingest")
#: Exports parsed and committed together (bounded memory; a kill loses at most one chunk's work).
CHUNK_BYTES = 512 << 20
_KEY = [S.HOST, S.CHANNEL, S.RECORD_ID]
_OWNER = "__file__"
_ROW_GROUP = 64 * 1024


@dataclass
class IngestResult:
    """What one ingest did.

    Attributes
    ----------
    store : pathlib.Path
        The store.
    files : list of dict
        Per input file: ``path``, ``sha256``, ``status`` ("ingested" or "skipped"), ``reason``
        (why it was skipped), and for ingested files ``format``, ``records``, ``loaded``,
        ``rejected``, ``duplicates``.
    records, loaded, rejected, duplicates : int
        Totals over the ingested files; ``records == loaded + rejected + duplicates``. A
        duplicate is a record already in the store, or read twice in this ingest (same host,
        channel and record_id, as :func:`~activation_kb.load_events` de-duplicates).
    skipped_files : list of dict
        Files found beside the exports that are not exports (``README.md``, ``notes.txt``,
        ``desktop.ini``, hidden files ...), not read, not stored, not logged: ``path`` and
        ``reason``, as :attr:`~activation_kb.telemetry.LoadResult.skipped_files`.
    days : list of str
        The UTC days that received new events.
    seconds : float
        Wall time.
    """

    store: Path
    files: list[dict[str, Any]] = field(default_factory=list)
    records: int = 0
    loaded: int = 0
    rejected: int = 0
    duplicates: int = 0
    days: list[str] = field(default_factory=list)
    seconds: float = 0.0
    skipped_files: list[dict[str, str]] = field(default_factory=list)

    @property
    def skipped(self) -> list[dict[str, Any]]:
        """The files skipped because their content was ingested before."""
        return [f for f in self.files if f["status"] == "skipped"]

    def summary(self) -> dict[str, Any]:
        """Return a JSON-friendly summary.

        Returns
        -------
        dict
            ``store``, ``files``, ``ingested``, ``skipped`` (files ingested before), the counts
            (``records``, ``loaded``, ``rejected``, ``duplicates``), ``days`` touched,
            ``seconds``, ``per_file`` (one dict per file: path, sha256, status and counts) and
            ``skipped_files`` (files that are not exports: path and reason).
        """
        return {"store": str(self.store), "files": len(self.files),
                "ingested": len(self.files) - len(self.skipped), "skipped": len(self.skipped),
                "records": self.records, "loaded": self.loaded, "rejected": self.rejected,
                "duplicates": self.duplicates, "days": self.days,
                "seconds": round(self.seconds, 2), "per_file": self.files,
                "skipped_files": self.skipped_files}



def _read_dir(folder: Path) -> pd.DataFrame | None:
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        return None
    return pq.read_table([str(f) for f in files]).to_pandas() if len(files) > 1 else \
        pq.read_table(files[0]).to_pandas()


def read_log(store: str | os.PathLike) -> pd.DataFrame:
    """Return the ingest log of a store: one row per file ingested (:data:`LOG_COLUMNS`)."""
    root = open_store(store)
    frame = _read_dir(root / LOG_DIR)
    if frame is None:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns, UTC]" if c == "time" else
                                          ("int64" if c in ("bytes", "records", "loaded",
                                                            "rejected", "duplicates")
                                           else "string")) for c in LOG_COLUMNS})
    return frame.sort_values(["time", "path"], kind="stable", ignore_index=True)


def read_rejected(store: str | os.PathLike) -> pd.DataFrame:
    """Return the store's rejected records.

    Columns: file, record number, format, reason, raw text, and the ``sha256`` and ``ingest``
    of the file they came from.
    """
    root = open_store(store)
    frame = _read_dir(root / REJECTED_DIR)
    if frame is None:
        out = S.empty_rejected()
        out["sha256"] = pd.Series(dtype="string")
        out["ingest"] = pd.Series(dtype="string")
        return out
    return frame.astype(dict(S.REJECTED_DTYPES)).reset_index(drop=True)


def _committed(root: Path) -> set[str]:
    folder = root / LOG_DIR
    return {p.stem for p in folder.glob("*.parquet")} if folder.is_dir() else set()


def _clean(root: Path) -> None:
    """Remove what a killed ingest left: temporary files, and files of uncommitted chunks."""
    committed = _committed(root)
    for folder in [*day_dirs(root).values(), root / REJECTED_DIR, root / LOG_DIR]:
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.name.startswith(".") and path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)
            elif folder.name != LOG_DIR and path.suffix == ".parquet":
                token = path.stem.removeprefix("part-")
                if token not in committed:
                    path.unlink(missing_ok=True)
    for folder in day_dirs(root).values():
        if not any(folder.iterdir()):
            folder.rmdir()


def _write_parquet(table: pa.Table, path: Path) -> None:
    """Write beside ``path`` (a hidden name readers skip), sync, then rename into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp"
    pq.write_table(table, tmp, row_group_size=_ROW_GROUP, compression="zstd")
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _existing_keys(root: Path, days: list[pd.Timestamp]) -> pd.DataFrame | None:
    """De-duplication keys already stored on these days and the days either side."""
    stored = day_dirs(root)
    near = sorted({(d + pd.Timedelta(days=k)).strftime("%Y-%m-%d") for d in days
                   for k in (-1, 0, 1)} & set(stored))
    if not near:
        return None
    dataset = ds.dataset([str(p) for day in near for p in stored[day].glob("*.parquet")],
                         format="parquet")
    table = dataset.to_table(columns=_KEY, filter=ds.field(S.RECORD_ID).is_valid())
    if table.num_rows == 0:
        return None
    return table.to_pandas(types_mapper={pa.string(): pd.ArrowDtype(pa.string()),
                                         pa.large_string(): pd.ArrowDtype(pa.string())}.get)


def _stored_duplicates(root: Path, events: pd.DataFrame) -> np.ndarray:
    """Rows of ``events`` whose (host, channel, record_id) is already in the store."""
    if events.empty:
        return np.zeros(0, bool)
    days = list(pd.DatetimeIndex(events[S.EVENT_TIME].dt.floor("D").unique()))
    existing = _existing_keys(root, days)
    has = events[S.RECORD_ID].notna().to_numpy()
    if existing is None or not has.any():
        return np.zeros(len(events), bool)
    mine = pd.DataFrame({
        S.HOST: events[S.HOST].astype(pd.ArrowDtype(pa.string())),
        S.CHANNEL: events[S.CHANNEL].astype(pd.ArrowDtype(pa.string())),
        S.RECORD_ID: events[S.RECORD_ID].astype("Int64"),
        "_row": np.arange(len(events)),
    })[has]
    existing = existing.astype({S.RECORD_ID: "Int64"}).drop_duplicates()
    hit = mine.merge(existing, on=_KEY, how="inner")["_row"].to_numpy()
    dup = np.zeros(len(events), bool)
    dup[hit] = True
    return dup


def _chunks(files: list[Path], limit: int) -> list[list[Path]]:
    out: list[list[Path]] = [[]]
    size = 0
    for path in files:
        bytes_ = path.stat().st_size
        if out[-1] and size + bytes_ > limit:
            out.append([])
            size = 0
        out[-1].append(path)
        size += bytes_
    return [c for c in out if c]


def _bar(total: int, progress: bool | None):
    from tqdm import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="ingesting",
                disable=not show, leave=False, file=sys.stderr)


def ingest(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    store: str | os.PathLike,
    *,
    format: str | None = None,
    tz: str | None = None,
    wait: float = 0.0,
    workers: int | None = None,
    progress: bool | None = None,
    strict: bool = False,
) -> IngestResult:
    """Append event exports to an event store (created when it does not exist).

    Exports are read as :func:`~activation_kb.load_events` reads them (every format, the same
    accounting: every record is loaded, rejected with its reason, or a duplicate), on all cores,
    and their canonical events are appended to the store's Parquet dataset, one folder per UTC
    day (``day=2026-03-05/``).

    Parameters
    ----------
    paths : path, directory, glob or list of them
        The exports.
    store : str or path
        The store directory.
    format, tz :
        As :func:`~activation_kb.load_events`.
    wait : float
        Seconds to wait when another ingest is writing to the store; 0 gives up at once.
    workers : int, optional
        Processes parsing files (default: every core).
    progress : bool, optional
        Show a progress bar; default only when stderr is a terminal.
    strict : bool
        Files found beside the exports that are not exports (``README.md``, ``notes.txt``,
        ``desktop.ini``, hidden files ...) are normally skipped and listed in
        ``result.skipped_files`` with the reason; ``True`` makes them an error, raised before
        anything is written.

    Returns
    -------
    IngestResult

    Notes
    -----
    Idempotent: a file whose content (sha256) was ingested before is skipped without being
    parsed; a record already stored (same host, channel and record_id on the same UTC day or a
    day either side) is counted as a duplicate and not stored again, so ingesting the same
    folder twice adds nothing. Safe: each chunk of files is written beside its final name and
    renamed into place, and committed by its ingest-log file; what a killed ingest left
    uncommitted is removed by the next one (readers meanwhile see whole files only). A lock file
    keeps two ingests from interleaving.

    Raises
    ------
    StoreLockedError
        When another ingest holds the store after ``wait`` seconds.
    StoreVersionError
        When ``store`` is not a store (a non-empty directory), or a newer version wrote it.
    TelemetryError
        For a missing or unreadable export, as :func:`~activation_kb.load_events`; for paths
        holding no export at all; with ``strict``, for files that are not exports (all named).
    """
    from ..telemetry._formats import resolve_format
    from ..telemetry._load import _check_tz, combine_parts
    from ..telemetry._parallel import read_files
    from ..telemetry._scan import sort_exports
    from ..telemetry._source import SkippedFile, expand_paths

    clock = time.perf_counter()
    forced = resolve_format(format) if format is not None else None
    _check_tz(tz)
    inside = Path(store).resolve()
    skipped: list[SkippedFile] = []
    found = [p.resolve() for p in expand_paths(paths, skipped)]
    # the store's own files (its lock, logs and parts) when it lies inside the export folder
    found = [p for p in found if inside not in p.parents]
    skipped = [s for s in skipped if inside not in Path(s.path).resolve().parents]
    files = sort_exports(found, skipped, forced, strict=strict)  # before anything is written
    root = open_store(store, create=True)
    result = IngestResult(store=root, skipped_files=[s.as_dict() for s in skipped])
    with store_lock(root, wait):
        _clean(root)
        log = read_log(root)
        known = dict(zip(log["sha256"].astype(str), log["path"].astype(str)))
        todo: list[Path] = []
        digests: dict[Path, str] = {}
        for path in files:
            digest = file_sha256(path)
            if digest in known:
                result.files.append({"path": str(path), "sha256": digest, "status": "skipped",
                                     "reason": f"already ingested (as {known[digest]})"})
                continue
            known[digest] = str(path)
            digests[path] = digest
            todo.append(path)
        token = f"{pd.Timestamp.now(tz='UTC'):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        with _bar(sum(p.stat().st_size for p in todo), progress) as bar:
            for n, chunk in enumerate(_chunks(todo, CHUNK_BYTES)):
                _ingest_chunk(root, chunk, digests, f"{token}-{n:03d}", forced, tz, workers,
                              bar.update, result, read_files, combine_parts)
    result.days = sorted(set(result.days))
    result.seconds = time.perf_counter() - clock
    return result


def _ingest_chunk(root, chunk, digests, token, forced, tz, workers, tick, result,
                  read_files, combine_parts) -> None:
    """Parse, de-duplicate against the store, write and commit one chunk of files.

    Files found not to be exports as they are read go to ``result.skipped_files``: they are
    neither stored nor logged (a later ingest looks at them again).
    """
    from ..telemetry._load import NOT_EXPORT

    parts = read_files(chunk, forced, tz, "quarantine", workers=workers, tick=tick)
    frames = []
    for part in parts:
        if len(part.frame):
            frame = part.frame.copy(deep=False)
            frame[_OWNER] = part.owner
            frames.append(frame)
    owner = (np.concatenate([f[_OWNER].to_numpy() for f in frames]) if frames
             else np.zeros(0, np.int64))
    stats = [s for p in parts for s in p.stats]
    rejected = [r for p in parts for r in p.rejected]
    loaded = combine_parts(frames, owner, stats, rejected)
    result.skipped_files += loaded.skipped_files  # found not to be exports as they were read
    stats_all, stats = stats, [s for s in stats if NOT_EXPORT not in s]
    events = loaded.events
    files_of = events.pop(_OWNER).to_numpy(np.int64) if _OWNER in events else np.zeros(0, int)
    dup = _stored_duplicates(root, events)
    if dup.any():
        for i, count in enumerate(np.bincount(files_of[dup], minlength=len(stats_all))):
            stats_all[i]["duplicates"] += int(count)
            stats_all[i]["loaded"] -= int(count)
        events = events.loc[~dup].reset_index(drop=True)
    day = events[S.EVENT_TIME].dt.strftime("%Y-%m-%d").to_numpy(dtype=object) if len(events) \
        else np.zeros(0, object)
    for value in sorted(set(day)):
        rows = events.loc[day == value]
        table = pa.Table.from_pandas(rows, preserve_index=False)
        _write_parquet(table, root / day_name(value) / f"part-{token}.parquet")
        result.days.append(value)
    now = pd.Timestamp.now(tz="UTC")
    if loaded.n_rejected:
        rej = loaded.rejected.copy()
        names = {str(p): digests[p] for p in chunk}
        rej["sha256"] = rej[S.SOURCE_FILE].astype(str).map(names).astype("string")
        rej["ingest"] = pd.Series([token.rsplit("-", 1)[0]] * len(rej), dtype="string")
        _write_parquet(pa.Table.from_pandas(rej, preserve_index=False),
                       root / REJECTED_DIR / f"{token}.parquet")
    log = pd.DataFrame([{
        "path": s["path"], "sha256": digests[Path(s["path"])], "format": s["format"],
        "bytes": Path(s["path"]).stat().st_size, "records": s["records"],
        "loaded": s["loaded"], "rejected": s["rejected"], "duplicates": s["duplicates"],
        "time": now, "ingest": token.rsplit("-", 1)[0]} for s in stats], columns=list(LOG_COLUMNS))
    log = log.astype({"path": "string", "sha256": "string", "format": "string",
                      "ingest": "string", "bytes": "int64", "records": "int64",
                      "loaded": "int64", "rejected": "int64", "duplicates": "int64",
                      "time": "datetime64[ns, UTC]"})  # typed even when empty: one schema
    table = pa.Table.from_pandas(log, preserve_index=False)
    _write_parquet(table, root / LOG_DIR / f"{token}.parquet")  # the commit
    for s in stats:
        result.files.append({"path": s["path"], "sha256": digests[Path(s["path"])],
                             "status": "ingested", "reason": "", "format": s["format"],
                             "records": s["records"], "loaded": s["loaded"],
                             "rejected": s["rejected"], "duplicates": s["duplicates"]})
        result.records += s["records"]
        result.loaded += s["loaded"]
        result.rejected += s["rejected"]
        result.duplicates += s["duplicates"]

