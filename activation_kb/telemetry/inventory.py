"""Licence-state snapshots collected by WMI/CIM: ``SoftwareLicensingProduct`` exports.

Admins already collect them: ``Get-CimInstance SoftwareLicensingProduct | Export-Csv`` (run
remotely, with ``PSComputerName``), ConfigMgr hardware inventory (view
``v_GS_SOFTWARE_LICENSING_PRODUCT``, columns with a ``0`` suffix: ``LicenseStatus0``), Intune
remediation scripts. :func:`load_inventory` reads such CSV files into an **inventory** frame,
one row per machine and licensed product, and accounts for every row: kept, skipped (no
product key, not Windows nor Office) or rejected (unreadable value, with its line and reason).

Columns are the WMI property names PowerShell writes; they are never localized by PowerShell,
so a file whose headers are translated (a spreadsheet's) or lack a needed property is refused
with an error naming what is missing and what was found.
"""

from __future__ import annotations

import csv
import glob
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import TelemetryError
from ..schema import LICENSE_STATES

__all__ = ["load_inventory", "InventoryResult", "INVENTORY_COLUMNS", "match_devices",
           "WINDOWS_APP_ID", "OFFICE_APP_IDS"]

WINDOWS_APP_ID = "55c92734-d682-4d71-983e-d6ec3f16059f"
OFFICE_APP_IDS = ("0ff1ce15-a989-479d-af46-f275c6370663", "59a52881-a989-479d-af46-f275c6370663")

#: field -> (accepted headers, compared without case, spaces, underscores and a ConfigMgr "0"
#: suffix; what the field holds). The first four fields are required.
FIELDS: dict[str, tuple[tuple[str, ...], str]] = {
    "device": (("PSComputerName", "ComputerName", "__SERVER", "NetbiosName", "MachineName",
                "DeviceName", "DNSHostName", "Computer"), "the machine's name"),
    "license_status": (("LicenseStatus",), "licence state 0-6"),
    "grace_minutes": (("GracePeriodRemaining",), "minutes left in the current state"),
    "partial_key": (("PartialProductKey",), "last 5 characters of the installed key"),
    "application_id": (("ApplicationID", "ApplicationId"), "Windows or Office application ID"),
    "name": (("Name", "ProductName"), "product name"),
    "description": (("Description",), "product description with its channel"),
    "activation_id": (("ID", "ActivationID", "SkuId"), "activation (SKU) ID"),
    "kms_host": (("KeyManagementServiceMachine", "DiscoveredKeyManagementServiceMachineName",
                  "KMSMachineName"), "KMS host used"),
    "cmid": (("ClientMachineID", "CMID"), "KMS client machine ID"),
    "channel": (("ProductKeyChannel",), "key channel"),
    "taken_at": (("TimeStamp", "Timestamp", "CollectedAt", "CollectionTime", "ScanTime",
                  "LastHWScan", "InventoryTime", "Date", "TrustedTime"),
                 "when the snapshot was taken"),
}
_REQUIRED = ("device", "license_status", "grace_minutes", "partial_key")
#: Text states (slmgr /dlv labels, enum names) accepted in LicenseStatus besides 0-6.
_STATE_WORDS = {
    **{name.lower(): code for code, name in LICENSE_STATES.items()},
    "oobgrace": 2, "ootgrace": 3, "nongenuinegrace": 4, "extendedgrace": 6,
    "initial grace period": 2, "additional grace period": 3, "non-genuine grace period": 4,
    "extended grace period": 6,
}
#: Columns of the inventory frame.
INVENTORY_COLUMNS = ("device", "product", "license_status", "license_state", "grace_minutes",
                     "partial_key", "application_id", "name", "description", "activation_id",
                     "kms_host", "cmid", "taken_at", "taken_from", "source_file", "source_line")


