"""Property-based robustness: whatever the data, fit and predict finite values or raise
a ValueError/TypeError that names the problem.

Random shapes (1 sample, 1 feature, n < p, p >> n), dtypes (int, bool, float32,
float64, object), constant, duplicated and all-zero columns, scales from 1e-8 to 1e8,
NaN/inf, single and tiny classes, random group specifications and hyperparameters.
The generator records which input problems it planted (non-finite X, a group
listing a column twice or out of range, a single class); a case with a problem
must raise, and every error must name a problem the case really has.
"""

import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skdgating import DGatingGroupLasso, DGatingLogisticGroupLasso, DGatingMLPClassifier, DGatingMLPRegressor

# small, fast networks: the property is about input handling, not about accuracy
MLP_FAST = dict(hidden_layer_sizes=(4,), max_epochs=2, batch_size=8, alpha=0.01)

# What an error must say for each planted problem.
PROBLEM_MESSAGES = {
    "nonfinite": r"^Input X contains (NaN|infinity)",
    "bad_groups": r"^A group lists the same column twice|names column \d+, outside 0\.\.",
    "one_class": r"^The target has only one class \(.+\); a classifier needs samples of at least 2",
}
# Not an input problem: an MLP step too large for the data (alpha up to 1e3 here) may
# diverge; the message must then name the two settings to lower.
DIVERGED = r"the optimization diverged\. Lower learning_rate_init \(now .+\) or alpha \(now .+\)"


@st.composite
def datasets(draw, classification):
    n = draw(st.sampled_from([1, 2, 3, 5, 8, 20, 40]))
    p = draw(st.sampled_from([1, 2, 3, 6, 12, 60]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.standard_normal((n, p))
    for j in range(p):
        kind = draw(st.sampled_from(["plain", "plain", "constant", "zero", "duplicate", "scaled"]))
        if kind == "constant":
            X[:, j] = draw(st.floats(-5, 5))
        elif kind == "zero":
            X[:, j] = 0.0
        elif kind == "duplicate" and j > 0:
            X[:, j] = X[:, draw(st.integers(0, j - 1))]
        elif kind == "scaled":
            X[:, j] *= 10.0 ** draw(st.integers(-8, 8))
    problems = set()
    nonfinite = draw(st.booleans()) and draw(st.booleans())
    if nonfinite:
        X[draw(st.integers(0, n - 1)), draw(st.integers(0, p - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    dtype = draw(st.sampled_from(["float64", "float32", "int", "bool", "object"]))
    if nonfinite and dtype not in ("int", "bool"):  # int and bool replace it by a number
        problems.add("nonfinite")
    if dtype == "int":
        X = np.nan_to_num(X, posinf=1e9, neginf=-1e9).round().astype(np.int64)
    elif dtype == "bool":
        X = np.nan_to_num(X) > 0
    else:
        X = X.astype(dtype)
    if classification:
        n_classes = draw(st.integers(1, 4))
        y = rng.integers(0, n_classes, size=n)
        if draw(st.booleans()):
            y[: max(n - 1, 0)] = 0  # one tiny class (or a single class)
        y = np.array(["a", "b", "c", "d"])[y] if draw(st.booleans()) else y
        if np.unique(y).size == 1:
            problems.add("one_class")
    else:
        y = rng.standard_normal(n) * 10.0 ** draw(st.integers(-3, 3))
    groups = draw(st.sampled_from(["none", "int", "sizes", "labels", "bad"]))
    if groups == "none":
        spec = None
    elif groups == "int":
        spec = draw(st.sampled_from([k for k in (1, 2, 3) if p % k == 0]))
    elif groups == "sizes":
        cut = sorted(set(draw(st.lists(st.integers(1, max(p - 1, 1)), max_size=3))) - {p})
        spec = list(np.diff([0] + [c for c in cut if c < p] + [p]))
    elif groups == "labels":
        spec = rng.integers(0, 3, size=p)
    else:
        spec = [[0, 0]] if p > 1 else [[5]]
        problems.add("bad_groups")
    params = dict(groups=spec, D=draw(st.integers(2, 5)), alpha=draw(st.sampled_from([0.0, 1e-3, 0.05, 1.0, 1e3])),
                  random_state=0)
    return X, y, params, problems


def check_case(Est, X, y, params, problems):
    mlp = Est in (DGatingMLPClassifier, DGatingMLPRegressor)
    if mlp:
        params = {**params, **MLP_FAST}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scaling, empty-model and convergence warnings are fine
            est = Est(**params).fit(X, y)
            pred = est.predict(X)
    except (ValueError, TypeError) as exc:
        message = str(exc)
        named = [p for p in problems if re.search(PROBLEM_MESSAGES[p], message)]
        assert named or (mlp and re.search(DIVERGED, message)), (
            f"error {message!r} names none of the planted problems {sorted(problems)}")
        return
    assert not problems, f"fit accepted data with {sorted(problems)}"
    assert pred.shape == (X.shape[0],)
    assert np.all(np.isfinite(est.coef_))
    if Est in (DGatingGroupLasso, DGatingMLPRegressor):
        assert np.all(np.isfinite(pred))
    else:
        proba = est.predict_proba(X)
        assert proba.dtype == np.float64 and np.all(np.isfinite(proba))
        np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
        assert set(np.unique(pred)) <= set(np.unique(y))


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    derandomize=True)


@SETTINGS
@given(data=datasets(classification=False))
def test_regressor_never_crashes_or_returns_nan(data):
    check_case(DGatingGroupLasso, *data)


@SETTINGS
@given(data=datasets(classification=True))
def test_classifier_never_crashes_or_returns_nan(data):
    check_case(DGatingLogisticGroupLasso, *data)


MLP_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                        derandomize=True)


@MLP_SETTINGS
@given(data=datasets(classification=False))
def test_mlp_regressor_never_crashes_or_returns_nan(data):
    check_case(DGatingMLPRegressor, *data)


@MLP_SETTINGS
@given(data=datasets(classification=True))
def test_mlp_classifier_never_crashes_or_returns_nan(data):
    check_case(DGatingMLPClassifier, *data)

