"""The Dask engine's per-machine facts: each machine's usual profile and last attempt.

A task reduces its attempts to one row per machine and combination of the profile's dimensions
(how many attempts, the last one in the period), cut into buckets by a hash of the machine's
name (:func:`machine_buckets`). Bucket ``k`` of a few tasks is combined as they end
(:func:`combine_machines`: workers do not hold every task's machines until the last), then of
all of them, by one Dask task (:func:`merge_machines`), into the final rows of its machines:
every machine is in one bucket, so no machine is merged by more than two tasks. A merge tree
re-read the same machines at every level (measured at 10 million records: 28 merges took 11.5
of the workers' 60 CPU seconds, merging the five dimensions' counts per machine as text each
time).

The profile is the one ``explain_spikes`` builds from the attempts: for each dimension, the
value a machine's attempts carried most often, the smallest (code point order) among equals,
"" when none carried one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["PROFILE_DIMENSIONS", "MACHINE_SCHEMA", "machine_buckets", "combine_machines",
           "merge_machines", "bucket_of"]

#: Dimensions of the device profile incidents rank (``explain_spikes``' default).
PROFILE_DIMENSIONS = ("site", "kms_host", "edition", "sku_id", "role")
_NONE = np.iinfo(np.int64).min  # no attempt in the period (NaT's value)
_DIM_TYPE = pa.dictionary(pa.int32(), pa.string())
#: Columns of a task's machine facts: attempts per machine and combination of the dimensions,
#: and the machine's last attempt in the period (null when none was).
MACHINE_SCHEMA = pa.schema([("device", pa.string()),
                            *[(dim, _DIM_TYPE) for dim in PROFILE_DIMENSIONS],
                            ("n", pa.int64()), ("last", pa.timestamp("ns", tz="UTC"))])


def bucket_of(names: np.ndarray, buckets: int) -> np.ndarray:
    """Return the bucket (0 .. ``buckets`` - 1) of each machine name, the same in every process.

    pandas' ``hash_array`` (SipHash with a fixed key), not Python's ``hash``, which differs
    between processes.
    """
    if buckets <= 1 or not len(names):
        return np.zeros(len(names), dtype=np.int64)
    hashed = pd.util.hash_array(np.asarray(names, dtype=object), categorize=False)
    return (hashed % np.uint64(buckets)).astype(np.int64)


def _categorical(values: pd.Series) -> pd.Categorical:
    return (values.array if isinstance(values.dtype, pd.CategoricalDtype)
            else pd.Categorical(values.astype(str)))


def machine_buckets(attempts: pd.DataFrame, lo: pd.Timestamp | None,
                    buckets: int) -> list[pa.Table]:
    """Reduce attempts to a task's machine facts, cut into ``buckets`` (:data:`MACHINE_SCHEMA`).

    Parameters
    ----------
    attempts : pandas.DataFrame
        Attempts (``activation_attempts``' ``attempts``): ``device``, ``time`` and the
        :data:`PROFILE_DIMENSIONS`.
    lo : pandas.Timestamp or None
        Start of the period: ``last`` is the last attempt at or after it.
    buckets : int
        How many buckets.

    Returns
    -------
    list of pyarrow.Table
        Table ``k`` holds the machines whose :func:`bucket_of` is ``k``.
    """
    device = _categorical(attempts["device"])
    dims = [_categorical(attempts[dim]) for dim in PROFILE_DIMENSIONS]
    times = pd.DatetimeIndex(attempts["time"]).as_unit("ns").asi8
    if lo is not None:
        times = np.where(times >= pd.Timestamp(lo).as_unit("ns").value, times, _NONE)
    # on the categories' codes: no Python string per attempt
    keys = pd.DataFrame({"d": device.codes, **{dim: c.codes for dim, c in
                                               zip(PROFILE_DIMENSIONS, dims)}})
    facts = _summed(keys, np.ones(len(keys), dtype=np.int64), times)
    names = np.asarray(device.categories.astype(str), dtype=object)
    d = facts["d"].to_numpy(np.int64)
    table = _table(pa.array(names, pa.string()), facts, {
        dim: pa.array(np.asarray(c.categories.astype(str), dtype=object), pa.string())
        for dim, c in zip(PROFILE_DIMENSIONS, dims)})
    where = bucket_of(names, buckets)[d]
    return [table.filter(pa.array(where == k)) for k in range(buckets)]


def combine_machines(pieces: Sequence[pa.Table]) -> pa.Table:
    """Add up machine facts of disjoint attempts, keeping :data:`MACHINE_SCHEMA`.

    The engine combines each bucket of a few tasks at a time as they end, so that workers do
    not hold every task's machines until the last task ends (a machine active on many days is
    one row after this); :func:`merge_machines` takes combined tables as it takes pieces.
    """
    table, device = _joined(pieces)
    if not table.num_rows:
        return MACHINE_SCHEMA.empty_table()
    dims = {dim: table[dim].combine_chunks() for dim in PROFILE_DIMENSIONS}
    keys = pd.DataFrame({"d": device.indices.to_numpy(zero_copy_only=False),
                         **{dim: column.indices.to_numpy(zero_copy_only=False)
                            for dim, column in dims.items()}})
    last = table["last"].to_numpy(zero_copy_only=False).astype("datetime64[ns]").view(np.int64)
    facts = _summed(keys, table["n"].to_numpy(), last)
    return _table(device.dictionary, facts,
                  {dim: column.dictionary for dim, column in dims.items()})


def _joined(pieces: Sequence[pa.Table]) -> tuple[pa.Table, pa.DictionaryArray]:
    """Concatenate machine facts (dimensions on one dictionary each); encode their machines."""
    table = pa.concat_tables([p for p in pieces if p.num_rows] or [MACHINE_SCHEMA.empty_table()])
    table = table.unify_dictionaries()
    return table, pc.dictionary_encode(table["device"].combine_chunks())


def _summed(keys: pd.DataFrame, n: np.ndarray, last: np.ndarray) -> pd.DataFrame:
    """Sum ``n`` and take the latest ``last`` (ns, :data:`_NONE` for none) per row of codes."""
    grouped = keys.assign(n=n, t=last).groupby(list(keys.columns), sort=False)
    return grouped.agg(n=("n", "sum"), t=("t", "max")).reset_index()


def _table(devices: pa.Array, facts: pd.DataFrame,
           dictionaries: dict[str, pa.Array]) -> pa.Table:
    """Return :func:`_summed`'s rows as :data:`MACHINE_SCHEMA` (codes into these names)."""
    t = facts["t"].to_numpy(np.int64)
    columns = {
        "device": devices.take(pa.array(facts["d"].to_numpy(np.int64))),
        **{dim: pa.DictionaryArray.from_arrays(pa.array(facts[dim].to_numpy(np.int32)),
                                               dictionaries[dim])
           for dim in PROFILE_DIMENSIONS},
        "n": pa.array(facts["n"].to_numpy(np.int64)),
        "last": pa.array(t, pa.int64(), mask=t == _NONE).cast(pa.timestamp("ns", tz="UTC")),
    }
    return pa.table(columns, schema=MACHINE_SCHEMA)


