"""Sites and KMS hosts that went silent: their successful activations or records fell away.

A KMS host that stops answering, a site cut off from the network, or a log no longer collected
does not raise failures: activity just stops. :func:`activity_counts` counts, per bucket, the
successful activation attempts and the event records of each site and of each KMS host, and
:func:`detect_silences` looks for falls in them with :func:`~activation_kb.detect_spikes`
(``direction="down"``): the report turns them into "went silent" incidents
(:func:`~activation_kb.analysis.incidents.silence_incidents`).

What counts for a KMS host: the attempts it served (the client records name it) for
successes, the records it logs itself (12290, 12294) for records. A bucket in which the whole
fleet logged nothing is missing (the collection itself stopped), not a zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from .. import schema
from .attempts import AttemptTable
from .frequency import time_buckets
from .spikes import SPIKE_COLUMNS, detect_spikes

__all__ = ["SILENCE_KEYS", "SILENCE_MEASURES", "activity_counts", "activity_from_parts",
           "activity_parts", "detect_silences", "merge_activity_parts"]

#: Dimensions whose silence is looked for.
SILENCE_KEYS: tuple[str, ...] = ("site", "kms_host")
#: What is counted: successful activation attempts, event records.
SILENCE_MEASURES: tuple[str, ...] = ("successes", "records")


def _records(events: pd.DataFrame, key: str) -> tuple[pd.Series, pd.Series | None]:
    """Return the records that count for ``key``: their times (None: every record's), names."""
    if key == "kms_host":  # what the host logs itself
        mine = events[(events[schema.ROLE] == "kms_host").fillna(False).to_numpy(bool)]
        return mine[schema.EVENT_TIME], mine[schema.HOST].astype(str).str.lower()
    return None, events[schema.SITE]


def _per_bucket(buckets: pd.Series, names: pd.Series, key: str) -> pd.DataFrame:
    """Count rows per bucket and name ("" and missing names left out).

    Grouped on the names as they are (text or categories), named as text after: a row per
    group, not a Python string per record (measured: 0.5 of a 700,000-record task's 0.9 s).
    """
    rows = pd.DataFrame({"time": buckets.array, key: names.array})
    counts = rows.groupby(["time", key], observed=True, dropna=True).size().rename("value")
    counts = counts.reset_index()
    counts[key] = counts[key].astype(str)
    return counts[(counts[key] != "").to_numpy(bool)].reset_index(drop=True)


def activity_parts(
    table: AttemptTable,
    events: pd.DataFrame,
    *,
    freq: str = "h",
    tz: str | None = None,
    keys: Sequence[str] = SILENCE_KEYS,
    measures: Sequence[str] = SILENCE_MEASURES,
) -> dict[str, Any]:
    """Return the additive parts of :func:`activity_counts` for ``events``.

    Parts of disjoint slices of the records (the days of an event store) merge with
    :func:`merge_activity_parts` into the parts of the whole; :func:`activity_from_parts`
    turns them into the counts. This is how the Dask engine counts activity day by day.

    Parameters
    ----------
    table : AttemptTable
        The attempts of ``events``.
    events : pandas.DataFrame
        Canonical events.
    freq, tz : str
        Bucket size and time zone.
    keys, measures : sequence of str
        Among :data:`SILENCE_KEYS` and :data:`SILENCE_MEASURES`.

    Returns
    -------
    dict
        ``"buckets"``: the buckets in which the fleet logged anything; ``"counts"``: per
        ``(key, measure)``, the non-zero counts (``time``, key, ``value``).
    """
    every = time_buckets(events[schema.EVENT_TIME], freq, tz)  # each record's, once
    ok = table.attempts[~table.attempts["failed"].astype(bool)]
    ok_at = time_buckets(ok["time"], freq, tz)  # each success's, once
    counts = {}
    for key in keys:
        for measure in measures:
            if measure == "successes":
                at, names = ok_at, ok[key]
            else:
                times, names = _records(events, key)
                at = every if times is None else every.loc[times.index]
            counts[(key, measure)] = _per_bucket(at, names, key)
    return {"buckets": pd.Series(every.drop_duplicates().to_numpy()), "counts": counts}


def merge_activity_parts(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Merge the :func:`activity_parts` of disjoint slices of the records."""
    parts = list(parts)
    if len(parts) == 1:
        return parts[0]
    buckets = pd.concat([p["buckets"] for p in parts], ignore_index=True).drop_duplicates()
    counts = {}
    for name, first in parts[0]["counts"].items():
        key = name[0]
        both = pd.concat([p["counts"][name] for p in parts], ignore_index=True)
        counts[name] = (both.groupby(["time", key], observed=True)["value"].sum()
                        .reset_index() if len(both) else first)
    return {"buckets": buckets.reset_index(drop=True), "counts": counts}


def activity_from_parts(parts: dict[str, Any], by: str, measure: str) -> pd.DataFrame:
    """Return :func:`activity_counts`' frame from merged :func:`activity_parts`."""
    buckets = parts["buckets"].sort_values()
    counts = parts["counts"][(by, measure)]
    if counts.empty or buckets.empty:
        return pd.DataFrame({"time": pd.Series(dtype=buckets.dtype), by: pd.Series(dtype=str),
                             "value": pd.Series(dtype=float)})
    grid = pd.DataFrame({by: sorted(counts[by].astype(str).unique())}).merge(
        pd.DataFrame({"time": buckets.to_numpy()}), how="cross")
    counts = counts.astype({by: str})
    out = grid.merge(counts, on=["time", by], how="left").fillna({"value": 0.0})
    return out[["time", by, "value"]].astype({"value": float})


def activity_counts(
    table: AttemptTable,
    events: pd.DataFrame,
    *,
    freq: str = "h",
    by: str = "site",
    measure: str = "successes",
    tz: str | None = None,
) -> pd.DataFrame:
    """Count the successful attempts or the records of each site or KMS host, per bucket.

    Parameters
    ----------
    table : AttemptTable
        The attempts of ``events`` (:func:`~activation_kb.activation_attempts`).
    events : pandas.DataFrame
        Canonical events.
    freq : str
        Bucket size.
    by : {"site", "kms_host"}
        Whose activity.
    measure : {"successes", "records"}
        Successful activation attempts, or event records.
    tz : str, optional
        Time zone of the buckets.

    Returns
    -------
    pandas.DataFrame
        ``time``, ``by`` and ``value``: every bucket in which the fleet logged anything, for
        every value of ``by`` seen (0 where it had nothing); buckets where the fleet logged
        nothing are left out, so they are missing, not zero.
    """
    parts = activity_parts(table, events, freq=freq, tz=tz, keys=[by], measures=[measure])
    return activity_from_parts(parts, by, measure)


def detect_silences(
    table: AttemptTable,
    events: pd.DataFrame,
    *,
    freq: str = "h",
    tz: str | None = None,
    keys: Sequence[str] = SILENCE_KEYS,
    measures: Sequence[str] = SILENCE_MEASURES,
    activity: dict[str, Any] | None = None,
    **detect: object,
) -> pd.DataFrame:
    """Falls in the activity of every site and KMS host: ``detect_spikes(direction="down")``.

    Parameters
    ----------
    table : AttemptTable
        The attempts of ``events``.
    events : pandas.DataFrame
        Canonical events (the period and the history before it).
    freq : str
        Bucket size.
    tz : str, optional
        Time zone of the buckets.
    keys : sequence of str
        Among :data:`SILENCE_KEYS`.
    measures : sequence of str
        Among :data:`SILENCE_MEASURES`.
    activity : dict, optional
        Merged :func:`activity_parts` to count from instead of ``table`` and ``events``
        (which may then be None): how the Dask engine passes what its workers counted.
    **detect
        Passed to :func:`~activation_kb.detect_spikes` (``sensitivity``, ``history``,
        ``fleet_size`` ...); ``direction`` is "down".

    Returns
    -------
    pandas.DataFrame
        ``measure``, ``site`` and ``kms_host`` (the one the fall is about; the other NA), then
        the columns of :func:`~activation_kb.detect_spikes`.
    """
    found = []
    for key in keys:
        for measure in measures:
            counts = (activity_from_parts(activity, key, measure) if activity is not None
                      else activity_counts(table, events, freq=freq, by=key, measure=measure,
                                           tz=tz))
            if counts.empty:
                continue
            spikes = detect_spikes(counts, **{**detect, "direction": "down"}, keys=[key],
                                   exposure=None)
            found.append(spikes.assign(measure=measure))
    columns = ["measure", *SILENCE_KEYS, *SPIKE_COLUMNS]
    if not found:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    out = pd.concat(found, ignore_index=True)
    for key in SILENCE_KEYS:
        if key not in out.columns:
            out[key] = pd.NA
    return out[columns]


_WORDS = {
    "en": {
        "label": "Went silent",
        "title": {"site": "Site {name} went silent", "kms_host": "KMS host {name} went silent"},
        "successes": "successful activations {observed:,.0f} where {expected:,.0f} were expected",
        "records": "records {observed:,.0f} where {expected:,.0f} were expected",
        "message": "Activity fell away: {facts}.",
        "cause": {
            "site": "Nothing, or far less than usual, came from this site: its machines may be "
                    "cut off from the network (WAN or VPN link down, DNS unreachable), switched "
                    "off, or their events no longer collected.",
            "kms_host": "This KMS host served or logged far fewer activations than usual: it "
                        "may be stopped, unreachable on TCP 1688, no longer published in DNS "
                        "(_vlmcs._tcp), or its events no longer collected.",
        },
        "resolution": {
            "site": "Check the site's network and VPN links and name resolution, that its "
                    "machines are on, and that event collection from them still runs.",
            "kms_host": "Check that the Software Protection service runs on the host, that TCP "
                        "1688 is reachable from the clients, that its _vlmcs._tcp SRV record is "
                        "published, and that its event log is still collected.",
        },
        "scope": "{dim}={name}",
        "sites": "sites",
    },
    "fr": {
        "label": "Devenu silencieux",
        "title": {"site": "Le site {name} est devenu silencieux",
                  "kms_host": "L'hôte KMS {name} est devenu silencieux"},
        "successes": "activations réussies {observed:,.0f} pour {expected:,.0f} attendues",
        "records": "enregistrements {observed:,.0f} pour {expected:,.0f} attendus",
        "message": "L'activité s'est effondrée : {facts}.",
        "cause": {
            "site": "Rien, ou bien moins que d'habitude, n'est venu de ce site : ses machines "
                    "sont peut-être coupées du réseau (lien WAN ou VPN tombé, DNS injoignable), "
                    "éteintes, ou leurs événements ne sont plus collectés.",
            "kms_host": "Cet hôte KMS a servi ou journalisé bien moins d'activations que "
                        "d'habitude : il est peut-être arrêté, injoignable sur TCP 1688, absent "
                        "du DNS (_vlmcs._tcp), ou ses événements ne sont plus collectés.",
        },
        "resolution": {
            "site": "Vérifier les liens réseau et VPN du site et la résolution de noms, que ses "
                    "machines sont allumées et que la collecte de leurs événements fonctionne.",
            "kms_host": "Vérifier que le service Protection logicielle tourne sur l'hôte, que "
                        "TCP 1688 est joignable depuis les clients, que son enregistrement SRV "
                        "_vlmcs._tcp est publié et que son journal est toujours collecté.",
        },
        "scope": "{dim}={name}",
        "sites": "sites",
    },
}
_SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
#: KMS clients renew every 7 days after their last activation: the machines that could not
#: activate during an outage renew a week after they finally did, so the same hours a week
#: later are short of them. Such an echo of a fall is not a new silence.
RENEWAL = pd.Timedelta(days=7)


def _echoes(silences: pd.DataFrame, touch: pd.Timedelta,
            failures: pd.DataFrame | None = None) -> pd.Series:
    """Mark the falls that come a renewal interval after a fall or a failure incident.

    An echo of a fall of the same site or host, or of a failure incident whose ranked
    dimensions name that site or host: the machines it held back renewed late, and their next
    renewals come a week after that.
    """
    echo = pd.Series(False, index=silences.index)
    for dim in SILENCE_KEYS:
        mine = silences[silences[dim].notna()]
        for name, falls in mine.groupby(dim):
            before = _failure_windows(failures, dim, str(name))
            for i, fall in falls.iterrows():
                earlier = falls[falls["start"] < fall["start"]][["start", "end"]]
                earlier = pd.concat([earlier, before[before["start"] < fall["start"]]])
                lo, hi = earlier["start"] + RENEWAL - touch, earlier["end"] + RENEWAL + touch
                echo[i] = bool(((fall["start"] <= hi) & (fall["end"] >= lo)).any())
    return echo


def _failure_windows(failures: pd.DataFrame | None, dim: str, name: str) -> pd.DataFrame:
    """Start and end of the failure incidents whose ranked dimensions name ``dim=name``."""
    if failures is None or failures.empty:
        return pd.DataFrame({"start": pd.Series(dtype="datetime64[ns, UTC]"),
                             "end": pd.Series(dtype="datetime64[ns, UTC]")})
    named = [any(d.get("dimension") == dim and str(d.get("value")) == name
                 for d in (dims if isinstance(dims, list) else []))
             for dims in failures["dimensions"]]
    return failures.loc[named, ["start", "end"]]


def _facts(group: pd.DataFrame, words: dict) -> str:
    """Say what fell, for each measure of the group: observed against expected."""
    parts = []
    for measure in SILENCE_MEASURES:
        rows = group[group["measure"] == measure]
        if len(rows):
            parts.append(words[measure].format(observed=rows["observed"].sum(),
                                               expected=rows["expected"].sum()))
    return "; ".join(parts)


def _names(group: pd.DataFrame) -> dict[str, list[str]]:
    """Return the KMS hosts and sites of a group of falls, in order."""
    return {dim: sorted({str(v) for v in group[dim].dropna()}) for dim in SILENCE_KEYS}


def _title(names: dict[str, list[str]], words: dict) -> tuple[str, str]:
    """Return the incident's title and scope: the KMS host(s) first, then the sites."""
    dim = "kms_host" if names["kms_host"] else "site"
    title = words["title"][dim].format(name=", ".join(names[dim]))
    others = names["site"] if dim == "kms_host" else []
    if others:
        title += f" ({words['sites']} {', '.join(others)})"
    scope = "; ".join(words["scope"].format(dim=d, name=", ".join(names[d]))
                      for d in SILENCE_KEYS if names[d])
    return title, scope


def _silence_incident(group: pd.DataFrame, words: dict, data_end) -> dict:
    """One "went silent" incident from falls at the same time."""
    from .incidents import incident_id

    worst = max(group["severity"], key=lambda s: _SEVERITY_RANK.get(str(s), -1))
    names = _names(group)
    title, scope = _title(names, words)
    dim = "kms_host" if names["kms_host"] else "site"
    start, end = group["start"].min(), group["end"].max()
    where = ";".join(f"{d}={','.join(names[d])}" for d in SILENCE_KEYS if names[d]).casefold()
    return {
        "incident_id": incident_id(f"{where}|SLNT", start),  # ends in SLNT: went silent
        "status": "ongoing" if data_end is not None and end > data_end else "ended",
        "start": start, "end": end,
        "detected": group["detected"].min(), "first_seen": group["start"].min(),
        "last_seen": group["end"].max(), "top_code": "", "category": "",
        "category_label": words["label"], "codes": [], "categories": [],
        "message": words["message"].format(facts=_facts(group, words)),
        "cause": words["cause"][dim], "resolution": words["resolution"][dim],
        "in_article": False, "uncatalogued_codes": [], "devices": 0, "affected_devices": [],
        "failures": 0, "excess": float((group["expected"] - group["observed"]).max()),
        "score": float(group["score"].max()), "severity": str(worst), "scope": scope,
        "dimensions": [], "codes_detail": [], "spikes": int(len(group)), "kind": "went_silent",
        "title": title,
    }


def _explained(group: pd.DataFrame, failures: pd.DataFrame | None) -> bool:
    """Whether a failure incident at the same time already names one of its hosts or sites."""
    if failures is None or failures.empty:
        return False
    names = {(dim, v) for dim, values in _names(group).items() for v in values}
    start, end = group["start"].min(), group["end"].max()
    for inc in failures.itertuples():
        if inc.start < end and start < inc.end and any(
                (d.get("dimension"), str(d.get("value"))) in names for d in inc.dimensions or []):
            return True
    return False


def silence_incidents(silences: pd.DataFrame, *, lang: str = "en", gap: str = "12h",
                      failures: pd.DataFrame | None = None,
                      data_end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Turn the falls of :func:`detect_silences` into "went silent" incidents.

    Falls less than ``gap`` apart, whatever their site, KMS host or measure, are one incident (a
    KMS host down silences the sites it serves). Left out: a fall that a failure incident of the
    same time already explains (its ranked dimensions name one of the hosts or sites); a fall a
    week (:data:`RENEWAL`) after a fall of the same site or host, or after a failure incident
    naming it, the renewals it delayed; and a fall judged with less than a week of baseline
    (``warming_up``): activity has a weekly shape (nights, weekends, Monday-morning logons) that
    a shorter past cannot know, so a quiet first Saturday is not a silence. Failures need no
    such shape and are reported from the first day.

    Parameters
    ----------
    silences : pandas.DataFrame
        Output of :func:`detect_silences`.
    lang : {"en", "fr"}
        Language of the title, message, cause and resolution.
    gap : str
        Falls this close are one incident.
    failures : pandas.DataFrame, optional
        The failure incidents (:func:`~activation_kb.explain_spikes`).
    data_end : pandas.Timestamp, optional
        Time of the last record: an incident whose window reaches it is "ongoing".

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`~activation_kb.analysis.incidents.INCIDENT_COLUMNS`, ``kind``
        "went_silent", ``title`` such as "KMS host kms01.contoso.com went silent (sites paris,
        berlin)", ``excess`` the largest shortfall (expected - observed), no codes and no
        devices; a stable ``incident_id`` of its start and scope, ending in ``SLNT``
        (:func:`~activation_kb.analysis.incidents.incident_id`), and its ``status``.
    """
    from ..params import check_duration, check_lang
    from .incidents import INCIDENT_COLUMNS

    words = _WORDS[check_lang(lang)]
    touch = check_duration(gap, "gap")
    rows = []
    if len(silences):
        known = silences[~silences["warming_up"].astype(bool)]
        falls = known[~_echoes(known, touch, failures)].sort_values("start")
        run = (falls["start"] > falls["end"].cummax().shift() + touch).cumsum()
        for _, group in falls.groupby(run):
            if not _explained(group, failures):
                rows.append(_silence_incident(group, words, data_end))
    return pd.DataFrame(rows, columns=list(INCIDENT_COLUMNS))
