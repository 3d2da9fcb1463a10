"""Words of the article in the languages Microsoft publishes it in: activation types and parts.

The article exists in English and in de, es, fr, it, ja, ko, pt-br, ru, zh-cn and zh-tw, partly
machine-translated. The parser reads its structure, not its words, except in two places:

* the activation-type cell, where a translation may write "Multiple Activation Key" or "Key
  Management Service" in the reader's language without the Latin ``MAK``/``KMS``
  (Italian ``Codice ad attivazione multipla``, Russian ``Сервер управления ключами``);
* the sub-headings of a code section (``#### Cause``, ``#### Lösung 2: ...``), which tell a
  cause from a solution when a section lacks one of them.

Each table below is one concept; add a language or a variant by adding a line (phrases are
matched without case, accents on Latin letters, or spacing: ``clave de activacion multiple``
and ``マルチライセンス認証キー`` match). No pattern built here nests quantifiers.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = [
    "CAUSE_WORDS",
    "CLIENT_WORDS",
    "HOST_WORDS",
    "KMS_PHRASES",
    "MAK_PHRASES",
    "SERVER_WORDS",
    "SOLUTION_WORDS",
    "fold",
    "heading_kind",
    "to_activation_tokens",
]

#: "Multiple Activation Key" as the translations write it (MT variants included).
MAK_PHRASES: dict[str, tuple[str, ...]] = {
    "en": ("multiple activation key",),
    "de": ("mehrfachaktivierungsschlussel", "mehrfach-aktivierungsschlussel",
           "schlussel fur mehrfachaktivierung", "mehrfachaktivierungs-schlussel"),
    "es": ("clave de activacion multiple", "clave de activaciones multiples",
           "clave de activacion multiples"),
    "fr": ("cle d'activation multiple", "cle d'activations multiples",
           "cle d'activation multiples", "cle d’activation multiple"),
    "it": ("codice ad attivazione multipla", "codice di attivazione multipla",
           "chiave di attivazione multipla", "chiave ad attivazione multipla",
           "codice product key ad attivazione multipla",
           "codice product key per attivazione multipla",
           "codice per attivazione multipla"),
    "pt-br": ("chave de ativacao multipla", "chave de ativacoes multiplas",
              "chave de activacao multipla"),
    "ru": ("ключ многократной активации", "ключа многократной активации",
           "ключ множественной активации", "ключа множественной активации",
           "ключ для многократной активации"),
    "ja": ("マルチ ライセンス認証キー", "マルチ ライセンス認証 キー", "複数ライセンス認証キー",
           "マルチ アクティベーション キー", "マルチ ライセンス キー"),
    "ko": ("복수 정품 인증 키", "다중 정품 인증 키", "다중 활성화 키", "복수 활성화 키"),
    "zh-cn": ("多次激活密钥", "多重激活密钥", "多次激活密匙"),
    "zh-tw": ("多重啟用金鑰", "多次啟用金鑰", "多重啟動金鑰", "多重启用金钥"),
}

#: "Key Management Service/Server" (the KMS itself, which a cell names for the host key).
KMS_PHRASES: dict[str, tuple[str, ...]] = {
    "en": ("key management service", "key management server", "key management services"),
    "de": ("schlusselverwaltungsdienst", "schlusselverwaltungsdienstes",
           "schlusselverwaltungsserver",
           "schlussel-verwaltungsdienst", "dienst zur schlusselverwaltung"),
    "es": ("servicio de administracion de claves", "servidor de administracion de claves",
           "servicio de gestion de claves", "servidor de gestion de claves",
           "servicio de administracion de llaves"),
    "fr": ("service de gestion de cles", "service de gestion des cles",
           "serveur de gestion de cles", "serveur de gestion des cles",
           "serveur gestionnaire de cles", "service gestionnaire de cles"),
    "it": ("servizio di gestione delle chiavi", "servizio di gestione chiavi",
           "servizio di gestione di chiavi", "server di gestione delle chiavi",
           "server di gestione chiavi"),
    "pt-br": ("servico de gerenciamento de chaves", "servidor de gerenciamento de chaves",
              "servico de gestao de chaves", "servidor de gestao de chaves"),
    "ru": ("служба управления ключами", "службы управления ключами", "службе управления ключами",
           "сервер управления ключами", "сервера управления ключами",
           "служба управления ключей", "сервер управления ключей"),
    "ja": ("キー管理サービス", "キー管理サーバー", "キー管理サーバ", "キー マネージメント サービス",
           "キー管理 サービス"),
    "ko": ("키 관리 서비스", "키 관리 서버", "키관리 서비스"),
    "zh-cn": ("密钥管理服务", "密钥管理服务器", "密钥管理服務"),
    "zh-tw": ("金鑰管理服務", "金鑰管理伺服器", "金鑰管理服务", "密鑰管理服務"),
}

#: Beginnings of the words for the client side of KMS ("client" also finds "Clients",
#: "cliente", "KMS-Clientcomputer"). Written in CJK scripts, they are found anywhere.
CLIENT_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("client",),
    "de": ("client", "kunde"),
    "es": ("cliente",),
    "fr": ("client",),
    "it": ("client",),
    "pt-br": ("cliente",),
    "ru": ("клиент",),
    "ja": ("クライアント",),
    "ko": ("클라이언트",),
    "zh-cn": ("客户端", "客户机"),
    "zh-tw": ("用戶端", "客戶端", "客戶機", "用户端"),
    "other": ("klient", "kliens", "istemci"),  # pl, cs, sv, hu, tr
}

#: Beginnings of the words for the host side of KMS.
HOST_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("host",),
    "de": ("host",),
    "es": ("host", "anfitrion"),
    "fr": ("hote", "host"),
    "it": ("host",),
    "pt-br": ("host", "anfitria"),
    "ru": ("узел", "узл", "хост"),
    "ja": ("ホスト",),
    "ko": ("호스트",),
    "zh-cn": ("主机",),
    "zh-tw": ("主機",),
    "other": ("gazdag",),  # hu
}

#: Words for a server, which name the KMS host only beside KMS ("Servidor KMS", not "Windows
#: Server").
SERVER_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("server",),
    "es": ("servidor",),
    "fr": ("serveur",),
    "ru": ("сервер",),
    "ja": ("サーバー", "サーバ"),
    "ko": ("서버",),
    "zh-cn": ("服务器",),
    "zh-tw": ("伺服器",),
}

#: First words of a sub-heading that opens the cause of a code section.
CAUSE_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("cause", "causes", "possible cause", "possible causes", "reason", "reasons"),
    "de": ("ursache", "ursachen", "mogliche ursache", "mogliche ursachen", "grund"),
    "es": ("causa", "causas", "causa posible", "posible causa", "posibles causas"),
    "fr": ("cause", "causes", "cause possible", "causes possibles"),
    "it": ("causa", "cause", "causa possibile", "possibile causa", "possibili cause"),
    "pt-br": ("causa", "causas", "causa possivel", "possivel causa", "possiveis causas"),
    "ru": ("причина", "причины", "возможная причина", "возможные причины"),
    "ja": ("原因", "考えられる原因"),
    "ko": ("원인", "가능한 원인"),
    "zh-cn": ("原因", "可能的原因", "可能原因"),
    "zh-tw": ("原因", "可能的原因", "可能原因"),
}

#: First words of a sub-heading that opens a solution (or the resolution) of a code section.
SOLUTION_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("solution", "solutions", "resolution", "workaround", "fix", "resolve", "method"),
    "de": ("losung", "losungen", "problemlosung", "behebung", "abhilfe", "auflosung",
           "problembehandlung", "problemumgehung", "methode"),
    "es": ("solucion", "soluciones", "resolucion", "solucion alternativa", "metodo"),
    "fr": ("solution", "solutions", "resolution", "procedure de resolution", "contournement",
           "methode"),
    "it": ("soluzione", "soluzioni", "risoluzione", "procedura di risoluzione", "metodo"),
    "pt-br": ("solucao", "solucoes", "resolucao", "solucao alternativa", "metodo"),
    "ru": ("решение", "решения", "способ решения", "устранение", "разрешение", "способ"),
    # machine translation turns "Resolution" into the word for a screen's resolution
    "ja": ("解決策", "解決方法", "解決", "対処法", "対処方法", "回避策", "解像度", "方法"),
    "ko": ("해결 방법", "해결 방안", "해결", "해결책", "솔루션", "해상도", "방법"),
    "zh-cn": ("解决方案", "解决方法", "解决", "替代方法", "分辨率", "方法"),
    "zh-tw": ("解決方案", "解決方法", "解決", "因應措施", "解析度", "方法"),
}

_LATIN_LIMIT = 0x0250  # combining marks after a Latin letter are accents; others are kept
_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2013": "-", "\u00a0": " ", "’": "'"})


def fold(text: str) -> str:
    """Return ``text`` compared the way the vocabularies are written.

    Case-folded, full-width forms made narrow (NFKC), accents removed from Latin letters only
    (``Clé`` -> ``cle``; Japanese and Korean stay whole), typographic apostrophes and dashes made
    plain.
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_DASHES).casefold())
    kept: list[str] = []
    base = ""
    for char in decomposed:
        if unicodedata.combining(char):
            if base and ord(base) < _LATIN_LIMIT:
                continue
        else:
            base = char
        kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))


