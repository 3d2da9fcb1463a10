"""The report's papermill engine reads the kernel's replies in short polls."""

from __future__ import annotations

import asyncio
import queue
import threading
import time

import pytest

from activation_kb.report import _engine


def _channel() -> tuple[queue.Queue, object]:
    """A channel-like reader over a real queue: blocks up to ``timeout`` like zmq's."""
    box: queue.Queue = queue.Queue()

    def get_msg(timeout=None):
        return box.get(timeout=timeout)

    return box, get_msg


def test_a_reply_that_comes_late_is_read_without_a_timeout():
    box, get_msg = _channel()
    calls = []

    def counted(timeout=None):
        calls.append(timeout)
        return get_msg(timeout=timeout)

    threading.Timer(1.6, box.put, args=({"msg": "reply"},)).start()
    started = time.monotonic()
    got = asyncio.run(_engine.polled(counted)(timeout=None))
    assert got == {"msg": "reply"}
    assert 1.5 < time.monotonic() - started < 5
    assert len(calls) >= 2 and all(t is not None and t <= _engine.POLL for t in calls)


def test_an_overall_timeout_still_holds():
    _, get_msg = _channel()
    started = time.monotonic()
    with pytest.raises(queue.Empty):
        asyncio.run(_engine.polled(get_msg)(timeout=0.3))
    assert 0.25 < time.monotonic() - started < 2


def test_the_engine_is_registered_under_its_name():
    from papermill.engines import papermill_engines

    assert _engine.register() == _engine.ENGINE
    assert papermill_engines.get_engine(_engine.ENGINE) is _engine._Engine
