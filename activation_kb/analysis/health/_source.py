"""What the health functions read: a table of source readers, first match wins.

A source is an events frame, an :class:`~activation_kb.AttemptTable`, anything with an
``events`` frame (a :class:`~activation_kb.FleetAnalysis`, a ``LoadResult``), an event store
directory (``activation-kb events ingest``; only the columns health reads are loaded), or paths
of event exports (what :func:`~activation_kb.load_events` reads). Another kind of source (a
database, a cloud bucket) is one :func:`register_source` call: a test that recognises it and a
function that returns its canonical events.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ... import schema
from ...errors import AnalysisError
from ..attempts import AttemptTable

__all__ = ["register_source", "events_of", "SourceReader"]


@dataclass(frozen=True)
class SourceReader:
    """One kind of source: ``accepts(source)`` says whether ``read(source, tz)`` can read it."""

    name: str
    accepts: Callable[[Any], bool]
    read: Callable[[Any, str | None], pd.DataFrame]


def _is_paths(source: Any) -> bool:
    if isinstance(source, (str, os.PathLike)):
        return True
    return isinstance(source, (list, tuple)) and bool(source) and all(
        isinstance(s, (str, os.PathLike)) for s in source)


def _read_frame(source: pd.DataFrame, tz: str | None) -> pd.DataFrame:
    if set(schema.EVENT_COLUMNS) - set(source.columns):
        return schema.coerce_events(source)
    return source


def _read_paths(source: Any, tz: str | None) -> pd.DataFrame:
    from ...telemetry import load_events

    return load_events(list(source) if isinstance(source, (list, tuple)) else source,
                       tz=tz).events


#: The columns the health functions read (an event store reads only these).
COLUMNS = (schema.EVENT_TIME, schema.HOST, schema.ROLE, schema.EVENT_KIND, schema.RESULT_CODE,
           schema.IS_SUCCESS, schema.KMS_HOST, schema.CLIENT_NAME, schema.CMID,
           schema.LICENSE_STATUS, schema.MINUTES_TO_EXPIRY, schema.APP_ID, schema.MIN_COUNT,
           schema.KMS_COUNT, schema.RENEWAL_INTERVAL_MIN, schema.SITE)


def _is_store(source: Any) -> bool:
    if not isinstance(source, (str, os.PathLike)):
        return False
    from ...store._layout import is_store

    return is_store(source)


def _read_store(source: Any, tz: str | None) -> pd.DataFrame:
    """Read an event store's every day, only the columns health reads (the others empty)."""
    from ...store._read import read_store

    return read_store(source, columns=list(COLUMNS))


def _read_attempts(table: AttemptTable, tz: str | None) -> pd.DataFrame:
    """Make records that stand for the attempts: one success or one failure per code.

    An attempt table keeps no licence state: a successful KMS or ADBA attempt stands for a
    successful activation (validity from then on), a failed one for its codes.
    """
    attempts, errors = table.attempts, table.errors
    ok = attempts[~attempts["failed"].to_numpy(bool)]
    method = ok["activation_method"].astype(str).to_numpy()
    kind = np.where(method == "ADBA", "adba_success",
                    np.where(np.isin(method, ("KMS", "")), "kms_response", "other"))
    edition = {"client": 25, "server": 5}

    def frame(part: pd.DataFrame, kinds, codes, success) -> pd.DataFrame:
        return pd.DataFrame({
            schema.EVENT_TIME: part["time"].to_numpy(),
            schema.HOST: part["device"].astype(str).to_numpy(),
            schema.ROLE: "client",
            schema.EVENT_ID: pd.array([pd.NA] * len(part), dtype="Int32"),
            schema.EVENT_KIND: kinds,
            schema.RESULT_CODE: codes,
            schema.IS_SUCCESS: success,
            schema.KMS_HOST: part["kms_host"].astype(str).replace("", pd.NA).to_numpy(),
            schema.SITE: part["site"].astype(str).to_numpy(),
            schema.MIN_COUNT: part["edition"].astype(str).map(edition).astype("Int16").to_numpy(),
        })

    failures = frame(errors, "activation_failure",
                     errors["code"].astype(str).map(lambda c: int(c, 16)).astype("UInt32"), False)
    successes = frame(ok, kind, np.zeros(len(ok), np.uint32), True)
    both = pd.concat([successes, failures], ignore_index=True)
    both[schema.EVENT_TIME] = pd.to_datetime(both[schema.EVENT_TIME], utc=True)
    return schema.coerce_events(both.sort_values(schema.EVENT_TIME, kind="stable"))


def _has_events(source: Any) -> bool:
    return isinstance(getattr(source, "events", None), pd.DataFrame)


#: Readers tried in order; :func:`register_source` puts new ones first.
_READERS: list[SourceReader] = [
    SourceReader("events frame", lambda s: isinstance(s, pd.DataFrame), _read_frame),
    SourceReader("event store", _is_store, _read_store),
    SourceReader("attempt table", lambda s: isinstance(s, AttemptTable), _read_attempts),
    SourceReader("analysis or load result", _has_events,
                 lambda s, tz: _read_frame(s.events, tz)),
    SourceReader("paths of event exports", _is_paths, _read_paths),
]


def register_source(name: str, accepts: Callable[[Any], bool],
                    read: Callable[[Any, str | None], pd.DataFrame]) -> None:
    """Teach :func:`~activation_kb.fleet_health` and :func:`~activation_kb.kms_health` a source.

    Parameters
    ----------
    name : str
        What the source is, for error messages ("event store").
    accepts : callable
        ``accepts(source) -> bool``; checked before the built-in readers.
    read : callable
        ``read(source, tz) -> events frame`` (canonical columns; the health functions read
        only the columns they need, so a reader may project).
    """
    _READERS.insert(0, SourceReader(name, accepts, read))


def events_of(source: Any, tz: str | None = None) -> tuple[pd.DataFrame, str]:
    """Return the canonical events of ``source`` and the name of the reader that read it.

    Raises
    ------
    AnalysisError
        When no reader accepts the source.
    """
    for reader in _READERS:
        if reader.accepts(source):
            return reader.read(source, tz), reader.name
    kinds = ", ".join(r.name for r in _READERS)
    raise AnalysisError(
        f"cannot read activation records from a {type(source).__name__}; expected one of: {kinds}"
    )
