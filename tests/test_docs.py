"""The Sphinx documentation builds without a single warning and covers the public API.

The build runs ``sphinx-build -W --keep-going -b html`` in a subprocess on a copy
of ``docs/`` (so the checkout is not touched), with one BLAS/OpenMP thread and
intersphinx switched off (``SKDGATING_DOCS_INTERSPHINX=0``): it needs no network.
Sphinx, numpydoc and matplotlib are required; without them these tests fail
rather than skip, so a missing documentation toolchain cannot go unnoticed.
"""

import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DOC_TOOLS = ("sphinx", "numpydoc", "matplotlib")
# namespaces whose ``__all__`` must be in the API reference
PUBLIC_NAMESPACES = ("skdgating", "skdgating.plotting")


def _require_doc_tools():
    missing = [name for name in DOC_TOOLS if importlib.util.find_spec(name) is None]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not installed: the documentation tests need Sphinx, numpydoc "
            "and matplotlib. Install them with: .venv/bin/pip install -e '.[test]' "
            "(or pip install sphinx numpydoc matplotlib).",
            pytrace=False,
        )


def _public_names():
    names = []
    for modname in PUBLIC_NAMESPACES:
        try:
            module = importlib.import_module(modname)
        except ImportError:
            continue
        names += [f"{modname}.{name}" for name in module.__all__]
    return names


def _api_entries(text):
    """Fully qualified names listed in the autosummary blocks of ``api.rst``."""
    entries, module, in_block = set(), None, False
    for line in text.splitlines():
        current = re.match(r"\s*\.\.\s+currentmodule::\s*(\S+)", line)
        if current:
            module, in_block = current.group(1), False
        elif re.match(r"\s*\.\.\s+autosummary::", line):
            in_block = True
        elif in_block and line.strip() and not line.startswith((" ", "\t")):
            in_block = False
        elif in_block and line.strip() and not line.strip().startswith(":"):
            entries.add(f"{module}.{line.strip().lstrip('~')}")
    return entries


def _docs_extension():
    spec = importlib.util.spec_from_file_location("skdgating_docs", DOCS / "_ext" / "skdgating_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def html_dir(tmp_path_factory):
    _require_doc_tools()
    tmp = tmp_path_factory.mktemp("docs")
    src = tmp / "src"
    shutil.copytree(DOCS, src, ignore=shutil.ignore_patterns("_build", "generated", "__pycache__"))
    out = tmp / "html"
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MPLBACKEND="Agg", SKDGATING_DOCS_INTERSPHINX="0", PYTHONHASHSEED="0")
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
           "-d", str(tmp / "doctrees"), str(src), str(out)]
    proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(
            "sphinx-build -W failed (every warning is an error):\n"
            f"$ {' '.join(cmd)}\n{proc.stderr[-20000:]}{proc.stdout[-5000:]}",
            pytrace=False,
        )
    return out


def test_docs_build_without_warnings(html_dir):
    for page in ("index", "api", "user_guide/method", "user_guide/choosing", "user_guide/groups",
                 "user_guide/recipes", "user_guide/scale_out", "user_guide/pytorch"):
        assert (html_dir / f"{page}.html").is_file(), page
    # figures drawn at build time by ``.. plot::`` (they need only numpy, torch and
    # the linear estimators, so they must always be there)
    images = {p.name for p in (html_dir / "_images").glob("*.png")}
    for figure in ("method-1.png", "groups-1.png", "pytorch-1.png"):
        assert figure in images, f"figure {figure} missing; built: {sorted(images)}"


def test_path_and_cv_figures_appear(html_dir):
    ext = _docs_extension()
    needed = ["skdgating.dgating_path", "skdgating.DGatingGroupLassoCV", "skdgating.plotting.plot_path",
              "skdgating.plotting.plot_cv", "skdgating.plotting.plot_importances"]
    assert all(ext.available(name) for name in needed)
    images = {p.name for p in (html_dir / "_images").glob("*.png")}
    figures = {"choosing-1.png", "recipes-1.png", "recipes-2.png"}
    assert figures <= images, f"path/CV figures missing; built: {sorted(images)}"


def test_every_public_name_has_an_api_page(html_dir):
    missing = [name for name in _public_names()
               if not (html_dir / "generated" / f"{name}.html").is_file()]
    assert not missing, f"no API page for {missing}"


def test_api_reference_files_every_public_name():
    # Cheap check, no build: a new public name must be filed under a section of
    # docs/api.rst (the build would list it under "Other public objects").
    listed = _api_entries((DOCS / "api.rst").read_text(encoding="utf-8"))
    unlisted = [name for name in _public_names() if name not in listed]
    assert not unlisted, (
        f"{unlisted} are public (in __all__) but not in docs/api.rst: add each to the "
        "autosummary block of its section.")


def test_api_filter_drops_missing_names_and_appends_unlisted():
    _require_doc_tools()
    ext = _docs_extension()
    assert ext.available("skdgating.DGatingGroupLasso")
    assert not ext.available("skdgating.no_such_object")
    assert not ext.available("skdgating.no_such_module.f")
    text = "\n".join([
        ".. currentmodule:: skdgating", "",
        ".. autosummary::", "   :toctree: generated/", "",
        "   DGatingGroupLasso", "   NoSuchEstimator", "",
        ".. autosummary::", "   :toctree: generated/", "",
        "   no_such_function", "",
        "Text after.", ""])
    new, missing, unlisted = ext.filter_api(text)
    assert missing == ["skdgating.NoSuchEstimator", "skdgating.no_such_function"]
    assert "DGatingGroupLasso" in new and "NoSuchEstimator" not in new
    assert "no_such_function" not in new and "Not part of the installed version" in new
    assert "Text after." in new
    # every other public name is appended, so the build documents it anyway
    assert set(unlisted) == set(_public_names()) - {"skdgating.DGatingGroupLasso"}
    assert "Other public objects" in new


def _calls(text, name):
    """The argument text of every ``name(...)`` call in ``text`` (balanced parentheses)."""
    calls = []
    for match in re.finditer(re.escape(name) + r"\(", text):
        depth, start = 1, match.end()
        for end in range(start, len(text)):
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            if depth == 0:
                calls.append(text[start:end])
                break
    return calls


def test_every_select_from_model_example_gives_a_threshold():
    # SelectFromModel's default threshold depends on the class name ("mean" for the
    # MLP estimators): an example without one would not reproduce support_.
    sources = [ROOT / "README.md", *DOCS.rglob("*.rst"), *(ROOT / "notebooks").glob("*.ipynb"),
               *(ROOT / "skdgating").glob("*.py")]
    calls = {}
    for path in sources:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":  # the code as written, not its JSON escaping
            text = "\n".join("".join(cell["source"]) for cell in json.loads(text)["cells"])
        for args in _calls(text, "SelectFromModel"):
            calls.setdefault(path.relative_to(ROOT).as_posix(), []).append(args)
    assert sum(map(len, calls.values())) >= 4, calls  # README, recipes, notebook, docstrings
    missing = {path: [a for a in args if "threshold=" not in a] for path, args in calls.items()}
    assert not any(missing.values()), f"SelectFromModel examples without a threshold: {missing}"
