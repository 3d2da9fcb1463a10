"""Helpers for the real-browser tests: launch the system Chromium and watch a page for trouble.

Playwright drives the system Chromium: ``$CHROMIUM`` (set by the Makefile), else
/usr/bin/chromium, which ``make test`` installs with apt-get when it can; no browser is ever
downloaded. A :class:`PageWatch` records what must never happen on a page: a dialog (``alert``
from injected script), a request to a host other than the local server, a failed request.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path(os.environ.get("CHROMIUM") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def launch_chromium(playwright):
    """Launch headless Chromium; fail (never skip) with the install command when it is missing."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing; the browser tests need it (apt-get install -y chromium)",
            pytrace=False,
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    # file: a report opened from disk; tests of such pages also list every request themselves
    local_scheme = parts.scheme in ("data", "blob", "about", "file")
    return local_scheme or (parts.hostname or "") in LOCAL_HOSTS


@dataclass
class PageWatch:
    """Dialogs, requests to other hosts and failed requests seen on a page since it was watched."""

    dialogs: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    @classmethod
    def on(cls, page) -> PageWatch:
        """Start watching ``page``; dialogs are recorded, then dismissed."""
        watch = cls()

        def dialog(d) -> None:
            watch.dialogs.append(f"{d.type}: {d.message}")
            d.dismiss()

        def request(r) -> None:
            if not _is_local(r.url):
                watch.foreign_requests.append(r.url)

        def failed(r) -> None:
            if not _is_local(r.url):
                watch.failed_requests.append(f"{r.url} ({r.failure})")

        page.on("dialog", dialog)
        page.on("request", request)
        page.on("requestfailed", failed)
        return watch

    def assert_clean(self) -> None:
        """Fail when a dialog opened or a request went (or failed to go) to another host."""
        assert not self.dialogs, f"a dialog opened (script ran): {self.dialogs}"
        assert not self.failed_requests, f"failed requests to other hosts: {self.failed_requests}"
        assert not self.foreign_requests, f"requests to other hosts: {self.foreign_requests}"
