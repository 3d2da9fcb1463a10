"""Memory of the Dask engine's workers: how many records a task may hold, and their allocator.

A worker under a memory limit (``LocalCluster(memory_limit=...)``, ``dask worker
--memory-limit``) is paused by Dask past 80 % of it (it starts no task until its memory falls
back) and restarted past 95 %. What it needs, measured on a simulated store of 900,000 records:

- its process, once the modules tasks use are imported: about 160 MB (:func:`worker_memory`
  asks each worker);
- what that grows by over a run (the code paths a first task sets up, the heap it keeps):
  60-90 MB, :data:`WORKER_GROWTH`;
- the facts of every machine of the fleet (their profile and last attempt), which a worker
  holds between tasks once, and a merge :data:`MERGE_FAN_IN` more times: 283 bytes a machine
  (69,000 machines: 20 MB), :data:`BYTES_PER_DEVICE`;
- a task, at its peak: 660-760 bytes per record it reads (its days as a pandas frame and the
  attempts built from them), :data:`TASK_BYTES_PER_RECORD`.

:func:`task_records` sizes tasks so that one fits under :data:`TASK_CEILING` of the smallest
limit; :func:`check_workers` refuses to start when a worker would sit above Dask's pause
threshold between tasks (the run would stall) or pass its restart threshold while merging, and
warns when a day is larger than a task should be (a day is never split).

Arrow's default allocator on Linux, mimalloc, keeps the memory a task freed: a process that
read the same 90,000-record runs eight times in a row grew from 260 to 480 MB with it, and
stayed at 200 MB with the C library's allocator (whose freed memory Dask's nanny returns to the
system, ``MALLOC_TRIM_THRESHOLD_``); a task's peak was 1,080 against 660 bytes a record. Arrow
picks its allocator when a process starts, from ``ARROW_DEFAULT_MEMORY_POOL``: the local
cluster the engine starts sets it (:data:`WORKER_ENVIRON`); give it to workers started
otherwise (``ARROW_DEFAULT_MEMORY_POOL=system dask worker ...``; a ``LocalCluster`` of your own:
:func:`worker_environ`). Workers without it are counted at twice the cost.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import AnalysisError

__all__ = ["WORKER_ENVIRON", "TASK_BYTES_PER_RECORD", "WORKER_GROWTH", "BYTES_PER_DEVICE",
           "MERGE_FAN_IN", "TASK_CEILING", "STEADY_CEILING", "WorkerMemory",
           "WorkerMemoryWarning", "worker_environ", "worker_memory", "task_records",
           "check_workers", "trim_memory", "use_system_allocator", "keep_large_blocks",
           "MMAP_THRESHOLD", "TRIM_SHARE", "trim_worker"]

#: Environment the engine's worker processes start with: Arrow allocating from the C library.
WORKER_ENVIRON = {"ARROW_DEFAULT_MEMORY_POOL": "system"}
#: Blocks glibc serves from its heap rather than mapping each afresh: its largest allowed
#: (32 MiB on 64-bit systems); see :func:`keep_large_blocks`.
MMAP_THRESHOLD = 32 * 2**20
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
#: Memory a task needs per record it reads, at its peak (measured 660-760 in a new process,
#: 420 in a worker that ran tasks before).
TASK_BYTES_PER_RECORD = 800
#: What a worker grows by over a run, beside the facts it holds (measured 60-90 MB).
WORKER_GROWTH = 80 * 2**20
#: Memory of a machine's facts (profile, last attempt): 283 bytes measured, 400 with what a
#: merge copies (a merge of two 69,000-machine facts peaked 60 MB above the worker's rest).
BYTES_PER_DEVICE = 400
#: Copies of the fleet's machine facts a merge may hold beside those held between tasks (the
#: machines' buckets are combined a few tasks at a time, then all: :mod:`.dask_machines`).
MERGE_FAN_IN = 2
#: How much more both are where Arrow does not allocate from the C library.
_OTHER_ALLOCATOR = 2
#: Share of a worker's limit a task may take it to (Dask restarts a worker at 95 %; past its
#: pause threshold, 80 %, it only starts no new task until the running one ends).
TASK_CEILING = 0.85
#: Share of a worker's limit past which a task gives the memory it freed back when it ends
#: (:func:`trim_worker`). At 50 million records (tasks of a day, 2 GB workers) a quarter had
#: every task trim twice and fault its pages in again: 14-15 of a worker's 67 CPU seconds were
#: system time, 8-11 of 55-62 at a half (workers' peak 1.0-1.3 GB).
TRIM_SHARE = 0.5
#: Share of a worker's limit it may hold between tasks (Dask pauses a worker at 80 %).
STEADY_CEILING = 0.75


class WorkerMemoryWarning(UserWarning):
    """The workers' memory limit is tight for the store's days, or their allocator keeps memory."""


@dataclass(frozen=True)
class WorkerMemory:
    """What a worker may use and uses already.

    Attributes
    ----------
    limit : int or None
        Its memory limit in bytes (None: none).
    memory : int
        Its process memory (RSS) once the modules tasks use are imported.
    allocator : str
        Arrow's allocator in it ("system", "mimalloc", "jemalloc").
    """

    limit: int | None
    memory: int
    allocator: str


@contextmanager
def worker_environ() -> Iterator[None]:
    """Within the block, worker processes that Dask nannies start get :data:`WORKER_ENVIRON`.

    For a ``distributed.LocalCluster`` of your own::

        with worker_environ():
            cluster = LocalCluster(n_workers=2, memory_limit="2GB")

    (Dask's ``distributed.nanny.pre-spawn-environ`` setting: set before the process starts,
    which is when Arrow reads it.)
    """
    import dask
    import distributed  # noqa: F401 - its defaults hold the pre-spawn environment to extend

    key = "distributed.nanny.pre-spawn-environ"
    with dask.config.set({key: {**dask.config.get(key, default={}), **WORKER_ENVIRON}}):
        yield


def use_system_allocator() -> None:
    """Make pyarrow allocate from the C library in this process, from now on, and tune it.

    For workers started without :data:`WORKER_ENVIRON`: pyarrow's own conversions and compute
    functions then use it (measured: the same eight tasks grew a worker to 390 MB instead of
    480 MB), but Arrow's C++ readers keep the allocator the process started with.

    The C library is told to serve blocks up to :data:`MMAP_THRESHOLD` from its heap
    (:func:`keep_large_blocks`).
    """
    import pyarrow as pa

    keep_large_blocks()
    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


def _libc() -> Any:
    """Return the C library (glibc's functions are looked up by name), or None."""
    global _LIBC
    if _LIBC is None:
        import ctypes
        import ctypes.util

        name = ctypes.util.find_library("c")
        try:
            _LIBC = ctypes.CDLL(name) if name else False
        except OSError:
            _LIBC = False
    return _LIBC or None


_LIBC: Any = None


def keep_large_blocks() -> bool:
    """Let glibc serve blocks up to :data:`MMAP_THRESHOLD` from its heap (``mallopt``).

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_`` set, which also freezes glibc's
    mmap threshold at 128 kB: every larger block (a column of a task's frame) is then mapped
    afresh and its pages faulted in again, for each of the many arrays a task makes and frees.
    Measured at 10 million records on 2 workers: 29 of the workers' 80 CPU seconds were system
    time, 5 with this (the analysis 47 s -> 33 s); a task gives its memory back when it ends
    if its worker holds more than :data:`TRIM_SHARE` of its limit (:func:`trim_worker`). At 50
    million records, tasks reading a day each (columns of 6-20 MB): 4 MiB left the workers 35
    of their 138 CPU seconds in system time, 32 MiB 25 of 106 (the analysis 80-87 s -> 66-69 s;
    workers' peak 0.9-1.1 GB of their 2 GB).

    Returns
    -------
    bool
        Whether the C library could be told (False off glibc).
    """
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def trim_memory() -> bool:
    """Give the memory the C library keeps from freed blocks back to the system (glibc only).

    The client receives every task's rows and frees the buffers they came in; glibc keeps
    such memory for later (measured: 110 MB of a 530 MB client at 10 million records). Dask's
    documentation gives the same call for workers ("Manually trim memory"); a task calls it
    when it ends.

    Arrow's default pool is asked to give back what it keeps as well (measured: the client
    kept 89 MB of the 7 days of host names it read at 50 million records).

    Returns
    -------
    bool
        Whether the C library could be asked (False off glibc).
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()  # Arrow's own pool (mimalloc) keeps it too
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is None:
        return False
    trim(0)
    return True


def trim_worker(share: float = TRIM_SHARE) -> bool:
    """Run :func:`trim_memory` when this Dask worker uses more than ``share`` of its limit.

    A task's freed memory is kept for the next task, which reuses it instead of having its
    pages faulted in again (trimming after every task cost a tenth of the tasks' time at 10
    million records); past ``share`` it is given back, well before Dask's pause at 80 %.
    Outside a worker, or for a worker without a limit, nothing is trimmed.

    Parameters
    ----------
    share : float
        Share of the worker's memory limit above which it trims.

    Returns
    -------
    bool
        Whether it trimmed.
    """
    try:
        from distributed import get_worker

        limit = get_worker().memory_manager.memory_limit
    except (ImportError, ValueError, AttributeError):
        return False
    if not limit:
        return False
    import psutil

    if psutil.Process().memory_info().rss <= share * limit:
        return False
    return trim_memory()


def _worker_state(dask_worker: Any = None) -> dict[str, Any]:
    """Run on a worker (``Client.run`` gives it): report its limit, memory and allocator.

    The modules tasks use are imported first, so that the memory counts them.
    """
    import psutil
    import pyarrow as pa
    import pyarrow.dataset  # noqa: F401 - what a task's first read imports

    from ..store import _read  # noqa: F401
    from . import attempts, frequency  # noqa: F401

    limit = getattr(getattr(dask_worker, "memory_manager", None), "memory_limit", None)
    return {"limit": int(limit) if limit else None, "allocator": pa.default_memory_pool()
            .backend_name, "memory": int(psutil.Process().memory_info().rss)}


def worker_memory(client: Any) -> dict[str, WorkerMemory]:
    """Return each worker's memory limit, process memory and allocator, by address.

    Parameters
    ----------
    client : distributed.Client
        A client of the cluster.

    Returns
    -------
    dict
        Address -> :class:`WorkerMemory`, for every worker.
    """
    states = client.run(_worker_state)
    return {address: WorkerMemory(**state) for address, state in states.items()}


def _held(worker: WorkerMemory, devices: int) -> tuple[float, float, float]:
    """Return what ``worker`` holds between tasks, at a merge's peak, and per task record.

    In bytes; ``devices`` machines' facts are held once between tasks, and more while merged.
    """
    factor = 1 if worker.allocator == "system" else _OTHER_ALLOCATOR
    facts = devices * BYTES_PER_DEVICE
    held = worker.memory + WORKER_GROWTH * factor + facts
    return held, held + MERGE_FAN_IN * facts, TASK_BYTES_PER_RECORD * factor


def task_records(workers: Mapping[str, WorkerMemory], most: int, devices: int = 0) -> int:
    """Return the most records a task may hold on these workers (at least 1, at most ``most``).

    :data:`TASK_CEILING` of a worker's limit, less what it holds between tasks (its memory,
    :data:`WORKER_GROWTH` and the facts of ``devices`` machines), divided by
    :data:`TASK_BYTES_PER_RECORD`; the smallest over the workers that have a limit.

    Parameters
    ----------
    workers : mapping
        Address -> :class:`WorkerMemory` (:func:`worker_memory`).
    most : int
        The size without a memory limit (:data:`~.distributed.TASK_RECORDS`).
    devices : int
        Machines of the fleet (an estimate).

    Returns
    -------
    int
    """
    sizes = [most]
    for worker in workers.values():
        if worker.limit:
            held, _, per_record = _held(worker, devices)
            sizes.append(int((worker.limit * TASK_CEILING - held) // per_record))
    return max(1, min(sizes))


def check_workers(workers: Mapping[str, WorkerMemory], size: int, most: int,
                  largest: tuple[str, int] | None, devices: int = 0) -> None:
    """Refuse workers too small to run tasks; warn when a day is larger than a task should be.

    Parameters
    ----------
    workers : mapping
        Address -> :class:`WorkerMemory`.
    size : int
        The task size chosen (:func:`task_records`).
    most : int
        The task size without a memory limit.
    largest : (str, int) or None
        The largest day read and its records.
    devices : int
        Machines of the fleet (an estimate).

    Raises
    ------
    AnalysisError
        When a worker would hold more than :data:`STEADY_CEILING` of its limit between tasks
        (Dask would pause it, and the run stall), or more than :data:`TASK_CEILING` while
        merging the fleet's facts (Dask would restart it).
    """
    limited = {address: w for address, w in workers.items() if w.limit}
    if not limited:
        return
    allocators = sorted({w.allocator for w in limited.values() if w.allocator != "system"})
    advice = ("; and start workers with ARROW_DEFAULT_MEMORY_POOL=system in their environment "
              f"(they allocate with {', '.join(allocators)}, which keeps what tasks free; a "
              "LocalCluster of your own: activation_kb.analysis.dask_memory.worker_environ())"
              if allocators else "")
    for address, worker in limited.items():
        held, merging, _ = _held(worker, devices)
        need = max(held / STEADY_CEILING, merging / TASK_CEILING)
        if need > worker.limit:
            raise AnalysisError(
                f"Dask worker {address} has a memory limit of {worker.limit / 2**20:,.0f} MiB, "
                f"too small for the Dask engine: its process uses {worker.memory / 2**20:,.0f} "
                f"MiB, holds about {held / 2**20:,.0f} MiB between tasks and "
                f"{merging / 2**20:,.0f} MiB while merging the facts of the fleet's "
                f"~{devices:,} machines, and Dask pauses a worker past 80 % of its limit and "
                f"restarts it past 95 %; give workers at least {need / 2**20:,.0f} MiB "
                f"(memory_limit=, CLI: --memory-limit; dask worker --memory-limit){advice}")
    if size >= most:  # the memory limit does not bound the tasks
        return
    if largest is not None and largest[1] > size:
        day, rows = largest
        worst = min(limited.values(),
                    key=lambda w: w.limit * TASK_CEILING - _held(w, devices)[0])
        held, _, per_record = _held(worst, devices)
        need = (held + rows * per_record) / TASK_CEILING
        warnings.warn(
            f"day {day} of the store holds {rows:,} records, more than a task should hold "
            f"under the workers' memory limit (about {size:,} records); a day is never split, "
            f"so its task may restart its worker; give workers about {need / 2**20:,.0f} MiB "
            f"(memory_limit=, CLI: --memory-limit){advice}", WorkerMemoryWarning, stacklevel=3)
    elif allocators:
        warnings.warn(f"the Dask workers' memory limit bounds the tasks{advice}",
                      WorkerMemoryWarning, stacklevel=3)
