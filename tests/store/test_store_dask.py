"""The Dask engine gives the pandas engine's answers, over TCP, on a real LocalCluster."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import DATA

from activation_kb import (
    AnalysisError,
    ParameterError,
    analyze_fleet,
    ingest,
    simulate_fleet,
    write_events,
)
from activation_kb.analysis.attempts import activation_attempts

pytestmark = pytest.mark.xdist_group("dask")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  protocol="tcp", dashboard_address=None) as local:
        assert local.scheduler_address.startswith("tcp://")
        yield local


def _rows(frame, keys):
    """Rows as text, in a fixed order, without the attempt ids (each engine numbers its own)."""
    out = frame.drop(columns=["attempt"]).astype({c: str for c in frame.columns
                                                  if c not in ("attempt", "time", "records",
                                                               "failed")})
    return out.sort_values(keys, kind="stable").reset_index(drop=True)


def _same(a, b):
    for name in ("counts", "code_counts", "spikes", "incidents", "uncatalogued"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)
    # the failed attempts and their errors: the Dask client gathers them from every task
    failed = a.table.attempts[a.table.attempts["failed"].to_numpy(bool)]
    pd.testing.assert_frame_equal(_rows(failed, ["device", "time"]),
                                  _rows(b.table.attempts, ["device", "time"]), obj="failed")
    pd.testing.assert_frame_equal(_rows(a.table.errors, ["device", "time", "code"]),
                                  _rows(b.table.errors, ["device", "time", "code"]),
                                  obj="errors")
    assert a.summary == b.summary
    assert {k: v for k, v in a.quality.items() if k != "silent_examples"} == \
        {k: v for k, v in b.quality.items() if k != "silent_examples"}


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("sample") / "store"
    ingest(DATA / "sample" / "events.parquet", store)
    return store


@pytest.mark.parametrize("period", [{},
                                    {"since": "2026-02-01", "until": "2026-02-20", "freq": "D",
                                     "tz": "Europe/Paris"}])
def test_the_sample_gives_the_same_counts_spikes_and_incidents(cluster, sample_store, period):
    pandas_run = analyze_fleet(sample_store, **period)
    dask_run = analyze_fleet(sample_store, engine="dask", scheduler=cluster.scheduler_address,
                             **period)
    assert len(pandas_run.incidents) >= 1
    _same(pandas_run, dask_run)


def test_a_simulated_fleet_gives_the_same_answers(cluster, tmp_path):
    events, _ = simulate_fleet(400, 45, seed=11, start="2026-04-01 07:30")
    write_events(events, tmp_path / "fleet.parquet")
    ingest(tmp_path / "fleet.parquet", tmp_path / "store")
    pandas_run = analyze_fleet(tmp_path / "store", since="21D", sensitivity=0.7)
    dask_run = analyze_fleet(tmp_path / "store", since="21D", sensitivity=0.7, engine="dask",
                             scheduler=cluster.scheduler_address)
    assert len(pandas_run.spikes)
    _same(pandas_run, dask_run)


def test_unreadable_result_codes_are_counted_and_named_as_the_pandas_engine_does(cluster,
                                                                                 tmp_path):
    """Records whose written code was not read: the tasks look only at their own records
    that lack a code; the count and the examples are the pandas engine's."""
    from conftest import TEST_DATA

    text = (TEST_DATA / "telemetry" / "synthetic_client.xml").read_text(encoding="utf-8")
    damaged = tmp_path / "damaged.xml"
    damaged.write_text(text.replace("<Data>0xC004F074, 0x00000000",
                                    "<Data>0xC0G4F074, 0x00000000"), encoding="utf-8")
    ingest(damaged, tmp_path / "store")
    pandas_run = analyze_fleet(tmp_path / "store")
    dask_run = analyze_fleet(tmp_path / "store", engine="dask",
                             scheduler=cluster.scheduler_address)
    assert dask_run.quality["unreadable_codes"] == 1
    (example,) = dask_run.quality["unreadable_code_examples"]
    assert example["text"] == "0xC0G4F074" and example["event_id"] == 12288
    _same(pandas_run, dask_run)


