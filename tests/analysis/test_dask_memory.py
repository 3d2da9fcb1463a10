"""How the Dask engine sizes its tasks from the workers' memory limit, and when it refuses."""

from __future__ import annotations

import re
import warnings

import pytest

from activation_kb import AnalysisError
from activation_kb.analysis.dask_memory import (
    STEADY_CEILING,
    TASK_CEILING,
    WorkerMemory,
    WorkerMemoryWarning,
    check_workers,
    task_records,
)

MOST = 500_000
MB = 10**6


def _workers(limit, memory=160 * MB, allocator="system", n=2):
    return {f"tcp://10.0.0.{i}:4000": WorkerMemory(limit, memory, allocator) for i in range(n)}


def test_tasks_shrink_with_the_limit_and_the_fleet_and_never_pass_the_default():
    sizes = [task_records(_workers(limit), MOST, devices=20_000)
             for limit in (400 * MB, 500 * MB, 2000 * MB)]
    assert 10_000 < sizes[0] < sizes[1] < sizes[2] == MOST  # 2 GB: the default size
    assert task_records(_workers(None), MOST, devices=10**6) == MOST  # no limit
    more = task_records(_workers(500 * MB), MOST, devices=100_000)
    assert more < task_records(_workers(500 * MB), MOST, devices=1_000)
    # the smallest worker decides, and one that keeps freed memory counts twice
    mixed = {**_workers(2000 * MB, n=1), "tcp://10.0.0.9:4000": WorkerMemory(500 * MB, 160 * MB,
                                                                              "system")}
    assert task_records(mixed, MOST) == task_records(_workers(500 * MB), MOST)
    assert task_records(_workers(500 * MB, allocator="mimalloc"), MOST) < task_records(
        _workers(500 * MB), MOST) / 2
    assert task_records(_workers(200 * MB), MOST) == 1  # never 0 or less


@pytest.mark.parametrize("allocator", ["system", "mimalloc"])
def test_a_limit_too_small_is_refused_with_the_limit_that_works(allocator):
    workers = _workers(300 * MB, allocator=allocator)
    with pytest.raises(AnalysisError, match="too small for the Dask engine") as refused:
        check_workers(workers, 1, MOST, ("2026-03-05", 10_000), devices=50_000)
    message = str(refused.value)
    assert "~50,000 machines" in message and "--memory-limit" in message
    assert ("ARROW_DEFAULT_MEMORY_POOL=system" in message) == (allocator == "mimalloc")
    need = int(re.search(r"give workers at least ([\d,]+) MiB", message)[1].replace(",", ""))
    enough = _workers((need + 1) * 2**20, allocator=allocator)  # what it asks for: accepted
    size = task_records(enough, MOST, devices=50_000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_workers(enough, size, MOST, ("2026-03-05", min(size, 1_000)), devices=50_000)
    assert not [w for w in caught if "day 2026-03-05" in str(w.message)]
    assert STEADY_CEILING < 0.8 < TASK_CEILING < 0.95  # Dask's pause and restart thresholds


def test_a_day_larger_than_a_task_should_be_is_named_not_split():
    workers = _workers(500 * MB)
    size = task_records(workers, MOST, devices=20_000)
    with pytest.warns(WorkerMemoryWarning, match=r"day 2026-03-05 .* 900,000 records.*never "
                                                 r"split.*give workers about [\d,]+ MiB"):
        check_workers(workers, size, MOST, ("2026-03-05", 900_000), devices=20_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", WorkerMemoryWarning)
        check_workers(workers, size, MOST, ("2026-03-05", size), devices=20_000)
        check_workers(_workers(None), MOST, MOST, ("2026-03-05", 10**7))  # no limit: no word


def test_workers_that_keep_freed_memory_are_told_how_to_start():
    workers = _workers(2000 * MB, allocator="mimalloc")
    size = task_records(workers, 10**7, devices=20_000)
    with pytest.warns(WorkerMemoryWarning, match="ARROW_DEFAULT_MEMORY_POOL=system"):
        check_workers(workers, size, 10**7, ("2026-03-05", 1_000), devices=20_000)


def test_trim_memory_gives_freed_blocks_back():
    """Blocks freed between blocks still in use stay with glibc; trim_memory returns them."""
    import gc
    import platform

    import psutil

    from activation_kb.analysis.dask_memory import trim_memory

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's")
    process = psutil.Process()
    # 2 kB each: past Python's small-object allocator, so malloc's; one in 50 stays in use
    blocks = [bytes(2000) + bytes([i % 256]) for i in range(200_000)]
    kept = blocks[::50]
    del blocks
    gc.collect()
    freed = process.memory_info().rss
    assert trim_memory() is True
    trimmed = process.memory_info().rss
    assert freed - trimmed > 200e6, (freed, trimmed)  # most of the ~400 MB freed went back
    assert len(kept) == 4_000


_HEAP_PROBE = r"""
import ctypes, ctypes.util, sys
from activation_kb.analysis.dask_memory import keep_large_blocks

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]

def in_heap(size):
    address = libc.malloc(size)
    try:
        for line in open("/proc/self/maps"):
            span, *rest = line.split()
            lo, hi = (int(x, 16) for x in span.split("-"))
            if lo <= address < hi:
                return line.rstrip().endswith("[heap]")
        return False
    finally:
        libc.free(address)

before = in_heap(2 << 20)
told = keep_large_blocks()
print(before, told, in_heap(2 << 20))
"""


def test_keep_large_blocks_serves_a_task_sized_block_from_the_heap_under_dasks_trim_setting():
    """Under the MALLOC_TRIM_THRESHOLD_ Dask's nanny sets, a 2 MB block is mapped afresh
    (its pages faulted in again each time); after keep_large_blocks it comes from the heap."""
    import os
    import platform
    import subprocess
    import sys

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt is glibc's")
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}
    out = subprocess.run([sys.executable, "-c", _HEAP_PROBE], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["False", "True", "True"], out
