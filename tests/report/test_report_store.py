"""Report parameters of the event store and the Dask engine: store, engine, scheduler."""

from __future__ import annotations

import json

import papermill
import pytest
from click.testing import CliRunner
from conftest import DATA, ROOT

from activation_kb import ingest
from activation_kb.cli import cli
from activation_kb.errors import ChoiceError, ParameterError, ReportParameterError
from activation_kb.params import ReportParams
from activation_kb.report.runner import check_parameters, run_report


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("report_store") / "store"
    ingest(DATA / "sample" / "events.parquet", store)
    return store


def test_store_engine_and_scheduler_are_report_parameters(sample_store):
    params = ReportParams(store=str(sample_store), engine="dask",
                          scheduler=" tcp://127.0.0.1:8786 ")
    assert (params.store, params.engine, params.scheduler) == (
        str(sample_store.resolve()), "dask", "tcp://127.0.0.1:8786")
    given = check_parameters(store=sample_store, engine="dask")
    assert given["events"] is None  # the notebook reads the store, not the sample
    assert given["store"] == str(sample_store.resolve()) and given["scheduler"] is None
    declared = papermill.inspect_notebook(str(ROOT / "notebooks" / "fleet_report.ipynb"))
    assert {"store", "engine", "scheduler", "workers", "memory_limit"} <= set(declared)
    assert check_parameters()["engine"] == "pandas"


@pytest.mark.parametrize(
    "kwargs, kind, match",
    [
        (dict(engine="spark"), ChoiceError, "engine='spark'"),
        (dict(engine="dask"), ParameterError, "event store"),
        (dict(scheduler="tcp://127.0.0.1:8786"), ParameterError, "needs engine='dask'"),
        (dict(store="STORE", engine="dask", scheduler="not an address"), ParameterError,
         "scheduler address"),
        (dict(store="STORE", events=str(DATA / "sample" / "events.parquet")), ParameterError,
         "not both"),
        (dict(store=str(DATA / "sample")), ParameterError, "not an event store"),
        (dict(memory_limit="2GB"), ParameterError, "needs engine='dask'"),
        (dict(store="STORE", engine="dask", memory_limit="lots"), ParameterError,
         "memory size per worker"),
        (dict(store="STORE", engine="dask", workers=0), ParameterError, "whole number >= 1"),
        (dict(store="STORE", engine="dask", scheduler="tcp://127.0.0.1:8786",
              memory_limit="2GB"), ParameterError, "dask worker --nworkers N --memory-limit"),
    ],
)
def test_bad_store_parameters_are_refused_before_any_kernel(sample_store, tmp_path, kwargs,
                                                           kind, match):
    kwargs = {k: str(sample_store) if v == "STORE" else v for k, v in kwargs.items()}
    with pytest.raises(ReportParameterError, match=match) as caught:
        run_report(out=tmp_path / "r", **kwargs)
    assert issubclass(caught.value.kind, kind)
    assert not (tmp_path / "r").exists()


def test_the_local_cluster_size_is_a_report_parameter(sample_store):
    params = ReportParams(store=str(sample_store), engine="dask", workers=2,
                          memory_limit="1.5GiB")
    assert (params.workers, params.memory_limit) == (2, int(1.5 * 2**30))
    given = check_parameters(store=sample_store, engine="dask", memory_limit="400MB")
    assert (given["workers"], given["memory_limit"]) == (None, 400_000_000)


def test_cli_names_the_store_options_and_exits_2(sample_store, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["report", "run", "--out", str(tmp_path / "r"),
                                 "--engine", "dask"])
    assert result.exit_code == 2 and "--store" in result.output
    result = runner.invoke(cli, ["report", "run", "--out", str(tmp_path / "r"), "--store",
                                 str(sample_store), "--scheduler", "tcp://127.0.0.1:1"])
    assert result.exit_code == 2 and "--scheduler" in result.output
    result = runner.invoke(cli, ["report", "run", "--out", str(tmp_path / "r"), "--store",
                                 str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "not an event store" in result.output
    result = runner.invoke(cli, ["report", "run", "--out", str(tmp_path / "r"), "--store",
                                 str(sample_store), "--engine", "dask", "--memory-limit", "2XB"])
    assert result.exit_code == 2 and "--memory-limit '2XB'" in result.output


@pytest.mark.notebook
def test_a_report_on_a_store_reads_the_store(sample_store, tmp_path):
    result = CliRunner().invoke(cli, ["report", "run", "--out", str(tmp_path / "r"), "--store",
                                      str(sample_store), "--since", "2026-02-01", "--until",
                                      "2026-02-15", "--freq", "D", "--json"])
    assert result.exit_code in (0, 3), result.output
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parameters"]["store"] == str(sample_store.resolve())
    assert manifest["parameters"]["events"] is None
    [store_input] = manifest["inputs"]
    assert store_input["store"] is True and store_input["records"] > 0
    assert manifest["summary"]["period_start"].startswith("2026-02-01")
    assert manifest["summary"]["records"] > 0