def _phrase_pattern(phrase: str) -> str:
    """One phrase as a regex: words separated by optional spaces or hyphens, no nesting."""
    words = [re.escape(word) for word in fold(phrase).replace("-", " ").split()]
    return r"[\s\-]*".join(words)


def _alternation(table: dict[str, tuple[str, ...]]) -> str:
    phrases = {fold(p) for variants in table.values() for p in variants}
    # Longest first, so "service de gestion des cles" wins over a shorter variant.
    return "|".join(_phrase_pattern(p) for p in sorted(phrases, key=len, reverse=True))


_MAK = re.compile(rf"(?:{_alternation(MAK_PHRASES)})")
_KMS = re.compile(rf"(?:{_alternation(KMS_PHRASES)})")
_REPEATED = re.compile(r"(MAK|KMS)[ \t]*\([ \t]*\1[ \t]*\)")
# The abbreviations written in Latin letters, also glued to a CJK word ("KMSクライアント").
_ABBREVIATION = re.compile(r"(?<![a-zа-яё])(mak|kms)(?![a-zа-яё])")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def _word_set(table: dict[str, tuple[str, ...]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split a word table into Latin/Cyrillic word beginnings and CJK words matched anywhere."""
    words = {fold(w) for variants in table.values() for w in variants}
    return (
        tuple(sorted(w for w in words if not _CJK.search(w))),
        tuple(sorted((w for w in words if _CJK.search(w)), key=len, reverse=True)),
    )


_CLIENTS = _word_set(CLIENT_WORDS)
_HOSTS = _word_set(HOST_WORDS)
_SERVERS = _word_set(SERVER_WORDS)
_TOKEN = re.compile(r"[^\W_]+")
_CODE = re.compile(r"0\s?x\s?[0-9a-f]{8}")


def _count(words: list[str], text: str, vocabulary: tuple[tuple[str, ...], tuple[str, ...]]) -> int:
    starts, anywhere = vocabulary
    count = sum(1 for word in words if word.startswith(starts))
    for word in anywhere:
        count += text.count(word)
        text = text.replace(word, " ")
    return count


def to_activation_tokens(text: str) -> tuple[int, int, int, int]:
    """Count what a cell names: (MAK, KMS, client words, host words), in any language.

    Localised phrases for "Multiple Activation Key" and "Key Management Service" count as
    ``MAK`` and ``KMS``; a phrase followed by its abbreviation in brackets (``Service de gestion
    de clés (KMS)``) counts once.
    """
    return _tokens_cached(text) if len(text) <= 1000 else _tokens(text)


@lru_cache(maxsize=4096)
def _tokens_cached(text: str) -> tuple[int, int, int, int]:
    return _tokens(text)


def _tokens(text: str) -> tuple[int, int, int, int]:
    folded = fold(text)
    folded = _MAK.sub(" MAK ", folded)
    folded = _KMS.sub(" KMS ", folded)
    folded = _ABBREVIATION.sub(lambda m: f" {m.group(1).upper()} ", folded)
    folded = _REPEATED.sub(r"\1", folded)
    words = _TOKEN.findall(folded)
    mak = sum(1 for word in words if word == "MAK")
    kms = sum(1 for word in words if word == "KMS")
    # "KMS-Client", "KMS クライアント": words are split on hyphens and spaces.
    lowered = folded.casefold()
    lowered_words = [word.casefold() for word in words]
    hosts = _count(lowered_words, lowered, _HOSTS)
    if kms:
        hosts += _count(lowered_words, lowered, _SERVERS)
    return mak, kms, _count(lowered_words, lowered, _CLIENTS), hosts


def heading_kind(text: str) -> str | None:
    """Return ``"cause"`` or ``"solution"`` when a sub-heading's first words say which, else None.

    A code written in the heading (``0x8004FE21 Causes``) and numbering (``Solution 2:``) are
    ignored; ``Solution: run slmgr.vbs`` is a solution, ``Possible cause`` a cause.
    """
    folded = _CODE.sub(" ", fold(text))
    folded = folded.strip(" \t*_#:：.-—–")
    for kind, pattern in (("solution", _SOLUTION_START), ("cause", _CAUSE_START)):
        if pattern.match(folded):
            return kind
    return None


def _start_pattern(table: dict[str, tuple[str, ...]]) -> re.Pattern[str]:
    # The heading starts with one of the words, then ends or goes on with a non-letter.
    return re.compile(rf"(?:{_alternation(table)})(?![^\W\d_])")


_SOLUTION_START = _start_pattern(SOLUTION_WORDS)
_CAUSE_START = _start_pattern(CAUSE_WORDS)
