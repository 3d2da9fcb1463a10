"""``activation-kb explore``: the explorer notebook's parameters, and Voilà's polled executor."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from activation_kb.cli import cli
from activation_kb.errors import ParameterError
from activation_kb.views.serve import explorer_notebook, install_polled_executor


def _parameters(notebook) -> dict:
    """The values papermill injected, read back by running the injected cell's source."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    injected = [c for c in cells if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1
    scope: dict = {}
    exec("".join(injected[0]["source"]), {}, scope)  # noqa: S102 - papermill's own output
    return scope


def test_the_notebook_gets_absolute_paths_and_the_options(tmp_path, monkeypatch):
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "a.csv").write_text("x\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    notebook = explorer_notebook(tmp_path / "served", ["exports", "exports/*.csv"],
                                 since="7D", freq="D", lang="fr", tz="Europe/Paris")
    values = _parameters(notebook)
    assert values["events"] == [str(exports.resolve()), str(tmp_path / "exports" / "*.csv")]
    assert (values["since"], values["until"], values["freq"], values["lang"], values["tz"]) == (
        "7D", None, "D", "fr", "Europe/Paris")


def test_no_events_means_the_bundled_sample(tmp_path):
    values = _parameters(explorer_notebook(tmp_path, None))
    assert values["events"] is None and values["lang"] == "en"


@pytest.mark.parametrize("kwargs, named", [
    ({"events": ["missing.csv"]}, "missing.csv"),
    ({"freq": "7x"}, "freq"),
    ({"lang": "de"}, "lang"),
    ({"tz": "Mars/Olympus"}, "Mars/Olympus"),
    ({"since": "2026-03-01", "until": "2026-02-01"}, "until"),
])
def test_a_bad_parameter_is_refused_before_anything_is_written(tmp_path, kwargs, named):
    with pytest.raises(ParameterError) as refused:
        explorer_notebook(tmp_path / "served", **kwargs)
    assert named in str(refused.value)
    assert not (tmp_path / "served").exists()


@pytest.mark.parametrize("args", [["missing-dir/"], ["--freq", "7x"], ["--lang", "de"],
                                  ["--port", "0"], ["--since", "yesterday-ish"]])
def test_the_command_exits_2_on_bad_input_without_starting_a_server(args):
    result = CliRunner().invoke(cli, ["explore", "--no-browser", *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "Error" in result.output


def test_voila_runs_notebooks_with_the_polled_executor():
    pytest.importorskip("voila")
    import voila.execute
    import voila.notebook_renderer

    executor = install_polled_executor()
    assert voila.notebook_renderer.VoilaExecutor is executor
    assert issubclass(executor, voila.execute.VoilaExecutor)
    assert install_polled_executor() is executor  # once, not wrapped again
