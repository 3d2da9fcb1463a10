"""Words of the CLI's text output in English and French (``--lang fr``); JSON keys never change."""

from __future__ import annotations

from ..l10n import format_count, plural

__all__ = ["CLI_TEXT", "report_line", "skipped_line", "type_text", "words"]

CLI_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "category": "Category", "type": "Activation type", "cause": "Cause",
        "resolution": "Resolution", "links": "Links", "source": "Source", "decoded": "Decoded",
        "one_match": "1 code matches", "matches": "{n} codes match", "best": "best first",
        "run_lookup": "Run `activation-kb lookup CODE` for the cause and resolution.",
        "not_in_article": "{code} is not in the article \"Troubleshoot activation error codes\".",
        "short_hex": "Note: {query!r} has {digits} hexadecimal digits, not 8; it was read as "
        "{code}.",
        "no_match": "No catalogue entry matches {query!r}.",
        "report": "report written to {out} in {seconds} s: {incidents}, {devices}, {records} "
        "({rejected} rejected)",
        "incident": "incident", "device": "device", "record": "record",
        "from_english": "from the English article",
        "skipped": "{files} skipped: not event exports (manifest.json gives each one's reason)",
        "file": "file",
    },
    "fr": {
        "category": "Catégorie", "type": "Type d’activation", "cause": "Cause",
        "resolution": "Résolution", "links": "Liens", "source": "Source",
        "decoded": "Décodé", "one_match": "1 code correspond à",
        "matches": "{n} codes correspondent à", "best": "le meilleur d’abord",
        "run_lookup": "Lancez `activation-kb lookup CODE` pour la cause et la résolution.",
        "not_in_article": "{code} ne figure pas dans l’article « Résoudre les codes d’erreur "
        "d’activation ».",
        "short_hex": "Remarque : {query!r} a {digits} chiffres hexadécimaux au lieu de 8 ; lu "
        "comme {code}.",
        "no_match": "Aucune entrée du catalogue ne correspond à {query!r}.",
        "report": "rapport écrit dans {out} en {seconds} s : {incidents}, {devices}, {records} "
        "({rejected} rejetés)",
        "incident": "incident", "device": "appareil", "record": "enregistrement",
        "from_english": "d’après l’article anglais",
        "skipped": "{files} ignoré(s) : pas des exports d’événements (manifest.json donne le "
        "motif de chacun)",
        "file": "fichier",
    },
}


_TYPES = {"fr": {"KMS client": "client KMS", "KMS host": "hôte KMS"}}


def type_text(activation_type: str, lang: str) -> str:
    """Return an activation type as ``lang`` writes it."""
    return _TYPES.get(lang, {}).get(activation_type, activation_type)


def words(lang: str) -> dict[str, str]:
    """Return the CLI words of ``lang`` (English for anything else)."""
    return CLI_TEXT.get(lang, CLI_TEXT["en"])


def report_line(lang: str, out: object, seconds: float, incidents: int, devices: int,
                records: int, rejected: int) -> str:
    """Return the one-line summary of ``report run`` in ``lang``."""
    w = words(lang)
    secs = f"{seconds:.1f}" if lang != "fr" else f"{seconds:.1f}".replace(".", ",")
    if lang == "en":  # the historical English line, kept for scripts that read it
        return (f"report written to {out} in {secs} s: {incidents} incident(s), {devices} "
                f"devices, {records} records ({rejected} rejected)")
    return w["report"].format(out=out, seconds=secs,
                              incidents=plural(incidents, w["incident"], lang),
                              devices=plural(devices, w["device"], lang),
                              records=plural(records, w["record"], lang),
                              rejected=format_count(rejected, lang))


def skipped_line(lang: str, count: int) -> str:
    """Return the line of ``report run`` saying how many files were skipped (not exports)."""
    w = words(lang)
    return w["skipped"].format(files=plural(count, w["file"], lang))