@dataclass
class InventoryResult:
    """Snapshot rows read by :func:`load_inventory`, with what was not counted and why.

    Attributes
    ----------
    inventory : pandas.DataFrame
        One row per machine and product with a key (:data:`INVENTORY_COLUMNS`); ``product``
        is "windows" or "office".
    skipped : pandas.DataFrame
        Rows read but not counted (``source_file``, ``source_line``, ``device``, ``reason``):
        no product key installed, neither Windows nor Office.
    rejected : pandas.DataFrame
        Rows that could not be read (``source_file``, ``source_line``, ``reason``, ``raw``).
    records : int
        Data rows read: ``records == len(inventory) + len(skipped) + len(rejected)``.
    files : list of dict
        Per file: path, records, kept, skipped, rejected, taken_from.
    """

    inventory: pd.DataFrame
    skipped: pd.DataFrame
    rejected: pd.DataFrame
    records: int = 0
    files: list[dict[str, Any]] = field(default_factory=list)


#: normalised header -> field
_ALIASES = {re.sub(r"[\s_]+", "", a).lower(): f for f, (names, _) in FIELDS.items() for a in names}


def _decode(data: bytes) -> str:
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"),
                          (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(encoding)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _columns(header: list[str], path: str) -> dict[str, list[int]]:
    """Field -> column indexes (in the order of its accepted names); errors name what is missing.

    A field several columns may hold (``KeyManagementServiceMachine`` and
    ``DiscoveredKeyManagementServiceMachineName``) takes the first non-empty one of a row.
    """
    rank: dict[str, list[tuple[int, int]]] = {}
    for i, name in enumerate(header):
        key = re.sub(r"[\s_]+", "", name.strip()).lower()
        if key not in _ALIASES and key.endswith("0"):  # ConfigMgr: LicenseStatus0
            key = key[:-1]
        field_name = _ALIASES.get(key)
        if field_name:
            names = [re.sub(r"[\s_]+", "", a).lower() for a in FIELDS[field_name][0]]
            rank.setdefault(field_name, []).append((names.index(key), i))
    found = {f: [i for _, i in sorted(cols)] for f, cols in rank.items()}
    missing = [f for f in _REQUIRED if f not in found]
    if "application_id" not in found and "name" not in found and "description" not in found:
        missing.append("application_id")
    if missing:
        wanted = "; ".join(f"{FIELDS[f][0][0]} ({FIELDS[f][1]})" for f in missing)
        shown = ", ".join(h for h in header[:20]) + (" ..." if len(header) > 20 else "")
        raise TelemetryError(
            f"{path}: not a SoftwareLicensingProduct export: missing column(s) {wanted}; found "
            f"columns: {shown or '(none)'}. Expected the property names PowerShell writes "
            "(Get-CimInstance SoftwareLicensingProduct | Export-Csv -NoTypeInformation; "
            "ConfigMgr names such as LicenseStatus0 are accepted); translated headers are not"
        )
    return found


def _state(text: str) -> int | None:
    value = text.strip()
    if re.fullmatch(r"[0-6]", value):
        return int(value)
    return _STATE_WORDS.get(value.lower().strip("-").strip())


def _product(app: str, name: str, description: str) -> str:
    app = app.strip().strip("{}").lower()
    if app == WINDOWS_APP_ID:
        return "windows"
    if app in OFFICE_APP_IDS:
        return "office"
    text = f"{name} {description}".lower()
    if app == "" and "office" in text:
        return "office"
    if app == "" and "windows" in text:
        return "windows"
    return ""


def _read_file(path: Path, taken_at: pd.Timestamp | None, tz: str | None, kept: list,
               skipped: list, rejected: list) -> dict[str, Any]:
    name = str(path)
    try:
        text = _decode(path.read_bytes())
    except OSError as exc:
        raise TelemetryError(f"{name}: cannot read the inventory file: {exc}") from exc
    lines = text.splitlines(keepends=True)
    skip = 0
    while skip < len(lines) and (lines[skip].startswith("#") or not lines[skip].strip()):
        skip += 1  # Windows PowerShell's "#TYPE ..." line, blank lines
    body = "".join(lines[skip:])
    if not body.strip():
        raise TelemetryError(f"{name}: empty inventory file (no header row)")
    first = lines[skip]
    delimiter = max((",", ";", "\t"), key=lambda d: first.count(d))
    reader = csv.reader(io.StringIO(body), delimiter=delimiter)
    header = next(reader)
    cols = _columns(header, name)
    mtime = pd.Timestamp(os.path.getmtime(path), unit="s", tz="UTC")
    fallback = "taken_at" if taken_at is not None else "file time"
    stats = {"path": name, "records": 0, "kept": 0, "skipped": 0, "rejected": 0,
             "taken_from": "column" if "taken_at" in cols else fallback}
    default_time = taken_at if taken_at is not None else mtime
    for row in reader:
        line = skip + reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        stats["records"] += 1

        def get(field_name: str, row: list[str] = row) -> str:
            for i in cols.get(field_name, ()):
                if i < len(row) and row[i].strip():
                    return row[i].strip()
            return ""

        raw = delimiter.join(row)
        device = get("device")
        product = _product(get("application_id"), get("name"), get("description"))
        if not product:
            skipped.append((name, line, device, "neither Windows nor Office"))
            stats["skipped"] += 1
            continue
        if not get("partial_key"):
            skipped.append((name, line, device, "no product key installed"))
            stats["skipped"] += 1
            continue
        problem = None
        state = _state(get("license_status"))
        grace = get("grace_minutes")
        when, taken_from = default_time, fallback
        if not device:
            problem = ("no machine name (PSComputerName is empty when Get-CimInstance runs "
                       "locally: query with -ComputerName or add a ComputerName column)")
        elif state is None:
            problem = f"LicenseStatus {get('license_status')!r} is not a licence state 0-6"
        elif not re.fullmatch(r"\d+", grace):
            problem = f"GracePeriodRemaining {grace!r} is not a number of minutes"
        elif get("taken_at"):  # a row without a time takes the file's
            when, taken_from = _time(get("taken_at"), tz), "column"
            if when is None:
                problem = f"snapshot time {get('taken_at')!r} is not a date and time"
        if problem:
            rejected.append((name, line, problem, raw))
            stats["rejected"] += 1
            continue
        kept.append((device, product, state, int(grace), get("partial_key"),
                     get("application_id").strip("{}").lower(), get("name"), get("description"),
                     get("activation_id").strip("{}").lower(), get("kms_host").split(":")[0],
                     get("cmid").strip("{}").lower(), when, taken_from, name, line))
        stats["kept"] += 1
    return stats


_CIM = re.compile(r"^(\d{14})\.\d{6}([+-]\d{3})$")  # CIM_DATETIME: yyyymmddHHMMSS.mmmmmmsUUU


def _time(text: str, tz: str | None) -> pd.Timestamp | None:
    match = _CIM.match(text)
    try:
        if match:
            ts = pd.Timestamp(pd.to_datetime(match.group(1), format="%Y%m%d%H%M%S"))
            return (ts - pd.Timedelta(minutes=int(match.group(2)))).tz_localize("UTC")
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        return None
    if ts is pd.NaT:
        return None
    if ts.tzinfo is None:
        return ts.tz_localize(tz or "UTC").tz_convert("UTC")
    return ts.tz_convert("UTC")


def _paths(source: Any) -> list[Path]:
    items = source if isinstance(source, (list, tuple)) else [source]
    out: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in (".csv", ".txt")))
        elif any(ch in str(item) for ch in "*?["):
            matched = sorted(Path(p) for p in glob.glob(str(item)))
            if not matched:
                raise TelemetryError(f"no inventory file matches {item}")
            out.extend(matched)
        elif not path.exists():
            raise TelemetryError(f"inventory file {item} does not exist")
        else:
            out.append(path)
    if not out:
        raise TelemetryError(f"no inventory file in {source}")
    return out


