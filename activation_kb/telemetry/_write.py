"""Write canonical events to Parquet, CSV or wevtutil-style XML (each optionally gzipped).

CSV is written by pyarrow: strings quoted, missing values as empty unquoted fields, so a
missing value and an empty string survive the round trip. XML follows the layouts of the
reference notes (one Info string for 12288/12289, ten ``<Data>`` for 12290, ...) inside an
``<Events>`` root, like ``wevtutil qe /e:Events``.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from .. import schema as S
from ..errors import TelemetryError
from ._xmlrender import render_event_xml, render_events_xml, text_bytes

__all__ = ["write_events", "write_events_by_host", "render_event_xml", "render_events_xml",
           "output_format", "host_file_names"]

_FORMATS = {".parquet": "parquet", ".csv": "csv", ".xml": "xml"}
#: Rows rendered at a time: the text of a batch (about 0.7 kB per event) is held, not the file's.
_BATCH = 100_000


def output_format(path: str | Path, format: str | None = None) -> tuple[str, bool]:
    """Return ``(format, gzipped)`` for writing events to ``path``.

    Parameters
    ----------
    path : str or Path
        The output file: ``.parquet``, ``.csv`` or ``.xml``, the last two optionally ``.gz``.
    format : {"parquet", "csv", "xml"}, optional
        The format, when the suffix does not say it.

    Returns
    -------
    tuple
        ``(format, gzipped)``.

    Raises
    ------
    TelemetryError
        For an unsupported format or suffix, naming what is supported.
    """
    path = Path(path)
    gz = path.suffix.lower() == ".gz"
    suffix = Path(path.stem).suffix.lower() if gz else path.suffix.lower()
    fmt = format or _FORMATS.get(suffix)
    if fmt not in ("parquet", "csv", "xml"):
        raise TelemetryError(
            f"cannot write events to {path}: format {format or suffix or path.name!r} is not "
            "supported; expected parquet, csv or xml (or a .parquet/.csv/.xml suffix)")
    if gz and fmt == "parquet":
        raise TelemetryError(f"cannot write events to {path}: Parquet is compressed already; "
                             "expected a .parquet path without .gz")
    return fmt, gz


def write_events(events: pd.DataFrame, path: str | Path, format: str | None = None) -> Path:
    """Write an events frame to ``path`` as Parquet, CSV or wevtutil-style XML.

    Parameters
    ----------
    events : pandas.DataFrame
        Any frame :func:`activation_kb.schema.coerce_events` accepts.
    path : str or Path
        Output file. Its suffix chooses the format when ``format`` is None; a further ``.gz``
        (``events.csv.gz``, ``events.xml.gz``) compresses CSV and XML.
    format : {"parquet", "csv", "xml"}, optional
        The format, whatever the suffix.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    TelemetryError
        For an unsupported format or suffix.
    SchemaError
        When ``events`` lacks a required column or a column cannot be cast.
    """
    path = Path(path)
    fmt, gz = output_format(path, format)
    ev = S.coerce_events(events)
    if fmt == "parquet":
        ev.to_parquet(path, index=False)
    elif fmt == "csv":
        table = pa.Table.from_pandas(ev, preserve_index=False)
        with pa.output_stream(str(path), compression="gzip" if gz else None) as sink:
            pacsv.write_csv(table, sink)
    else:
        with _open_binary(path, gz) as fh:
            fh.write(b"<Events>\n")
            for start in range(0, len(ev), _BATCH):
                fh.write(text_bytes(render_events_xml(ev.iloc[start:start + _BATCH])))
            fh.write(b"</Events>\n")
    return path


def host_file_names(hosts: list[str], suffix: str) -> list[str]:
    """File names for ``hosts``: safe characters only, unique even on case-insensitive disks.

    ``pc 1`` and ``pc_1`` (or ``PC1`` and ``pc1``) would share a name; the later ones get
    ``~2``, ``~3`` ... before the suffix, so that no machine's file overwrites another's.
    """
    taken: set[str] = set()
    names = []
    for host in hosts:
        stem = "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in host) or "_"
        name, n = stem + suffix, 1
        while name.casefold() in taken:
            n += 1
            name = f"{stem}~{n}{suffix}"
        taken.add(name.casefold())
        names.append(name)
    return names


def _open_binary(path: Path, gz: bool):
    return gzip.open(path, "wb", compresslevel=6) if gz else open(path, "wb")


def write_events_by_host(
    events: pd.DataFrame,
    folder: str | Path,
    *,
    compress: bool = False,
    on_file: Callable[[Path, int], None] | None = None,
) -> list[Path]:
    """Write one wevtutil-style XML file per host, as fleets collect them.

    Hosts are taken in name order and rendered in batches of about 100,000 events
    (:func:`~activation_kb.telemetry._xmlrender.render_events_xml`); each host's events keep
    the frame's order. Thousands of machines take seconds.

    Parameters
    ----------
    events : pandas.DataFrame
        Any frame :func:`activation_kb.schema.coerce_events` accepts.
    folder : str or Path
        Output folder (created).
    compress : bool
        Write ``<host>.xml.gz`` files.
    on_file : callable, optional
        Called with each written path and its number of events (for progress).

    Returns
    -------
    list of Path
        The files written, in host order; names from :func:`host_file_names`.

    Raises
    ------
    TelemetryError
        When an event has no host (it could not be placed in any file).
    """
    folder = Path(folder)
    ev = S.coerce_events(events)
    missing = ev[S.HOST].isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise TelemetryError(f"cannot write one file per host: row {row} has no host")
    folder.mkdir(parents=True, exist_ok=True)
    codes, hosts = pd.factorize(ev[S.HOST], sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(hosts) + 1))
    names = host_file_names([str(h) for h in hosts], ".xml.gz" if compress else ".xml")
    written: list[Path] = []
    first = 0
    while first < len(hosts):
        # a batch of whole hosts, about _BATCH events (one host alone when it is larger)
        last = max(int(np.searchsorted(bounds, bounds[first] + _BATCH, side="right")) - 1,
                   first + 1)
        rows = order[bounds[first]:bounds[last]]
        lines = render_events_xml(ev.iloc[rows])
        base = bounds[first]
        for i in range(first, last):
            path = folder / names[i]
            with _open_binary(path, compress) as fh:
                fh.write(b"<Events>\n")
                fh.write(text_bytes(lines, bounds[i] - base, bounds[i + 1] - base))
                fh.write(b"</Events>\n")
            written.append(path)
            if on_file is not None:
                on_file(path, int(bounds[i + 1] - bounds[i]))
        first = last
    return written