def merge_machines(pieces: Sequence[pa.Table]) -> pd.DataFrame:
    """Merge machine facts of disjoint attempts into one row per machine.

    Parameters
    ----------
    pieces : sequence of pyarrow.Table
        :func:`machine_buckets`' tables (one bucket of every task, or any tables of that
        schema).

    Returns
    -------
    pandas.DataFrame
        ``device`` (text), each of :data:`PROFILE_DIMENSIONS` (categorical: the machine's
        usual value, "" when none) and ``last`` (its last attempt in the period, NaT if none).
    """
    table, device = _joined(pieces)
    d = device.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    machines = len(device.dictionary)
    n = table["n"].to_numpy()
    out = {"device": device.dictionary.to_pandas()}  # Arrow's text: no Python string each
    for dim in PROFILE_DIMENSIONS:
        out[dim] = _usual(d, machines, table[dim].combine_chunks(), n)
    last = pd.Series(table["last"].to_numpy(zero_copy_only=False).astype("datetime64[ns]"))
    out["last"] = pd.DatetimeIndex(last.groupby(d).max().reindex(range(machines))
                                   .to_numpy()).tz_localize("UTC")
    return pd.DataFrame(out)


def _usual(d: np.ndarray, machines: int, column: pa.DictionaryArray,
           n: np.ndarray) -> pd.Categorical:
    """Each machine's value of a dimension carried by most attempts (smallest among equals)."""
    values = column.dictionary
    order = pc.array_sort_indices(values).to_numpy()  # UTF-8: code point order
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    v = column.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    keep = np.ones(len(v), dtype=bool)
    empty = pc.index(values, "").as_py() if len(values) else -1
    if empty >= 0:
        keep = v != empty
    width = max(1, len(values))
    key = d[keep] * width + rank[v[keep]]
    inverse, keys = pd.factorize(key)  # hashed: sorting every row took twice as long
    sums = np.bincount(inverse, weights=n[keep], minlength=len(keys))
    who, what = keys // width, keys % width
    best = np.lexsort((what, -sums, who))  # per machine: most attempts, then smallest value
    first = best[np.r_[True, who[best][1:] != who[best][:-1]]] if len(best) else best
    usual = np.full(machines, -1, dtype=np.int64)
    usual[who[first]] = what[first]
    present = np.unique(usual)  # ranks used, -1 (none) first
    categories = values.take(pa.array(order[present[present >= 0]])).to_pylist()
    if present.size and present[0] < 0:
        categories = ["", *categories]  # "" sorts first
    return pd.Categorical.from_codes(np.searchsorted(present, usual), categories)