def load_inventory(source: Any, *, taken_at: Any = None, tz: str | None = None) -> InventoryResult:
    """Read licence-state snapshots (``SoftwareLicensingProduct`` CSV exports).

    Parameters
    ----------
    source : path, directory, glob or list of them
        CSV files as ``Get-CimInstance SoftwareLicensingProduct | Export-Csv`` (remote, so with
        ``PSComputerName``), ConfigMgr or Intune write them: comma, semicolon (``-UseCulture``)
        or tab separated, an optional ``#TYPE`` line, UTF-8 or UTF-16. Needed columns:
        ``PSComputerName`` (or ``ComputerName``, ``Netbios_Name0`` ...), ``LicenseStatus``,
        ``GracePeriodRemaining``, ``PartialProductKey`` and ``ApplicationID`` (or ``Name`` /
        ``Description``); used when present: ``KeyManagementServiceMachine``,
        ``ClientMachineID``, ``ID``, ``Description`` and a snapshot time (``TimeStamp`` ...).
    taken_at : str or timestamp, optional
        When the snapshot was taken, for files without a time column (default: the file's
        modification time).
    tz : str, optional
        Time zone of naive times (default UTC).

    Returns
    -------
    InventoryResult
        ``inventory`` (Windows and Office rows with a product key, ``product`` tells them
        apart), ``skipped`` and ``rejected`` rows with their reasons.

    Raises
    ------
    TelemetryError
        For a missing file, or a file without the needed columns (the message names them).
    """
    when = None
    if taken_at is not None:
        when = pd.Timestamp(taken_at)
        when = when.tz_localize(tz or "UTC") if when.tzinfo is None else when
        when = when.tz_convert("UTC")
    kept: list[tuple] = []
    skipped: list[tuple] = []
    rejected: list[tuple] = []
    files = [_read_file(p, when, tz, kept, skipped, rejected) for p in _paths(source)]
    inventory = pd.DataFrame(kept, columns=[c for c in INVENTORY_COLUMNS if c != "license_state"])
    inventory["license_state"] = pd.Categorical(
        inventory["license_status"].map(LICENSE_STATES), list(LICENSE_STATES.values()))
    inventory["license_status"] = inventory["license_status"].astype("Int8")
    inventory["grace_minutes"] = inventory["grace_minutes"].astype("Int64")
    inventory["taken_at"] = pd.to_datetime(inventory["taken_at"], utc=True)
    for column in ("device", "product", "partial_key", "application_id", "name", "description",
                   "activation_id", "kms_host", "cmid", "taken_from", "source_file"):
        inventory[column] = inventory[column].astype("string")
    inventory = inventory[list(INVENTORY_COLUMNS)]
    return InventoryResult(
        inventory=inventory,
        skipped=pd.DataFrame(skipped, columns=["source_file", "source_line", "device", "reason"]),
        rejected=pd.DataFrame(rejected, columns=["source_file", "source_line", "reason", "raw"]),
        records=sum(f["records"] for f in files),
        files=files,
    )


