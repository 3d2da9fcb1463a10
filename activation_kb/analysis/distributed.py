"""The Dask engine: the heavy part of :func:`~activation_kb.analyze_fleet` on a cluster.

One Dask task per run of consecutive day partitions of an event store (:func:`day_groups`:
about two per worker, at most :data:`TASK_RECORDS` records each) reads those days' records (plus
:data:`OVERLAP` of the days either side, so an attempt that straddles midnight stays one attempt:
it belongs to the day of its first record), groups them into attempts with the package's own
:func:`~activation_kb.activation_attempts`, and reduces them to small, additive **facts**: the
parts of every count the report needs (:func:`~.frequency.count_parts`), each device's
dimension counts and last attempt, the failed attempts and their errors. Facts are merged in a
tree on the workers; the client receives the merged facts only, then detects spikes and explains
incidents exactly as the pandas engine does (the tests assert identical counts, spikes and
incidents).

Workers must see the store at the same path (a shared or network file system) and have
activation_kb installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from .. import schema as S
from ..errors import MissingDependencyError
from .attempts import AttemptTable, activation_attempts
from .frequency import count_parts, merge_count_parts
from .silence import activity_parts, merge_activity_parts
from .summary import EXAMPLES, unreadable

__all__ = ["Plan", "partition_facts", "merge_facts", "compute_facts", "dask_client",
           "OVERLAP", "PROFILE_DIMENSIONS", "READ_COLUMNS", "TASK_RECORDS", "day_groups"]

#: Records read from the neighbouring days of a partition: an attempt lasts seconds, retries
#: come every 2 hours; an attempt whose records keep coming less than 10 minutes apart for more
#: than this after midnight would be cut there.
OVERLAP = pd.Timedelta(hours=2)
#: Dimensions of the device profile incidents rank (``explain_spikes``' default).
PROFILE_DIMENSIONS = ("site", "kms_host", "edition", "sku_id", "role")
#: Columns the attempt grouping reads.
READ_COLUMNS = (S.EVENT_TIME, S.HOST, S.ROLE, S.EVENT_KIND, S.RESULT_CODE, S.IS_SUCCESS,
                S.CLIENT_NAME, S.CMID, S.KMS_HOST, S.SITE, S.SKU_ID, S.TRIGGER,
                S.ACTIVATION_METHOD, S.MIN_COUNT,
                # what unreadable() reports: records whose written result code was not read
                S.EVENT_ID, S.RAW, S.SOURCE_FILE, S.SOURCE_RECORD)
_TREE = 8  # facts merged this many at a time
#: Most records one task reads (about 300 MB of frame at 600 bytes a record).
TASK_RECORDS = 500_000
_ID_SHIFT = 40  # attempt ids: partition number << 40 + the attempt's number in its partition


@dataclass(frozen=True)
class Plan:
    """What to compute: the range read, the period reported, and the counts wanted.

    Attributes
    ----------
    first, lo, hi : pandas.Timestamp or None
        Records are read from ``first`` (the baseline's start) to ``hi``; the period reported
        is ``[lo, hi)``.
    freq, tz : str
        Bucket size and time zone of the counts.
    requests : tuple
        ``(name, keys, period_only)``: counts keyed by ``keys`` over the whole range, or over
        the period only.
    before : pandas.Timestamp or None
        Start of the previous period of the same length (``[before, lo)``, which the report
        compares the period with); None when there is none.
    """

    first: pd.Timestamp | None
    lo: pd.Timestamp | None
    hi: pd.Timestamp | None
    freq: str
    tz: str | None
    requests: tuple[tuple[str, tuple[str, ...], bool], ...]
    before: pd.Timestamp | None = None


def _cat_concat(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate frames, keeping categorical columns categorical (categories united)."""
    frames = [f for f in frames if f is not None]
    if not frames:
        return pd.DataFrame()
    if len(frames) == 1:
        return frames[0]
    out = {}
    for column in frames[0].columns:
        values = [f[column] for f in frames]
        if all(isinstance(v.dtype, pd.CategoricalDtype) for v in values):
            same = [pd.Categorical.from_codes(v.cat.codes, v.cat.categories.astype(str))
                    for v in values]  # an empty part's categories may have another dtype
            out[column] = union_categoricals(same, sort_categories=True)
        else:
            out[column] = pd.concat(values, ignore_index=True)
    return pd.DataFrame(out)


def _read_days(root: Path, day: pd.Timestamp, days: int, plan: Plan) -> pd.DataFrame:
    from ..store._read import read_range

    start = day - OVERLAP
    end = day + pd.Timedelta(days=days) + OVERLAP
    if plan.first is not None:
        start = max(start, plan.first)
    if plan.hi is not None:
        end = min(end, plan.hi)
    if end <= start:
        return S.empty_events()
    return read_range(root, start, end, columns=READ_COLUMNS)


def partition_facts(store: str, day: str, number: int, plan: Plan,
                    days: int = 1) -> dict[str, Any]:
    """Facts of the attempts that started on the UTC days ``day`` .. ``day + days`` of ``store``.

    Parameters
    ----------
    store : str
        The store directory (as the workers see it).
    day : str
        The first day, "2026-03-05".
    number : int
        The partition's number, which makes its attempt ids unique.
    plan : Plan
        What to compute.
    days : int
        How many consecutive days the task covers (see :func:`day_groups`).

    Returns
    -------
    dict
        Mergeable facts (see :func:`merge_facts`).
    """
    root = Path(store)
    d0 = pd.Timestamp(day, tz="UTC")
    d1 = d0 + pd.Timedelta(days=days)
    frame = _read_days(root, d0, days, plan)
    table = activation_attempts(frame)
    mine = table.between(d0, d1)  # attempts belong to the day of their first record
    attempts = mine.attempts.copy()
    errors = mine.errors.copy()
    offset = number << _ID_SHIFT
    attempts["attempt"] = attempts["attempt"].to_numpy(np.int64) + offset
    errors["attempt"] = errors["attempt"].to_numpy(np.int64) + offset
    mine = AttemptTable(attempts=attempts, errors=errors)
    period = mine.between(plan.lo, None) if plan.lo is not None else mine
    counts = {}
    for name, keys, period_only in plan.requests:
        source, start = (period, plan.lo) if period_only else (mine, plan.first)
        counts[name] = count_parts(source, plan.freq, list(keys), start, plan.hi, plan.tz)
    # records of this day within the period (the summary's events and KMS hosts)
    lo = d0 if plan.lo is None else max(d0, plan.lo)
    hi = d1 if plan.hi is None else min(d1, plan.hi)
    t = frame[S.EVENT_TIME]
    here = ((t >= lo) & (t < hi)).to_numpy(bool)
    own = ((t >= d0) & (t < d1)).to_numpy(bool)  # read for this task: its own days
    hosts = frame.loc[here & (frame[S.ROLE] == "kms_host").to_numpy(bool), S.HOST]
    profile = []
    for dim in PROFILE_DIMENSIONS:
        known = attempts.loc[attempts[dim].astype(str) != "", ["device", dim]].astype(str)
        n = known.groupby(["device", dim], observed=True).size().reset_index(name="n")
        profile.append(n.rename(columns={dim: "value"}).assign(dimension=dim))
    pa_ = period.attempts
    times = mine.attempts["time"]
    own_rows = frame[own].reset_index(drop=True)
    return {
        "activity": activity_parts(mine, own_rows, freq=plan.freq, tz=plan.tz),
        "first_attempt": times.min() if len(times) else None,
        "last_attempt": times.max() if len(times) else None,
        "previous": _previous_part(mine, plan),
        "counts": counts,
        "profile": pd.concat(profile, ignore_index=True),
        "devices": pd.Series(attempts["device"].astype(str).unique()),
        "last_seen": pa_.groupby(pa_["device"].astype(str))["time"].max().rename("time")
        .reset_index().rename(columns={"index": "device"}),
        "failed": pa_[pa_["failed"].to_numpy(bool)].reset_index(drop=True),
        "errors": errors.reset_index(drop=True),
        "attempts": int(len(pa_)),
        "sites": pd.Series(pa_["site"].astype(str).unique()),
        "events": int(here.sum()),
        "records": int(own.sum()),
        "kms_hosts": pd.Series(hosts.astype(str).unique()),
        "unreadable": unreadable(own_rows),
    }


def _previous_part(table: AttemptTable, plan: Plan) -> dict[str, Any] | None:
    """Return the attempts, failed attempts and failing devices of the previous period."""
    if plan.before is None or plan.lo is None:
        return None
    earlier = table.between(plan.before, plan.lo).attempts
    failed = earlier[earlier["failed"].to_numpy(bool)]
    return {"attempts": int(len(earlier)), "failed_attempts": int(len(failed)),
            "failing": pd.Series(failed["device"].astype(str).unique(), dtype=object)}


def _merge_previous(parts: Sequence[dict[str, Any] | None]) -> dict[str, Any] | None:
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    failing = pd.concat([p["failing"] for p in parts], ignore_index=True)
    return {"attempts": sum(p["attempts"] for p in parts),
            "failed_attempts": sum(p["failed_attempts"] for p in parts),
            "failing": pd.Series(failing.unique(), dtype=object)}


def _edge(values: Sequence[Any], pick) -> Any:
    known = [v for v in values if v is not None and not pd.isna(v)]
    return pick(known) if known else None


def _merge_unreadable(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    examples = [e for p in parts for e in p["unreadable_code_examples"]]
    return {"unreadable_codes": sum(p["unreadable_codes"] for p in parts),
            "unreadable_code_examples": examples[:EXAMPLES]}


def merge_facts(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Merge the facts of disjoint partitions (associative: used in a tree)."""
    parts = list(parts)
    if len(parts) == 1:
        return parts[0]
    profile = pd.concat([p["profile"] for p in parts], ignore_index=True)
    last = pd.concat([p["last_seen"] for p in parts], ignore_index=True)
    return {
        "activity": merge_activity_parts([p["activity"] for p in parts]),
        "first_attempt": _edge([p["first_attempt"] for p in parts], min),
        "last_attempt": _edge([p["last_attempt"] for p in parts], max),
        "previous": _merge_previous([p["previous"] for p in parts]),
        "counts": {name: merge_count_parts([p["counts"][name] for p in parts])
                   for name in parts[0]["counts"]},
        "profile": profile.groupby(["device", "value", "dimension"], sort=False)["n"].sum()
        .reset_index(),
        "devices": pd.Series(pd.concat([p["devices"] for p in parts]).unique()),
        "last_seen": last.groupby("device", sort=False)["time"].max().reset_index(),
        "failed": _cat_concat([p["failed"] for p in parts]),
        "errors": _cat_concat([p["errors"] for p in parts]),
        "attempts": sum(p["attempts"] for p in parts),
        "sites": pd.Series(pd.concat([p["sites"] for p in parts]).unique()),
        "events": sum(p["events"] for p in parts),
        "records": sum(p["records"] for p in parts),
        "kms_hosts": pd.Series(pd.concat([p["kms_hosts"] for p in parts]).unique()),
        "unreadable": _merge_unreadable([p["unreadable"] for p in parts]),
    }


def profile_table(facts: dict[str, Any]) -> pd.DataFrame:
    """One row per device with its usual value of each profile dimension ("" when none).

    The same choice as ``explain_spikes``' profile: the most frequent non-empty value, the
    smallest one among equals.
    """
    devices = facts["devices"].astype(str)
    out = pd.DataFrame({"device": devices.to_numpy()})
    profile = facts["profile"]
    for dim in PROFILE_DIMENSIONS:
        counts = profile[profile["dimension"] == dim]
        usual = counts.sort_values(["n", "value"], ascending=[False, True]).drop_duplicates(
            "device")
        values = usual.set_index("device")["value"].reindex(devices).fillna("")
        out[dim] = values.to_numpy()
    return out


def _finish(facts: dict[str, Any]) -> dict[str, Any]:
    """Last step on a worker: the profile table instead of its long counts."""
    facts = dict(facts)
    facts["profile_table"] = profile_table(facts)
    del facts["profile"]
    return facts


@contextmanager
def dask_client(scheduler: Any = None, workers: int | None = None,
                memory_limit: str | None = None):
    """Yield a distributed client: to ``scheduler`` (an address or a Client), or to a local cluster.

    Without a scheduler a ``LocalCluster`` of worker processes is started (one per core, or
    ``workers``) and closed when the block ends.

    Raises
    ------
    MissingDependencyError
        When dask or distributed is not installed.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise MissingDependencyError("distributed", "dask", "The Dask engine") from exc
    if scheduler is not None and not isinstance(scheduler, str):
        yield scheduler  # a Client the caller owns
        return
    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    from ..telemetry._parallel import worker_count

    n = workers or worker_count()
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      memory_limit=memory_limit or "auto", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


def day_groups(store: Path, days: Sequence[str], workers: int,
               task_records: int | None = None) -> list[tuple[str, int]]:
    """Split ``days`` into runs of consecutive days, one Dask task each: ``(first day, days)``.

    A task costs about a second whatever its size (reading, grouping into attempts, counting),
    so days are grouped: about two tasks per worker (to balance the load), but no task holds
    more than ``task_records`` records (Parquet footers tell), which bounds a worker's memory.
    A day is never split: a day larger than that is one task of its own.

    Parameters
    ----------
    store : path
        The store.
    days : sequence of str
        Its days to read, in order ("2026-03-05").
    workers : int
        Workers of the cluster.
    task_records : int, optional
        Most records a task holds; default :data:`TASK_RECORDS`.

    Returns
    -------
    list of (str, int)
        The first day of each group and its number of days (gaps included).
    """
    import pyarrow.parquet as pq

    from ..store._layout import day_dirs

    if not days:
        return []
    folders = day_dirs(store)
    rows = [sum(pq.read_metadata(f).num_rows for f in folders[d].glob("*.parquet"))
            if d in folders else 0 for d in days]
    limit = TASK_RECORDS if task_records is None else task_records
    target = max(1, min(limit, -(-sum(rows) // (2 * workers))))
    groups: list[tuple[str, int]] = []
    first = held = 0
    for i in range(1, len(days) + 1):
        held += rows[i - 1]
        if i == len(days) or held + rows[i] > target:
            start = pd.Timestamp(days[first])
            span = (pd.Timestamp(days[i - 1]) - start).days + 1
            groups.append((days[first], span))
            first, held = i, 0
    return groups


def compute_facts(store: Path, days: list[str], plan: Plan, client: Any) -> dict[str, Any]:
    """Run a task per group of ``days`` (:func:`day_groups`) on ``client``'s cluster; merge there.

    Returns
    -------
    dict
        The merged facts, with ``profile_table``; only they travel to the client.
    """
    import dask

    path = str(Path(store).resolve())
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    groups = day_groups(Path(store), days, workers)
    level = [dask.delayed(partition_facts, pure=True)(path, day, i, plan, span)
             for i, (day, span) in enumerate(groups)]
    if not level:
        return None
    while len(level) > 1:
        level = [dask.delayed(merge_facts, pure=True)(level[i:i + _TREE])
                 for i in range(0, len(level), _TREE)]
    final = dask.delayed(_finish, pure=True)(level[0])
    return client.compute(final).result()
