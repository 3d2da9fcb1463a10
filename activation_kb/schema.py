"""Column names and dtypes of the frames activation_kb exchanges.

Every module refers to columns through these constants, so a rename happens in one place.
The canonical **events** frame has one row per event log record (or simulated event); see
:data:`EVENT_DTYPES` for the dtypes and :func:`coerce_events` to bring any frame to them.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .errors import SchemaError

__all__ = [
    # events columns
    "EVENT_TIME", "HOST", "ROLE", "CHANNEL", "PROVIDER", "EVENT_ID", "RECORD_ID", "LEVEL",
    "EVENT_KIND", "ACTIVATION_METHOD", "RESULT_CODE", "CODE", "IS_SUCCESS", "CATEGORY",
    "STATUS_FLAGS", "KMS_HOST", "KMS_PORT", "CLIENT_NAME", "CMID", "CLIENT_TIME", "IS_VM",
    "LICENSE_STATUS", "MINUTES_TO_EXPIRY", "SKU_ID", "APP_ID", "MIN_COUNT", "KMS_COUNT",
    "ACTIVATION_INTERVAL_MIN", "RENEWAL_INTERVAL_MIN", "TRIGGER", "SITE", "MESSAGE",
    "SOURCE_FORMAT", "SOURCE_FILE", "SOURCE_RECORD", "RAW",
    # vocabularies
    "ROLES", "LEVELS", "EVENT_KINDS", "ACTIVATION_METHODS", "SOURCE_FORMATS", "ERROR_CATEGORIES",
    "LICENSE_STATES",
    "EVENT_DTYPES", "EVENT_COLUMNS", "REJECTED_COLUMNS", "REJECTED_DTYPES",
    "empty_events", "coerce_events", "validate_events", "empty_rejected",
]

EVENT_TIME = "event_time"
HOST = "host"
ROLE = "role"
CHANNEL = "channel"
PROVIDER = "provider"
EVENT_ID = "event_id"
RECORD_ID = "record_id"
LEVEL = "level"
EVENT_KIND = "event_kind"
ACTIVATION_METHOD = "activation_method"
RESULT_CODE = "result_code"
CODE = "code"
IS_SUCCESS = "is_success"
CATEGORY = "category"
STATUS_FLAGS = "status_flags"
KMS_HOST = "kms_host"
KMS_PORT = "kms_port"
#: The client named by a KMS host record (12290 Info field 3); empty on client-side records.
CLIENT_NAME = "client_name"
CMID = "cmid"
CLIENT_TIME = "client_time"
IS_VM = "is_vm"
LICENSE_STATUS = "license_status"
MINUTES_TO_EXPIRY = "minutes_to_expiry"
SKU_ID = "sku_id"
APP_ID = "app_id"
MIN_COUNT = "min_count"
KMS_COUNT = "kms_count"
ACTIVATION_INTERVAL_MIN = "activation_interval_min"
RENEWAL_INTERVAL_MIN = "renewal_interval_min"
TRIGGER = "trigger"
SITE = "site"
MESSAGE = "message"
SOURCE_FORMAT = "source_format"
SOURCE_FILE = "source_file"
SOURCE_RECORD = "source_record"
RAW = "raw"

#: Host roles: a KMS client (any machine asking for activation) or a KMS host.
ROLES = ("client", "kms_host")
#: Severity from the event's ``Level`` (1 critical and 2 error -> error, 3 warning, 0/4/5 info).
LEVELS = ("error", "warning", "info")
#: What an event means for activation. See ``activation_kb.telemetry`` for the mapping from IDs.
EVENT_KINDS = (
    "kms_request",        # 12288 client sent a request (carries the attempt's HRESULT)
    "kms_response",       # 12289 client processed a response
    "kms_host_request",   # 12290 KMS host processed a request
    "activation_failure", # 8198 slui/rules engine activation failure (hr=...)
    "vl_failure",         # 8233 rules engine: failed VL activation attempt (Reason:...)
    "status_check",       # 1003 licensing status check
    "dns_publish_fail",   # 12293 KMS host failed to publish its SRV record
    "dns_publish_ok",     # 12294 KMS host published its SRV record
    "adba_success",       # 12308 Active Directory-based activation succeeded
    "other",              # any other event ID: kept, never dropped
)
ACTIVATION_METHODS = ("KMS", "ADBA", "MAK", "Retail", "Token", "unknown")
SOURCE_FORMATS = (
    "wevtutil_xml", "evtx", "winevent_csv", "eventviewer_csv", "la_event", "la_windowsevent",
    "canonical_csv", "canonical_parquet", "synthetic",
)
#: Error categories (see ``activation_kb/data/categories.csv``); "other" = not in the article.
ERROR_CATEGORIES = (
    "dns", "kms_unreachable", "kms_count", "kms_host", "clock", "product_key",
    "activation_limit", "grace_genuine", "hardware", "offline_data", "permissions", "other",
)

#: Licence states (``license_status``: 12288/12290 field 6, SoftwareLicensingProduct.LicenseStatus).
LICENSE_STATES: Mapping[int, str] = {
    0: "Unlicensed",
    1: "Licensed",
    2: "OOB grace",
    3: "OOT grace",
    4: "Non-genuine grace",
    5: "Notification",
    6: "Extended grace",
}

_STR = pd.StringDtype("pyarrow")
_UTC = pd.DatetimeTZDtype("ns", "UTC")

#: Canonical events frame: column -> dtype, in column order.
EVENT_DTYPES: Mapping[str, object] = {
    EVENT_TIME: _UTC,
    HOST: _STR,
    ROLE: pd.CategoricalDtype(ROLES),
    CHANNEL: _STR,
    PROVIDER: _STR,
    EVENT_ID: "Int32",
    RECORD_ID: "Int64",
    LEVEL: pd.CategoricalDtype(LEVELS),
    EVENT_KIND: pd.CategoricalDtype(EVENT_KINDS),
    ACTIVATION_METHOD: pd.CategoricalDtype(ACTIVATION_METHODS),
    RESULT_CODE: "UInt32",
    CODE: _STR,
    IS_SUCCESS: "boolean",
    CATEGORY: pd.CategoricalDtype(ERROR_CATEGORIES),
    STATUS_FLAGS: "UInt32",
    KMS_HOST: _STR,
    KMS_PORT: "UInt16",
    CLIENT_NAME: _STR,
    CMID: _STR,
    CLIENT_TIME: "datetime64[ns]",
    IS_VM: "boolean",
    LICENSE_STATUS: "Int8",
    MINUTES_TO_EXPIRY: "Int32",
    SKU_ID: _STR,
    APP_ID: _STR,
    MIN_COUNT: "Int16",
    KMS_COUNT: "Int16",
    ACTIVATION_INTERVAL_MIN: "Int32",
    RENEWAL_INTERVAL_MIN: "Int32",
    TRIGGER: _STR,
    SITE: _STR,
    MESSAGE: _STR,
    SOURCE_FORMAT: pd.CategoricalDtype(SOURCE_FORMATS),
    SOURCE_FILE: _STR,
    SOURCE_RECORD: "Int64",
    RAW: _STR,
}
EVENT_COLUMNS: tuple[str, ...] = tuple(EVENT_DTYPES)

#: Rejected records: where each came from and why it was not loaded.
REJECTED_DTYPES: Mapping[str, object] = {
    SOURCE_FILE: _STR,
    SOURCE_RECORD: "Int64",
    SOURCE_FORMAT: _STR,
    "reason": _STR,
    RAW: _STR,
}
REJECTED_COLUMNS: tuple[str, ...] = tuple(REJECTED_DTYPES)

_REQUIRED = (EVENT_TIME, HOST, EVENT_ID)


def empty_events() -> pd.DataFrame:
    """Return an events frame with no rows and every canonical column and dtype.

    Returns
    -------
    pandas.DataFrame
    """
    return pd.DataFrame({c: pd.Series([], dtype=d) for c, d in EVENT_DTYPES.items()})


def empty_rejected() -> pd.DataFrame:
    """Return a rejected-records frame with no rows.

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`REJECTED_DTYPES`.
    """
    return pd.DataFrame({c: pd.Series([], dtype=d) for c, d in REJECTED_DTYPES.items()})


def _cast(series: pd.Series, column: str, dtype: object) -> pd.Series:
    if column == EVENT_TIME:
        out = pd.to_datetime(series, utc=True)
        return out.astype(_UTC)
    if column == CLIENT_TIME:
        out = pd.to_datetime(series)
        if getattr(out.dtype, "tz", None) is not None:
            out = out.dt.tz_localize(None)
        return out.astype("datetime64[ns]")
    if isinstance(dtype, pd.CategoricalDtype):
        return series.astype("string").astype(dtype)
    return series.astype(dtype)


def coerce_events(events: pd.DataFrame) -> pd.DataFrame:
    """Return ``events`` with the canonical columns, in canonical order and dtypes.

    Missing optional columns are added, empty (``site`` gets ``""``); extra columns are kept after
    the canonical ones.

    Parameters
    ----------
    events : pandas.DataFrame
        A frame holding at least ``event_time``, ``host`` and ``event_id``.

    Returns
    -------
    pandas.DataFrame
        A new frame; ``events`` is not modified.

    Raises
    ------
    SchemaError
        When a required column is missing or a column cannot be cast, naming the column.
    """
    missing = [c for c in _REQUIRED if c not in events.columns]
    if missing:
        raise SchemaError(
            f"events frame lacks required column(s) {', '.join(missing)}; "
            f"expected at least {', '.join(_REQUIRED)}"
        )
    n = len(events)
    data: dict[str, pd.Series] = {}
    for column, dtype in EVENT_DTYPES.items():
        if column in events.columns:
            try:
                data[column] = _cast(events[column], column, dtype).reset_index(drop=True)
            except (TypeError, ValueError) as exc:
                raise SchemaError(f"column {column!r} cannot be cast to {dtype}: {exc}") from exc
        elif column == SITE:
            data[column] = pd.Series([""] * n, dtype=_STR)
        else:
            data[column] = pd.Series([pd.NA] * n, dtype=dtype if not isinstance(
                dtype, pd.CategoricalDtype) else dtype)
    out = pd.DataFrame(data)
    extras = [c for c in events.columns if c not in EVENT_DTYPES]
    for column in extras:
        out[column] = events[column].reset_index(drop=True)
    return out


def validate_events(events: pd.DataFrame) -> None:
    """Check that ``events`` has every canonical column with its canonical dtype.

    Parameters
    ----------
    events : pandas.DataFrame
        The frame to check.

    Raises
    ------
    SchemaError
        Naming every missing column and every column whose dtype differs.
    """
    problems = []
    for column, dtype in EVENT_DTYPES.items():
        if column not in events.columns:
            problems.append(f"missing column {column!r}")
        elif events[column].dtype != dtype:
            problems.append(f"column {column!r} has dtype {events[column].dtype}, expected {dtype}")
    if problems:
        raise SchemaError(
            "events frame does not follow the canonical schema: " + "; ".join(problems)
        )


def distinct_categories(categories: pd.Index) -> pd.CategoricalDtype:
    """Return the unordered categorical dtype of ``categories``, known to be distinct.

    For values that are distinct by construction (a dictionary's, a hash table's): pandas'
    own fast path, which does not hash them all again to check (a tenth of a second for
    460,000 machine names).
    """
    try:
        return pd.CategoricalDtype._from_fastpath(categories, ordered=False)
    except AttributeError:  # pragma: no cover - a pandas without it
        return pd.CategoricalDtype(categories, ordered=False)