def test_an_attempt_across_midnight_stays_one_attempt(cluster, tmp_path):
    # 120 machines: in a fleet of 30 every host is below the KMS threshold (25): clients all fail
    events, _ = simulate_fleet(120, 3, seed=2, incidents="none")
    table = activation_attempts(events)
    # a successful one: its records are its request and response (12288, 12289), no more
    attempt = table.attempts[(table.attempts["records"] >= 2) & ~table.attempts["failed"]].iloc[0]
    host = events["host"].astype(str).str.lower().str.split(".").str[0]
    near = (events["event_time"] - attempt["time"]).abs() < pd.Timedelta(minutes=10)
    rows = events.index[(host == str(attempt["device"])).to_numpy() & near.to_numpy()
                        & events["event_kind"].isin(["kms_request", "kms_response"]).to_numpy()]
    assert len(rows) >= 2
    midnight = attempt["time"].ceil("D")
    moved = events.copy()
    times = [midnight - pd.Timedelta(seconds=3)] + [
        midnight + pd.Timedelta(seconds=2 * i) for i in range(1, len(rows))]
    moved.loc[rows, "event_time"] = pd.DatetimeIndex(times)
    moved = moved.sort_values(["event_time", "host"], kind="stable", ignore_index=True)
    whole = activation_attempts(moved).attempts
    across = whole[whole["time"] == midnight - pd.Timedelta(seconds=3)]
    assert len(across) == 1 and across["records"].iloc[0] == len(rows)  # one attempt
    write_events(moved, tmp_path / "moved.parquet")
    ingest(tmp_path / "moved.parquet", tmp_path / "store")
    days = sorted(p.name for p in (tmp_path / "store").glob("day=*"))
    assert f"day={midnight:%Y-%m-%d}" in days  # its records sit in two partitions
    dask_run = analyze_fleet(tmp_path / "store", engine="dask",
                             scheduler=cluster.scheduler_address)
    assert dask_run.summary["attempts"] == len(whole)
    _same(analyze_fleet(tmp_path / "store"), dask_run)


def test_the_pandas_engine_says_when_a_store_needs_more_memory(sample_store, monkeypatch):
    monkeypatch.setenv("ACTIVATION_KB_MEMORY_LIMIT", "1MB")
    with pytest.raises(AnalysisError, match="needs about .* GB.*engine='dask'.*--engine dask"):
        analyze_fleet(sample_store)


def test_the_dask_engine_needs_a_store():
    with pytest.raises(AnalysisError, match="event store"):
        analyze_fleet(DATA / "sample" / "events.parquet", engine="dask")


def test_days_are_grouped_into_a_few_tasks_of_bounded_size(sample_store):
    from activation_kb.analysis.distributed import day_groups
    from activation_kb.store._layout import day_dirs
    from activation_kb.store._read import count_rows

    days = list(day_dirs(sample_store))
    groups = day_groups(sample_store, days, workers=2)
    assert 1 < len(groups) <= 5  # about two tasks per worker (and a remainder), not one per day
    covered = [str((pd.Timestamp(first) + pd.Timedelta(days=k)).date())
               for first, span in groups for k in range(span)]
    assert [d for d in covered if d in days] == days  # every day once, in order
    small = day_groups(sample_store, days, workers=2, task_records=2_000)
    for first, span in small:
        lo = pd.Timestamp(first, tz="UTC")
        rows = count_rows(sample_store, lo, lo + pd.Timedelta(days=span))
        assert span == 1 or rows <= 2_000  # only a day larger than the limit goes over it
    assert len(small) > len(groups)


def test_one_task_per_day_gives_the_same_answers(cluster, sample_store, monkeypatch):
    from activation_kb.analysis import distributed as engine

    period = {"since": "2026-02-01", "until": "2026-02-20", "freq": "D"}
    monkeypatch.setattr(engine, "TASK_RECORDS", 1)  # every day its own task
    one_per_day = analyze_fleet(sample_store, engine="dask",
                                scheduler=cluster.scheduler_address, **period)
    _same(analyze_fleet(sample_store, **period), one_per_day)


def test_the_local_cluster_takes_a_memory_limit_and_refuses_one_too_small(sample_store):
    # the engine starts the cluster itself: one worker limited to 250 MB, which the worker's
    # own process nearly fills; refused before any task, naming the limit it was given
    with pytest.raises(AnalysisError, match=r"memory limit of 238 MiB, too small .* give "
                                            r"workers at least [\d,]+ MiB"):
        analyze_fleet(sample_store, engine="dask", workers=1, memory_limit="250MB")
    with pytest.raises(ParameterError, match="memory_limit='2GB'.*local cluster"):
        analyze_fleet(sample_store, engine="dask", scheduler="tcp://127.0.0.1:1",
                      memory_limit="2GB")


def test_a_task_gives_freed_memory_back_only_past_its_share_of_the_worker_limit(cluster):
    """trim_worker, as a task calls it: on a worker with a limit it trims once the worker holds
    more than the share asked, never below it, and never outside a worker."""
    import platform

    from activation_kb.analysis.dask_memory import trim_worker

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's")
    with distributed.Client(cluster) as client:
        workers = list(client.scheduler_info()["workers"])
        low = [client.submit(trim_worker, 0.0, pure=False, workers=[w]) for w in workers]
        high = [client.submit(trim_worker, 1.0, pure=False, workers=[w]) for w in workers]
        assert client.gather(low) == [True] * len(workers)
        assert client.gather(high) == [False] * len(workers)
    assert trim_worker(0.0) is False  # this process is no worker
