"""The set-up: what ``make demo`` and ``make test`` install, and a warning-free pyproject.toml.

``make -n`` prints the commands without running them, for a venv that does not
exist, so every install step is listed.
"""

import re
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def make_dry_run(target, tmp_path):
    if shutil.which("make") is None:
        pytest.fail("make is not installed; the set-up is driven by the Makefile", pytrace=False)
    out = subprocess.run(["make", "-n", target, f"VENV={tmp_path / 'venv'}"], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if "pip install" in line]


def test_make_demo_installs_torch_first_then_runtime_dependencies_only(tmp_path):
    installs = make_dry_run("demo", tmp_path)
    assert "torch==" in installs[-2]  # the CPU build, pinned, before the package
    assert installs[-1].endswith("pip install -q -e .")
    assert not any("[" in line for line in installs), installs  # no extras


def test_make_test_adds_the_test_extra(tmp_path):
    installs = make_dry_run("test", tmp_path)
    torch = next(i for i, line in enumerate(installs) if "torch==" in line)
    extra = next(i for i, line in enumerate(installs) if '-e ".[test]"' in line)
    assert torch < extra


def test_pyproject_license_gives_no_setuptools_warning(monkeypatch):
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    monkeypatch.chdir(ROOT)  # the readme and license paths are relative to the project
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if re.search("license", m, re.I)], messages
    assert dist.metadata.license_expression == "BSD-3-Clause"