def match_devices(inventory: pd.DataFrame, names: np.ndarray, cmids: np.ndarray) -> np.ndarray:
    """Return, for each inventory row, the index in ``names`` of the machine it describes.

    By CMID when one machine has it, else by full name (case-insensitive), else by short name
    when exactly one known machine has that short name.

    Parameters
    ----------
    inventory : pandas.DataFrame
        Rows with ``device`` (and ``cmid``).
    names : array of str
        Known machine names (full, any case).
    cmids : array of str
        Their CMIDs ("" when unknown), aligned with ``names``.

    Returns
    -------
    numpy.ndarray
        One index per row; -1 for a machine ``names`` does not hold.
    """
    names = pd.Index(pd.Series(np.asarray(names, dtype=object)).astype(str).str.lower())
    device = inventory["device"].astype(str).str.lower()
    out = np.full(len(inventory), -1, dtype=np.int64)
    if "cmid" in inventory and len(cmids):
        known = pd.Series(np.asarray(cmids, dtype=object)).astype(str)
        unique = known[(known != "") & ~known.duplicated(keep=False)]
        pos = pd.Index(unique.to_numpy()).get_indexer(inventory["cmid"].fillna("").astype(str))
        out = np.where(pos >= 0, unique.index.to_numpy()[np.maximum(pos, 0)]
                       if len(unique) else -1, -1)
    full = names.get_indexer(device)
    out = np.where(out < 0, full, out)
    short = pd.Series(names.str.split(".").str[0])
    unique_short = short[~short.duplicated(keep=False)]
    dotless = ~device.str.contains(".", regex=False).to_numpy()
    by_short = pd.Index(unique_short.to_numpy()).get_indexer(device.str.split(".").str[0])
    by_short = np.where(by_short >= 0, unique_short.index.to_numpy()[np.maximum(by_short, 0)]
                        if len(unique_short) else -1, -1)
    return np.where((out < 0) & dotless, by_short, out)
