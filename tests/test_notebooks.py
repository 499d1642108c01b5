"""Every notebook in ``notebooks/`` runs top to bottom without an error, each in under 120 s.

The notebooks are executed with nbclient in a Jupyter kernel that runs *this*
interpreter (a kernel spec pointing at ``sys.executable`` is written to a
temporary directory on ``JUPYTER_PATH``, so no other installed kernel can be
picked up) with one OpenMP/BLAS thread, in a temporary working directory; the
checkout is not modified. A check cell appended to the in-memory copy of each
notebook verifies the interpreter and the thread settings of the kernel.

nbclient, nbformat and ipykernel are required: without them these tests fail
rather than skip, so a missing notebook toolchain cannot go unnoticed.
"""

import importlib.util
import json
import os
import re
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TOOLS = ("nbclient", "nbformat", "ipykernel")
TIME_LIMIT = 120  # seconds per notebook, kernel start included
KERNEL_NAME = "skdgating-notebook-test"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # colours of IPython tracebacks
THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

# Appended to each notebook (in memory): what the kernel actually ran with.
CHECK_CELL = """\
import json as _json, os as _os, sys as _sys
_torch = _sys.modules.get("torch")
print(_json.dumps({
    "executable": _sys.executable,
    "env": {k: _os.environ.get(k) for k in %r},
    "torch_threads": None if _torch is None else _torch.get_num_threads(),
}))
""" % (sorted(THREADS),)


def _require_notebook_tools():
    missing = [name for name in TOOLS if importlib.util.find_spec(name) is None]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not installed: the notebook tests execute notebooks/*.ipynb "
            "with nbclient. Install the tools with: .venv/bin/pip install nbclient nbformat ipykernel "
            "(or .venv/bin/pip install -e '.[test]').",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory):
    """A kernel spec for this interpreter, one thread, on a private JUPYTER_PATH."""
    _require_notebook_tools()
    jupyter_dir = tmp_path_factory.mktemp("jupyter")
    spec_dir = jupyter_dir / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "skdgating notebook tests",
        "language": "python",
        "env": THREADS,
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(jupyter_dir))
        for key, value in THREADS.items():  # also for anything the kernel inherits
            mp.setenv(key, value)
        yield KERNEL_NAME


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {ROOT / 'notebooks'}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_without_error(path, kernel_name, tmp_path):
    import nbclient
    import nbformat
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CHECK_CELL))
    client = nbclient.NotebookClient(nb, timeout=TIME_LIMIT, kernel_name=kernel_name,
                                     resources={"metadata": {"path": str(tmp_path)}})
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        error = ANSI_ESCAPE.sub("", str(exc))
    elapsed = time.perf_counter() - start
    if error is not None:  # outside the except block: no chained traceback
        pytest.fail(f"{path.name} failed after {elapsed:.1f} s:\n{error}", pytrace=False)
    print(f"{path.name}: {elapsed:.1f} s")
    assert elapsed < TIME_LIMIT, f"{path.name} took {elapsed:.1f} s (limit {TIME_LIMIT} s)"

    streams = [out for out in nb.cells[-1].outputs if out.output_type == "stream"]
    info = json.loads("".join(out.text for out in streams).strip().splitlines()[-1])
    assert os.path.samefile(info["executable"], sys.executable), info["executable"]
    assert info["env"] == THREADS, info["env"]
    assert info["torch_threads"] in (None, 1), info["torch_threads"]
