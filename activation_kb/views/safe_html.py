"""Safe HTML from data: catalogue markdown, links and plain text, with nothing raw passing through.

Catalogue text is markdown (lists, commands, links); telemetry brings host and site names that
anybody who can name a machine controls. Everything shown as HTML goes through here: markdown is
rendered by mistune with raw HTML escaped, links are kept only when they are http or https (the
article's site-relative links point to learn.microsoft.com), images become their alternative
text so that no request leaves the page, and plain text is escaped.
"""

from __future__ import annotations

from functools import lru_cache
from html import escape
from urllib.parse import urlsplit

import mistune

__all__ = ["markdown_html", "safe_href", "anchor", "text_html"]

_LEARN = "https://learn.microsoft.com"


def safe_href(url: object) -> str | None:
    """Return ``url`` when it is an absolute http(s) URL, else None.

    Site-relative URLs (``/windows-server/...``) are made absolute on learn.microsoft.com, as the
    catalogue's ``links`` column does. Anchors, ``javascript:``, ``data:`` and every other scheme
    give None: the caller shows the link's text without a link.
    """
    if not isinstance(url, str):
        return None
    url = url.strip()
    if url.startswith("/") and not url.startswith("//"):
        url = _LEARN + url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def anchor(href: str, label_html: str) -> str:
    """Return an ``<a>`` opening in a new tab; ``href`` must come from :func:`safe_href`."""
    return (
        f'<a href="{escape(href, quote=True)}" target="_blank" rel="noopener noreferrer">'
        f"{label_html}</a>"
    )


class _SafeRenderer(mistune.HTMLRenderer):
    """mistune's HTML renderer with raw HTML escaped, http(s) links only and no images."""

    def __init__(self) -> None:
        super().__init__(escape=True)

    def link(self, text: str, url: str, title: str | None = None) -> str:  # noqa: D102
        href = safe_href(url)
        return text if href is None else anchor(href, text)

    def image(self, text: str, url: str, title: str | None = None) -> str:  # noqa: D102
        return text  # the alternative text, already escaped: no request for the image


@lru_cache(maxsize=1)
def _markdown() -> mistune.Markdown:
    return mistune.create_markdown(renderer=_SafeRenderer())


def markdown_html(text: object) -> str:
    """Render markdown as HTML, escaping any raw HTML it holds.

    Parameters
    ----------
    text : str
        Markdown (catalogue cause, resolution, details). Anything else renders empty.

    Returns
    -------
    str
        HTML in which tags and attributes come only from markdown syntax: ``<script>``,
        ``<img onerror=...>`` and the like appear as text, links are http(s) only.
    """
    if not isinstance(text, str) or not text.strip():
        return ""
    return str(_markdown()(text))


def text_html(value: object) -> str:
    """Escape any value for HTML text (None and NA give an empty string)."""
    if value is None:
        return ""
    try:
        import pandas as pd

        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return escape(str(value))
