"""Records whose result code is written but cannot be read: found, so that they are counted.

A record keeps loading when its HRESULT field does not parse (the rest of it is still true), but
it then has no result code and takes no part in the attempts. :func:`unreadable_codes` finds
such records in a canonical events frame from the insertion strings kept in its ``raw`` column,
so that the analysis reports them (``quality["unreadable_codes"]``) instead of dropping them
unseen.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import schema
from ._fields import items

__all__ = ["UNREADABLE_COLUMNS", "CODED_KINDS", "unreadable_codes"]

#: Columns of :func:`unreadable_codes` output.
UNREADABLE_COLUMNS = ("source_file", "source_record", "event_id", "event_kind", "text")

# where each kind writes its result code: an insertion string (index, Info line?, lead?) ...
_ITEM = {
    "kms_request": (0, True, False),
    "kms_response": (0, True, False),
    "kms_host_request": (1, True, True),
    "dns_publish_fail": (0, False, False),
}
# ... or a label in the text
_LABEL = {
    "activation_failure": r"(?i)\bhr\s*=\s*(?P<v>[^\s;,]+)",
    "vl_failure": r"(?i)\bReason\s*:\s*(?P<v>[^\s;,]+)",
}
#: Event kinds whose records write a result code: only their records without one read are
#: looked at by :func:`unreadable_codes`.
CODED_KINDS = (*_ITEM, *_LABEL)


def _code_text(kind: str, data: pa.Array) -> pa.Array:
    """Return the text of the result-code field of records of ``kind`` ("" when absent)."""
    if kind in _ITEM:
        index, info, lead = _ITEM[kind]
        count = index + 1
        return items(data, count + (1 if lead else 0), info=info, lead=lead)[index]
    found = pc.struct_field(pc.extract_regex(data, _LABEL[kind]), [0])
    return pc.fill_null(found, "")


def unreadable_codes(events: pd.DataFrame) -> pd.DataFrame:
    """Return the records that write a result code the loader could not read.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events frame (its ``raw`` column holds each record's insertion strings).

    Returns
    -------
    pandas.DataFrame
        One row per such record (:data:`UNREADABLE_COLUMNS`): its file, record number, event ID,
        kind, and the text found where the code should be. Empty when every written code was
        read (or the frame carries no ``raw`` text).
    """
    needed = (schema.EVENT_KIND, schema.RESULT_CODE, schema.RAW)
    if any(column not in events.columns for column in needed) or events.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in UNREADABLE_COLUMNS})
    missing = events[schema.RESULT_CODE].isna().to_numpy(dtype=bool)
    parts = []
    for name in CODED_KINDS if missing.any() else ():
        rows = np.flatnonzero(missing & (events[schema.EVENT_KIND] == name).to_numpy(dtype=bool))
        if not rows.size:
            continue
        raw = events[schema.RAW].iloc[rows].astype("string").fillna("")
        text = pc.utf8_trim_whitespace(_code_text(name, pa.array(raw.to_numpy(dtype=object),
                                                                 pa.string())))
        bad = pc.not_equal(text, "").to_numpy(zero_copy_only=False)
        if bad.any():
            picked = events.iloc[rows[bad]]
            parts.append(pd.DataFrame({
                "source_file": picked.get(schema.SOURCE_FILE, pd.Series(index=picked.index)),
                "source_record": picked.get(schema.SOURCE_RECORD, pd.Series(index=picked.index)),
                "event_id": picked.get(schema.EVENT_ID, pd.Series(index=picked.index)),
                "event_kind": name,
                "text": text.filter(pa.array(bad)).to_pylist(),
            }).reset_index(drop=True))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in UNREADABLE_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["source_file", "source_record"], kind="stable", ignore_index=True)
