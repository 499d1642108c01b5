"""`import skdgating` and the linear models load no torch; the MLP names load it on use."""

import subprocess
import sys

import skdgating

TORCH_FREE = """
import contextlib
import io
import os
import sys
import tempfile

import numpy as np
import pandas as pd

import skdgating
from skdgating import DGatingGroupLasso, DGatingGroupLassoCV, EmptyModelWarning, dgating_path
from skdgating.cli import main

rng = np.random.default_rng(0)
X = rng.standard_normal((60, 6))
y = X[:, 0] - X[:, 1] + 0.1 * rng.standard_normal(60)
DGatingGroupLasso(alpha=0.1).fit(X, y)
DGatingGroupLassoCV(cv=2, alphas=3).fit(X, y)
with tempfile.TemporaryDirectory() as tmp:  # the command line's linear path, end to end
    path = os.path.join(tmp, "data.csv")
    pd.DataFrame(X).add_prefix("x").assign(y=y).to_csv(path, index=False)
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["select", path, "--target", "y", "--alpha", "0.1", "--quiet"]) == 0
print(sorted(m for m in ("torch", "skorch") if m in sys.modules))
"""


def test_import_and_the_linear_models_load_no_torch():
    out = subprocess.run([sys.executable, "-c", TORCH_FREE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_every_public_name_resolves_and_is_listed():
    names = set(dir(skdgating))
    for name in skdgating.__all__:
        assert name in names, name
        assert getattr(skdgating, name).__module__.startswith("skdgating"), name
    from skdgating import DGatingMLPClassifier  # the lazy names import as before
    from skdgating.mlp import DGatingMLPClassifier as direct

    assert DGatingMLPClassifier is direct and skdgating.mlp.DGatingMLPClassifier is direct


def test_an_unknown_name_is_an_attribute_error():
    try:
        skdgating.no_such_name
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("no AttributeError")


def test_import_loads_numba_only_for_a_linear_fit():
    # numba (about 0.4 s to load) compiles the linear solver's inner pass; importing the
    # package, or fitting only MLPs, must not pay for it.
    code = ("import sys, numpy as np, skdgating; before = 'numba' in sys.modules; "
            "X = np.random.default_rng(0).standard_normal((40, 6)); "
            "skdgating.DGatingGroupLasso(D=2, alpha=0.01).fit(X, X[:, 0] - X[:, 1]); "
            "print(before, 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]
