"""Per KMS host: requests answered and not, codes returned, clients counted, and the forecast.

A KMS host's count is the number of distinct clients (CMIDs) that reached it in the last 30
days; clients are counted by CMID as the host does (two machines of one name in two domains are
two clients; a machine whose records carry no CMID counts by name). Clients reach a host when
it answers them (12289 on the client, 12290 on the host), even with an error such as
0xC004F038; a 12288 that names the host without either answer did not reach it. The
**forecast** projects the count day by day from each client's last request to the host: a
client still renewing (seen within twice the renewal interval, and not moved to another
host) stays; the others drop out when their last request ages past 30 days. The day the count
falls below the threshold (25 when client editions use the host, else 5) is the first day it
is projected below it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ... import schema
from ...errors import AnalysisError
from ...params import check_date, check_duration, check_lang
from ._facts import _kms_names, _office
from ._records import KIND_CODES, DeviceRecords, device_records
from ._source import events_of
from ._words import say
from .device import RENEWAL, default_at

__all__ = ["kms_health", "assess_kms", "KmsHealth", "COUNT_WINDOW", "DAILY_COLUMNS", "HOST_COLUMNS"]

COUNT_WINDOW = pd.Timedelta(days=30)
_DAY = 86_400 * 10**9
_WINDOW = 10 * 60 * 10**9
DAILY_COLUMNS = ("host", "day", "requests", "answered", "not_answered", "clients_served",
                 "clients_30d", "servers_30d", "count_30d", "count_reported",
                 "count_reported_clients", "count_reported_servers", "threshold", "below",
                 "error_codes")
HOST_COLUMNS = ("host", "status", "message", "count", "clients", "servers", "threshold",
                "below_now", "falls_below_on", "renewals_needed", "renewing", "last_request",
                "last_answer", "stopped_answering", "unanswered_since", "machines_unanswered",
                "requests_30d", "answered_30d")


@dataclass(frozen=True)
class KmsHealth:
    """What :func:`kms_health` found.

    Attributes
    ----------
    hosts : pandas.DataFrame
        One row per KMS host (:data:`HOST_COLUMNS`): ``status`` (not_answering,
        below_threshold, at_risk, ok, or idle: no request for twice the renewal interval, its
        clients use other hosts), the ``message`` to show, ``count`` (distinct machines in the
        30 days before ``at``; ``clients`` and ``servers`` apart), ``threshold``,
        ``falls_below_on``
        (the day the count is forecast below it; NaT: not within the horizon) and
        ``renewals_needed`` (machines that must renew by then to stay at the threshold),
        ``renewing`` (machines expected to keep renewing), ``last_answer``,
        ``stopped_answering`` with the requests (``unanswered_since``) and machines left
        unanswered since its last answer.
    daily : pandas.DataFrame
        Per host and UTC day (:data:`DAILY_COLUMNS`): requests, answered and not answered
        (12288 without 12289 or 12290), clients served, distinct machines in the 30 days to the
        end of the day (client editions and servers apart), the largest count it reported
        (to client editions and servers apart), threshold, ``below``, and ``error_codes``
        ({code: answers}).
    forecast : pandas.DataFrame
        ``host``, ``day``, ``count`` (projected at the end of the day), ``threshold`` and
        ``below``, from the day of ``at`` to ``horizon`` ahead.
    contacts : pandas.DataFrame
        One row per request that named a host: ``time``, ``host``, ``device``, ``client``
        (its CMID, or "device:" and its name), ``edition``, ``answered``, ``code`` (the host's
        answer, "" when none) and ``count`` (the count the answer reported, -1 when none).
    at : pandas.Timestamp
        When the assessment was made.
    """

    hosts: pd.DataFrame
    daily: pd.DataFrame
    forecast: pd.DataFrame
    contacts: pd.DataFrame
    at: pd.Timestamp
    notes: list[str] = field(default_factory=list)

    @property
    def messages(self) -> list[str]:
        """One sentence per host, most urgent first."""
        return [str(m) for m in self.hosts["message"]]


def _contacts(events: pd.DataFrame, until: int | None, rec: DeviceRecords | None = None
              ) -> pd.DataFrame:
    """One row per request (12288, 12289, 12290 records of a device within 10 minutes)."""
    rec = device_records(events) if rec is None else rec
    rows, kind = rec.rows, rec.kind
    req, resp, on_host = (kind == KIND_CODES[k] for k in
                          ("kms_request", "kms_response", "kms_host_request"))
    keep = (req | resp | on_host) & ~_office(events)[rows]
    if until is not None:
        keep &= rec.t <= until
    host_code, host_names = _kms_names(events, rec)
    cmid, cmids = rec.column(events, schema.CMID)
    pick = np.flatnonzero(keep)
    pick = pick[np.lexsort((rec.rank[pick], rec.dev[pick]))]  # by device, then time
    dev, t = rec.dev[pick], rec.t[pick]
    host_code, req, resp, on_host, cmid = (x[pick] for x in (host_code, req, resp, on_host, cmid))
    code = events[schema.RESULT_CODE].to_numpy(dtype=np.int64, na_value=-1)[rows[pick]]
    count = events[schema.KMS_COUNT].to_numpy(dtype=np.int64, na_value=-1)[rows[pick]]
    minimum = events[schema.MIN_COUNT].to_numpy(dtype=np.int64, na_value=-1)[rows[pick]]
    n = pick.size
    if not n:
        return pd.DataFrame({"time": pd.Series([], dtype="datetime64[ns, UTC]"),
                             **{c: pd.Series([], dtype=object)
                                for c in ("host", "device", "client", "edition", "code")},
                             "answered": pd.Series([], dtype=bool),
                             "count": pd.Series([], dtype=np.int64)})
    # the CMID of each record, carried forward over the device's records that lack one (12289):
    # a KMS host's log may name two machines alike, their CMIDs keep their requests apart
    first = np.ones(n, bool)
    first[1:] = dev[1:] != dev[:-1]
    seg_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    last_with = np.maximum.accumulate(np.where(cmid >= 0, np.arange(n), -1))
    carried = np.where(last_with >= seg_start, cmid[np.maximum(last_with, 0)], -1)
    new = np.ones(n, bool)
    new[1:] = (first[1:] | (t[1:] - t[:-1] > _WINDOW)
               | ((carried[1:] != carried[:-1]) & (cmid[1:] >= 0)))
    starts = np.flatnonzero(new)

    def most(values: np.ndarray) -> np.ndarray:
        return np.maximum.reduceat(values, starts)

    answered = np.logical_or.reduceat(resp | on_host, starts)
    host_code_of = most(host_code)
    host_answer = most(np.where(on_host, code, -1))
    client_answer = most(np.where(resp, code, -1))
    returned = np.where(host_answer >= 0, host_answer, client_answer)
    edition = most(np.where(np.isin(minimum, (5, 25)), minimum, -1))
    cmid_of = most(cmid)
    seg_dev = dev[starts]
    # text columns as categoricals: groupby and filters work on codes, not strings
    device_cat = pd.Categorical.from_codes(seg_dev, rec.names)
    clients = np.concatenate([np.asarray(cmids, dtype=object), np.asarray(
        pc.binary_join_element_wise("device:", pa.array(rec.names, pa.string()), "")
        .to_numpy(zero_copy_only=False), dtype=object)])
    client_cat = pd.Categorical.from_codes(np.where(cmid_of >= 0, cmid_of, len(cmids) + seg_dev),
                                           clients)
    uniq, inverse = np.unique(np.where(answered, returned, -1), return_inverse=True)
    texts = [f"0x{int(c):08X}" if c >= 0 else "" for c in uniq]
    frame = pd.DataFrame({
        "time": pd.DatetimeIndex(t[starts].astype("datetime64[ns]")).tz_localize("UTC"),
        "host": pd.Categorical.from_codes(np.maximum(host_code_of, 0), host_names)
        if len(host_names) else pd.Categorical([""] * starts.size),
        "device": device_cat,
        "client": client_cat,
        "edition": pd.Categorical.from_codes(np.where(edition == 25, 0, np.where(
            edition == 5, 1, 2)), ["client", "server", ""]),
        "answered": answered,
        "code": pd.Categorical.from_codes(inverse, pd.Index(texts).unique())
        if len(set(texts)) == len(texts) else pd.Categorical(np.asarray(texts)[inverse]),
        "count": most(np.where(resp, count, -1)),
    })
    frame = frame[host_code_of >= 0]
    frame["host"] = frame["host"].cat.remove_unused_categories()
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def _rolling_distinct(contacts: pd.DataFrame, days: pd.DatetimeIndex,
                      edition: str | None) -> pd.DataFrame:
    """Per host and day, machines with an answered request in the 30 days to the day's end."""
    part = contacts[contacts["answered"]]
    if edition is not None:
        part = part[part["edition"] == edition]
    hosts = sorted(contacts["host"].unique())
    out = np.zeros((len(hosts), len(days)), np.int64)
    if len(part):
        day0 = days[0]
        d = ((part["time"].dt.floor("D") - day0) // pd.Timedelta(days=1)).to_numpy(np.int64)
        h = pd.Index(hosts).get_indexer(part["host"])
        dev = part["client"].cat.codes.to_numpy()
        key = pd.DataFrame({"h": h, "dev": dev, "d": d}).drop_duplicates().sort_values(
            ["h", "dev", "d"]).to_numpy()
        same = np.r_[(key[1:, 0] == key[:-1, 0]) & (key[1:, 1] == key[:-1, 1]), False]
        nxt = np.where(same, np.r_[key[1:, 2], 0], np.iinfo(np.int64).max)
        stop = np.minimum(key[:, 2] + COUNT_WINDOW.days, nxt)  # covered days [d, stop)
        width = len(days) + COUNT_WINDOW.days + 1
        diff = np.zeros((len(hosts), width), np.int64)
        np.add.at(diff, (key[:, 0], key[:, 2]), 1)
        np.add.at(diff, (key[:, 0], np.minimum(stop, width - 1)), -1)
        out = np.cumsum(diff, axis=1)[:, :len(days)]
    return pd.DataFrame(out, index=hosts, columns=days)


def _daily(contacts: pd.DataFrame, thresholds: pd.Series) -> pd.DataFrame:
    """Build the per host and day table."""
    day = contacts["time"].dt.floor("D")
    days = pd.date_range(day.min(), day.max(), freq="D")
    grid = pd.MultiIndex.from_product([sorted(contacts["host"].unique()), days],
                                      names=["host", "day"])
    c = contacts.assign(day=day)
    def grouped(part: pd.DataFrame):
        return part.groupby(["host", "day"], observed=True)

    groups = grouped(c)
    table = pd.DataFrame({
        "requests": groups.size(),
        "answered": groups["answered"].sum(),
        "clients_served": grouped(c[c["answered"]])["client"].nunique(),
        "count_reported": groups["count"].max(),
        "count_reported_clients": grouped(c[c["edition"] == "client"])["count"].max(),
        "count_reported_servers": grouped(c[c["edition"] == "server"])["count"].max(),
    }).reindex(grid)
    errors = c[c["answered"] & (c["code"] != "") & (c["code"] != "0x00000000")]
    codes = errors.groupby(["host", "day", "code"], observed=True).size()
    by_day = {key: {} for key in grid}
    for (host, d, code), value in codes.items():  # one per (host, day, code), not per record
        by_day[(host, d)][code] = int(value)
    table = table.fillna({"requests": 0, "answered": 0, "clients_served": 0})
    for column in ("requests", "answered", "clients_served"):
        table[column] = table[column].astype(np.int64)
    for column in ("count_reported", "count_reported_clients", "count_reported_servers"):
        table[column] = table[column].where(table[column] >= 0).astype("Int64")
    table["not_answered"] = table["requests"] - table["answered"]
    flat = lambda frame: frame.stack().reindex(grid, fill_value=0).astype(np.int64)  # noqa: E731
    table["clients_30d"] = flat(_rolling_distinct(contacts, days, "client"))
    table["servers_30d"] = flat(_rolling_distinct(contacts, days, "server"))
    table["count_30d"] = flat(_rolling_distinct(contacts, days, None))
    table["threshold"] = thresholds.reindex(grid.get_level_values("host")).to_numpy()
    table["below"] = table["count_30d"] < table["threshold"]
    table["error_codes"] = [by_day[key] for key in grid]
    return table.reset_index()[list(DAILY_COLUMNS)]


def _short_names(hosts: list[str]) -> dict[str, str]:
    short = {h: h.split(".", 1)[0] for h in hosts}
    counts = pd.Series(list(short.values())).value_counts()
    return {h: (s if counts[s] == 1 else h) for h, s in short.items()}


def kms_health(
    source: Any,
    at: Any = None,
    *,
    horizon: str | pd.Timedelta = "30D",
    tz: str | None = None,
    lang: str = "en",
) -> KmsHealth:
    """Assess each KMS host: what it answered, how many clients it counts, when it falls short.

    Parameters
    ----------
    source : events frame, FleetAnalysis, path(s)
        The records (see :func:`~activation_kb.fleet_health`); client logs (12288/12289),
        KMS host logs (12290) or both.
    at : str or timestamp, optional
        When to assess (naive: in ``tz``, else UTC); records after it are not used. Default:
        the end of the data.
    horizon : str or Timedelta
        How far ahead to forecast the count.
    tz : str, optional
        Time zone of a naive ``at``.
    lang : {"en", "fr"}
        Language of the hosts' messages.

    Returns
    -------
    KmsHealth
        ``hosts`` (one row per host with its ``message``: "kms02: client count 27 today, falls
        below 25 on 2026-03-12 unless 3 more machines renew"), ``daily``, ``forecast`` and
        ``contacts``.

        Records without any KMS request give empty frames (no host to assess).

    Raises
    ------
    ParameterError
        For a bad ``at`` (:class:`~activation_kb.errors.DateError`) or ``horizon``
        (:class:`~activation_kb.errors.DurationError`).
    AnalysisError
        For a source it cannot read, or no record at all.

    Examples
    --------
    >>> from activation_kb import simulate_fleet
    >>> events, _ = simulate_fleet(120, 20, seed=1, incidents="none")
    >>> health = kms_health(events)
    >>> sorted(health.hosts["host"])
    ['kms01.contoso.com', 'kms02.contoso.com']
    """
    ahead = check_duration(horizon, "horizon")
    until = None if at is None else check_date(at, "at", tz=tz).value
    events, _ = events_of(source, tz)
    return assess_kms(events, until, ahead, lang=check_lang(lang))


def assess_kms(events: pd.DataFrame, until: int | None, ahead: pd.Timedelta,
               rec: DeviceRecords | None = None, lang: str = "en") -> KmsHealth:
    """Run :func:`kms_health` on a canonical frame.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events.
    until : int or None
        Assessment time in ns since the epoch (None: the end of the data).
    ahead : pandas.Timedelta
        Forecast horizon.
    rec : DeviceRecords, optional
        The records already placed on their devices (:func:`~._records.device_records`).
    lang : {"en", "fr"}
        Language of the messages.

    Returns
    -------
    KmsHealth
    """
    contacts = _contacts(events, until, rec)
    if until is None:
        if len(contacts):
            last = contacts.groupby("device", observed=True)["time"].max()
            until = default_at(pd.DatetimeIndex(last).asi8)
        elif len(events):  # no KMS request at all: nothing to say per host, as of the end
            until = pd.DatetimeIndex(events[schema.EVENT_TIME]).max().value
        else:
            raise AnalysisError("no record to assess: the source holds no event")
    when = pd.Timestamp(until, tz="UTC")
    renewal = _renewal(events)
    thresholds = contacts.groupby("host", observed=True)["edition"].agg(
        lambda e: 25 if (e == "client").any() else 5) if len(contacts) else pd.Series(
        dtype=np.int64)
    daily = _daily(contacts, thresholds) if len(contacts) else pd.DataFrame(
        columns=list(DAILY_COLUMNS))
    hosts, forecast = _forecast(contacts, thresholds, when, ahead, renewal, lang)
    return KmsHealth(hosts=hosts, daily=daily, forecast=forecast, contacts=contacts, at=when)


def _renewal(events: pd.DataFrame) -> pd.Timedelta:
    """Return the renewal interval the hosts hand out (12289), else the default 7 days."""
    minutes = events[schema.RENEWAL_INTERVAL_MIN].dropna()
    return pd.Timedelta(minutes=int(minutes.median())) if len(minutes) else RENEWAL


def _forecast(contacts: pd.DataFrame, thresholds: pd.Series, at: pd.Timestamp,
              ahead: pd.Timedelta, renewal: pd.Timedelta, lang: str = "en"
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per host: the count now and projected, and the sentence that says it."""
    hosts = sorted(contacts["host"].unique()) if len(contacts) else []
    names = _short_names(hosts)
    answered = contacts[contacts["answered"]]
    last = answered.groupby(["host", "client"], observed=True)["time"].max()
    last = last.rename("last").reset_index()
    # a machine keeps renewing at a host when it was answered there lately and has not moved
    latest = answered.sort_values("time").groupby("client", observed=True)["host"].last()
    last["moved"] = latest.reindex(last["client"]).to_numpy() != last["host"].to_numpy()
    rank = contacts["edition"].map({"": 0, "client": 1, "server": 2}).astype(np.int8)
    edition = rank.groupby(contacts["client"], observed=True).max().map(
        {0: "", 1: "client", 2: "server"})
    last["edition"] = edition.reindex(last["client"]).to_numpy()
    in_window = last[last["last"] > at - COUNT_WINDOW]
    day0 = at.floor("D")
    days = pd.date_range(day0, day0 + ahead, freq="D")
    rows, series = [], []
    for host in hosts:  # one iteration per KMS host (a handful), vectorised inside
        mine = in_window[in_window["host"] == host]
        sent = contacts[contacts["host"] == host]
        threshold = int(thresholds.get(host, 25))
        last_answer = sent.loc[sent["answered"], "time"].max()
        after = sent[sent["time"] > last_answer] if pd.notna(last_answer) else sent
        unanswered = int((~after["answered"]).sum())
        stopped = (unanswered >= 3 and after["client"].nunique() >= 2
                   and (pd.isna(last_answer) or at - last_answer > pd.Timedelta(hours=2)))
        renewing = (mine["last"] > at - 2 * renewal) & ~mine["moved"] & (not stopped)
        drops = np.sort((mine.loc[~renewing, "last"] + COUNT_WINDOW).to_numpy())
        ends = days + pd.Timedelta(days=1)
        projected = int(renewing.sum()) + (drops.size - np.searchsorted(
            drops, ends.to_numpy(), side="right"))
        count = len(mine)
        below_now = count < threshold
        crossing = np.flatnonzero(projected < threshold)
        falls = days[crossing[0]] if crossing.size and not below_now else pd.NaT
        needed = int(threshold - projected[crossing[0]]) if crossing.size and not below_now else 0
        recent = sent[sent["time"] > at - COUNT_WINDOW]
        last_request = sent["time"].max()
        row = {
            "host": host, "count": count,
            "clients": int((mine["edition"] == "client").sum()),
            "servers": int((mine["edition"] == "server").sum()), "threshold": threshold,
            "below_now": below_now, "falls_below_on": falls, "renewals_needed": needed,
            "renewing": int(renewing.sum()), "last_request": last_request,
            "last_answer": last_answer, "idle": at - last_request > 2 * renewal,
            "stopped_answering": bool(stopped), "unanswered_since": unanswered,
            "machines_unanswered": int(after.loc[~after["answered"], "client"].nunique()),
            "requests_30d": int(len(recent)), "answered_30d": int(recent["answered"].sum()),
        }
        row["status"], row["message"] = _say(names[host], row, at, lang)
        del row["idle"]
        rows.append(row)
        series.append(pd.DataFrame({"host": host, "day": days, "count": projected,
                                    "threshold": threshold, "below": projected < threshold}))
    frame = pd.DataFrame(rows, columns=list(HOST_COLUMNS))
    frame["falls_below_on"] = pd.to_datetime(frame["falls_below_on"], utc=True)
    frame["last_answer"] = pd.to_datetime(frame["last_answer"], utc=True)
    frame["last_request"] = pd.to_datetime(frame["last_request"], utc=True)
    rank = frame["status"].map({"not_answering": 0, "below_threshold": 1, "at_risk": 2, "ok": 3,
                                "idle": 4})
    frame = frame.assign(_rank=rank).sort_values(["_rank", "falls_below_on", "host"]).drop(
        columns="_rank").reset_index(drop=True)
    forecast = (pd.concat(series, ignore_index=True) if series else
                pd.DataFrame(columns=["host", "day", "count", "threshold", "below"]))
    return frame, forecast


def _say(name: str, row: dict[str, Any], at: pd.Timestamp, lang: str) -> tuple[str, str]:
    """Return the status and the sentence of a host (in ``lang``)."""
    values = {"name": name, "count": row["count"], "threshold": row["threshold"]}
    if row["idle"]:
        status = "idle"
        values.update(last_request=f"{row['last_request']:%Y-%m-%d}",
                      idle_days=(at - row["last_request"]).days)
    elif row["stopped_answering"]:
        status = "not_answering"
        values.update(when=f"{row['last_answer']:%Y-%m-%d %H:%M}"
                      if pd.notna(row["last_answer"]) else "",
                      unanswered=row["unanswered_since"], machines=row["machines_unanswered"])
    elif row["below_now"]:
        status = "below_threshold"
        values.update(more=row["threshold"] - row["count"])
    elif pd.notna(row["falls_below_on"]):
        status = "at_risk"
        values.update(day=f"{row['falls_below_on']:%Y-%m-%d}", more=row["renewals_needed"])
    else:
        status = "ok"
        values.update(renewing=row["renewing"])
    return status, say(status, lang, **values)
