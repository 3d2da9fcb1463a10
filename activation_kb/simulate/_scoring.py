"""Score found incidents against the simulator's ground truth (for tests and benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..catalogue.categories import category_of

__all__ = ["DetectionScore", "score_detection"]


@dataclass(frozen=True)
class DetectionScore:
    """How well found incidents match the injected ones.

    Attributes
    ----------
    truth : pandas.DataFrame
        The ground truth with ``found`` (matched), ``incident_ids`` (the found incidents that
        match), ``top_code_ok``, ``category_ok`` and ``delay`` (first detection - start).
    found : pandas.DataFrame
        The found incidents with ``matched`` (True when they match some injected incident).
    """

    truth: pd.DataFrame
    found: pd.DataFrame

    @property
    def precision(self) -> float:
        """Share of found incidents that match an injected one (1.0 when none was found)."""
        return float(self.found["matched"].mean()) if len(self.found) else 1.0

    @property
    def recall(self) -> float:
        """Share of injected incidents found (1.0 when none was injected)."""
        return float(self.truth["found"].mean()) if len(self.truth) else 1.0

    @property
    def false_incidents(self) -> int:
        """Number of found incidents that match no injected one."""
        return int((~self.found["matched"]).sum()) if len(self.found) else 0


def score_detection(
    found: pd.DataFrame, truth: pd.DataFrame, slack: str = "2h"
) -> DetectionScore:
    """Match found incidents to injected ones.

    A found incident matches an injected one when their windows overlap (the injected window
    extended by ``slack``, for the bucket and retry granularity) and they share a code.

    Parameters
    ----------
    found : pandas.DataFrame
        Output of :func:`~activation_kb.explain_spikes` (``start``, ``end``, ``codes``,
        ``top_code``, ``category``; ``first_seen`` or a ``detected`` time when available).
    truth : pandas.DataFrame
        The incidents frame of :func:`~activation_kb.simulate_fleet`.
    slack : str
        Tolerance added to the injected window's end.

    Returns
    -------
    DetectionScore
    """
    tol = pd.Timedelta(slack)
    truth = truth.reset_index(drop=True).copy()
    found = found.reset_index(drop=True).copy()
    found["matched"] = False
    ids, top_ok, cat_ok, delay = [], [], [], []
    for row in truth.itertuples():
        expected = set(row.expected_codes)
        hits = [
            i
            for i, f in found.iterrows()
            if f["start"] < row.end + tol and f["end"] > row.start and expected & set(f["codes"])
        ]
        found.loc[hits, "matched"] = True
        ids.append([found.loc[i, "incident_id"] for i in hits])
        if hits:
            best = max(hits, key=lambda i: found.loc[i, "failures"])
            top_ok.append(found.loc[best, "top_code"] in expected)
            cat_ok.append(found.loc[best, "category"] == category_of(row.expected_codes[0]))
            when = "detected" if "detected" in found.columns else "start"
            delay.append(min(found.loc[i, when] for i in hits) - row.start)
        else:
            top_ok.append(False)
            cat_ok.append(False)
            delay.append(pd.NaT)
    truth["found"] = [bool(i) for i in ids]
    truth["incident_ids"] = ids
    truth["top_code_ok"] = top_ok
    truth["category_ok"] = cat_ok
    truth["delay"] = pd.to_timedelta(pd.Series(delay, dtype="object"))
    return DetectionScore(truth=truth, found=found)
