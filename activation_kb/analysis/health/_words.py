"""The sentences of fleet health in each language: device reasons and KMS host messages.

One table per kind of sentence, one template per language (``str.format`` fields filled with
whole columns at once), so a new language is one more entry.
"""

from __future__ import annotations

from string import Formatter

import numpy as np
import pandas as pd

from ...params import check_lang
from ...schema import LICENSE_STATES

__all__ = ["REASONS", "KMS_MESSAGES", "state_names", "days_text", "fill", "say"]

#: Licence state names shown in sentences (the ``license_state`` column keeps Windows' names).
STATE_WORDS = {
    "en": dict(LICENSE_STATES),
    "fr": {0: "sans licence", 1: "sous licence", 2: "grâce initiale (OOB)", 3: "grâce OOT",
           4: "grâce non authentique", 5: "notification", 6: "grâce étendue"},
}
_DAY = {"en": ("day", "days"), "fr": ("jour", "jours")}

#: Why a device is not ok: template per case and language.
REASONS = {
    "en": {
        "unknown": "no record carries its licence state",
        "notification": "grace period over: Windows shows notifications",
        "oot": "activation expired on {day} ({ago} ago); in OOT grace",
        "expired": "{state}",
        "grace": "not activated: {state} ends on {day} ({left})",
        "failed": "expires on {day} ({left}) and its last attempt failed{failure}",
        "stale": "not renewed for {renewed} while reporting{failure}",
        "silent": "silent for {silent}; expires on {day} unless it renewed unseen",
    },
    "fr": {
        "unknown": "aucun enregistrement ne donne son état de licence",
        "notification": "période de grâce terminée : Windows affiche des notifications",
        "oot": "activation expirée le {day} (il y a {ago}) ; en grâce OOT",
        "expired": "{state}",
        "grace": "non activée : {state} jusqu’au {day} ({left})",
        "failed": "expire le {day} ({left}) et sa dernière tentative a échoué{failure}",
        "stale": "non renouvelée depuis {renewed} alors qu’elle se manifeste{failure}",
        "silent": "muette depuis {silent} ; expire le {day} sauf renouvellement non vu",
    },
}

#: What a KMS host's status means: template per status and language.
KMS_MESSAGES = {
    "en": {
        "idle": "{name}: idle, no request since {last_request} ({idle_days} days; its clients "
                "use other hosts); client count {count}",
        "not_answering": "{name}: stopped answering {since}: {unanswered} requests from "
                         "{machines} machines unanswered (check the host, sppsvc, TCP 1688, "
                         "DNS); client count {count} today",
        "since": "since {when} UTC", "since_ever": "in the data",
        "below_threshold": "{name}: client count {count} today, below {threshold}: clients get "
                           "0xC004F038 until {more} more {machines_request} activation",
        "at_risk": "{name}: client count {count} today, falls below {threshold} on {day} "
                   "unless {more} more {machines_renew}",
        "ok": "{name}: client count {count} today, stays at or above {threshold} ({renewing} "
              "machines renewing)",
        "machine_requests": "machine requests", "machines_request": "machines request",
        "machine_renews": "machine renews", "machines_renew": "machines renew",
    },
    "fr": {
        "idle": "{name} : inactif, aucune requête depuis le {last_request} ({idle_days} jours ; "
                "ses clients s’adressent ailleurs) ; nombre de clients {count}",
        "not_answering": "{name} : ne répond plus {since} : {unanswered} requêtes de {machines} "
                         "machines sans réponse (vérifier l’hôte, sppsvc, TCP 1688, DNS) ; "
                         "nombre de clients {count} aujourd’hui",
        "since": "depuis le {when} UTC", "since_ever": "dans les données",
        "below_threshold": "{name} : nombre de clients {count} aujourd’hui, sous {threshold} : "
                           "les clients reçoivent 0xC004F038 tant que {more} {machines_request} "
                           "pas l’activation",
        "at_risk": "{name} : nombre de clients {count} aujourd’hui, passe sous {threshold} le "
                   "{day} sauf si {more} {machines_renew}",
        "ok": "{name} : nombre de clients {count} aujourd’hui, reste à {threshold} ou plus "
              "({renewing} machines renouvellent)",
        "machine_requests": "machine de plus ne demande", "machines_request":
            "machines de plus ne demandent",
        "machine_renews": "machine de plus renouvelle", "machines_renew":
            "machines de plus renouvellent",
    },
}


def state_names(codes: np.ndarray, lang: str) -> np.ndarray:
    """Return the sentence names of licence states 0-6 in ``lang`` ("" for -1)."""
    words = STATE_WORDS[check_lang(lang)]
    table = np.array([words.get(i, "") for i in range(7)] + [""], dtype=object)
    return table[np.where((codes >= 0) & (codes < 7), codes, 7)]


def days_text(values: pd.Series, lang: str) -> pd.Series:
    """Return whole days as "1 day", "5 days" (or "1 jour", "5 jours")."""
    one, many = _DAY[lang]
    whole = values.round(0).fillna(0).astype(int)
    return whole.astype(str).astype(object) + np.where(whole.abs() == 1, f" {one}", f" {many}")


def fill(template: str, columns: dict[str, object], size: int) -> np.ndarray:
    """Fill ``template``'s fields with whole columns (object arrays) at once."""
    out = np.full(size, "", dtype=object)
    for literal, field, _, _ in Formatter().parse(template):
        out = out + literal
        if field:
            value = columns[field]
            out = out + (np.asarray(value, dtype=object) if not isinstance(value, str) else value)
    return out


def say(status: str, lang: str, **values: object) -> str:
    """Return a KMS host's message in ``lang`` (``values`` fill its template)."""
    words = KMS_MESSAGES[check_lang(lang)]
    more = values.get("more", 0)
    values.setdefault("machines_request",
                      words["machine_requests" if more == 1 else "machines_request"])
    values.setdefault("machines_renew", words["machine_renews" if more == 1 else "machines_renew"])
    if status == "not_answering":
        values["since"] = (words["since"].format(when=values["when"]) if values.get("when")
                           else words["since_ever"])
    return words[status].format(**values)
