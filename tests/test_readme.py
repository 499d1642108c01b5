"""The README's Python code runs, and prints what the README says it prints.

Convention (stated in the README): a ``# comment`` at the end of a line with a
``print(`` call is that call's output, with ``...`` standing for anything
(doctest's ELLIPSIS). Each ``python`` block runs as written in a fresh
interpreter, with one BLAS/OpenMP thread as ``make`` runs it.
"""

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def claimed_output(code):
    """What the block claims to print: the comments of its print lines, in order."""
    claims = []
    for line in code.splitlines():
        if re.match(r"\s*print\(", line):
            comment = re.search(r"\)\s*#\s*(.*)$", line)
            claims.append(comment.group(1).strip() if comment else "...")
    return "\n".join(claims) + "\n" if claims else ""


def test_readme_has_python_code():
    assert PYTHON_BLOCKS, "no ```python block found in README.md"


@pytest.mark.parametrize("code", PYTHON_BLOCKS, ids=[f"block{i}" for i in range(len(PYTHON_BLOCKS))])
def test_readme_code_prints_what_the_readme_claims(code):
    # PYTHONPATH passes through so a checkout run with PYTHONPATH=. tests its own copy
    env = dict(THREADS, PATH="", **{k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    claimed = claimed_output(code)
    checker = doctest.OutputChecker()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    assert checker.check_output(claimed, out.stdout, flags), (
        f"README claims the output\n{claimed}but the code printed\n{out.stdout}")


def test_claim_checker_rejects_a_wrong_claim():
    # The checker itself is not vacuous: a wrong claim and an unverifiable timing fail.
    checker, flags = doctest.OutputChecker(), doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    assert checker.check_output("[0 1 2 3 4] 0.9...\n", "[0 1 2 3 4] 0.915\n", flags)
    assert not checker.check_output("[0 1 2 3 4] 0.9...\n", "[0 1 2 3 4] 0.885\n", flags)
    assert not checker.check_output("[0 1 2 3 4] 0.9...\n", "[0 1 2 3] 0.915\n", flags)
    assert not checker.check_output("[0 1] 0.915 (about 10 s)\n", "[0 1] 0.915\n", flags)
    assert claimed_output("x = 1\nprint(x)   # 1\nprint(x, x)\n") == "1\n...\n"


def test_readme_says_how_to_run_python_from_the_venv():
    # The README's venv is the one the Makefile creates (VENV ?= .venv).
    venv = re.search(r"^VENV\s*\?=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    text = README.read_text(encoding="utf-8")
    assert f"source {venv}/bin/activate" in text
    assert f"{venv}/bin/python" in text
