"""Packaging: environment.yml mirrors pyproject; the wheel carries the catalogue data."""

import os
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# conda-forge names that differ from the PyPI names
CONDA_TO_PYPI = {"python-build": "build", "python-duckdb": "duckdb"}


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _requirement(text: str, names: dict[str, str] | None = None) -> tuple[str, str]:
    req = Requirement(text)
    name = canonicalize_name((names or {}).get(req.name, req.name))
    return name, str(req.specifier)


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = _pyproject()
    expected = {_requirement(r) for r in project["project"]["dependencies"]}
    for extra in project["project"].get("optional-dependencies", {}).values():
        expected |= {_requirement(r) for r in extra}
    for group in project["dependency-groups"].values():
        expected |= {_requirement(r) for r in group if isinstance(r, str)}

    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    listed, python = set(), None
    for item in env["dependencies"]:
        if isinstance(item, dict):
            listed |= {_requirement(r) for r in item["pip"] if not r.startswith("-")}
        elif item.startswith("python") and Requirement(item).name == "python":
            python = str(Requirement(item).specifier)
        elif item != "pip":
            listed.add(_requirement(item, CONDA_TO_PYPI))
    assert listed == expected, (
        f"only in environment.yml: {sorted(listed - expected)}; "
        f"only in pyproject.toml: {sorted(expected - listed)}"
    )
    assert python == project["project"]["requires-python"]


@pytest.mark.slow
def test_wheel_installs_and_looks_up_a_code(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist),
         str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    (wheel,) = dist.glob("activation_kb-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for data in (
        "activation_kb/_data/catalogue/en-us_activation-error-codes_2019-03-21.md",
        "activation_kb/_data/catalogue/fr-fr_activation-error-codes_2019-03-21.md",
        "activation_kb/data/categories.csv",
        "activation_kb/data/sl_error_codes_pykms.tsv",
        "activation_kb/data/win32_errors.tsv",
    ):
        assert data in names

    # A fresh environment holding only the wheel; its third-party dependencies are borrowed from
    # the test environment through a .pth line (no network, seconds instead of minutes). The
    # test environment's own .pth files, such as the editable install of this checkout, are not
    # processed from there, so activation_kb can only come from the wheel.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
         "--no-index", str(wheel)],
        check=True, capture_output=True, text=True,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    (Path(site) / "borrowed_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = subprocess.run(
        [str(python), "-c", "import activation_kb.resources as r; print(r.__file__); "
         "print(r.data_path('catalogue/en-us_activation-error-codes_2019-03-21.md'))"],
        check=True, capture_output=True, text=True, cwd=tmp_path, env=env,
    ).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where
    assert "_data" in Path(where[1]).parts

    result = subprocess.run(
        [str(venv / "bin" / "activation-kb"), "lookup", "0xC004F074"],
        capture_output=True, text=True, cwd=tmp_path, env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("0xC004F074  The Software Protection Service reported")
    assert "SL_E_VL_BINDING_SERVICE_UNAVAILABLE" in result.stdout
