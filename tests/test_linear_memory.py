"""Memory of the linear fits: no copy of X, no object of X's size, whatever the shape.

tracemalloc sees numpy's allocations (and scipy.sparse's, which are numpy arrays).
The oracle is X's own size: least squares with an intercept centres X implicitly
(no centred copy), the D>=3 start is matrix-free (no min(n, p)^2 Gram matrix), a
working set of every group is read through X (no copy of it), and the Gram cache
is budgeted by X's size. Each fit also checks its result against an independent
identity, so that a fit that saves memory by doing nothing cannot pass.
"""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from skdgating import DGatingGroupLasso, DGatingLogisticGroupLasso, alpha_max


@pytest.fixture(autouse=True, scope="module")
def _compiled_kernels_loaded():
    """The first D=2 fit in a process loads (or compiles) the solver's numba kernels,
    a one-time allocation of about 16 MB whatever the data: not the fit's memory."""
    X, y = _planted(40, 8, 2, seed=0)
    DGatingGroupLasso(groups=2, D=2, alpha=0.01).fit(X, y)


def _peak(fit):
    """Peak bytes allocated by ``fit()`` (beyond what existed before), and its result."""
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fit()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, result


def _planted(n, p, n_active, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) + 3.0  # nonzero means: the intercept matters
    w = np.zeros(p)
    w[:n_active] = rng.standard_normal(n_active)
    return X, X @ w + 1.0 + 0.1 * rng.standard_normal(n)


def _stationary(est, X, y, D, size):
    """The nonsmooth stationarity identity of METHOD.md (D>=3) or the group-lasso KKT
    conditions (D=2), checked on the fit's own support."""
    residual = X @ est.coef_ + est.intercept_ - y
    G = np.asarray(X.T @ residual).ravel() / len(y)
    assert abs(residual.mean()) < 1e-8  # the intercept is optimal
    for j in range(X.shape[1] // size):
        g, w = G[j * size: (j + 1) * size], est.coef_[j * size: (j + 1) * size]
        c = np.sqrt(size)
        if np.any(w):
            norm = np.linalg.norm(w)
            assert np.linalg.norm(g + est.alpha * c * (2 / D) * norm ** (2 / D - 2) * w) < 1e-5
        elif D == 2:
            assert np.linalg.norm(g) <= est.alpha * c + 1e-6


@pytest.mark.parametrize("D", [2, 3])
def test_dense_fit_allocates_a_fraction_of_x(D):
    """Square 1500 x 1500 (18 MB): the fit allocates well under X's size."""
    size = 5
    X, y = _planted(1500, 1500, 20, seed=D)
    alpha = alpha_max(X, y, groups=size) / 10
    peak, est = _peak(lambda: DGatingGroupLasso(groups=size, D=D, alpha=alpha, tol=1e-8).fit(X, y))
    _stationary(est, X, y, D, size)
    assert est.support_.sum() >= 1
    assert peak < 0.5 * X.nbytes, f"peak {peak / 1e6:.1f} MB for X of {X.nbytes / 1e6:.1f} MB"


def test_dense_logistic_fit_allocates_a_fraction_of_x():
    """Binary logistic, square 1500 x 1500 (18 MB; X is not centred, and the scale
    check computes the column spreads itself): well under X's size. The result is
    checked by the group-lasso KKT conditions of the logistic loss."""
    size = 5
    X, y = _planted(1500, 1500, 20, seed=2)
    labels = (y > np.median(y)).astype(float)
    peak, est = _peak(lambda: DGatingLogisticGroupLasso(groups=size, D=2, alpha=0.02, tol=1e-8).fit(X, labels))
    assert peak < 0.5 * X.nbytes, f"peak {peak / 1e6:.1f} MB for X of {X.nbytes / 1e6:.1f} MB"
    z = X @ est.coef_.ravel() + est.intercept_[0]
    G = X.T @ (1.0 / (1.0 + np.exp(-z)) - labels) / len(labels)
    for j in range(X.shape[1] // size):
        g, w = G[j * size: (j + 1) * size], est.coef_.ravel()[j * size: (j + 1) * size]
        if np.any(w):
            assert np.linalg.norm(g + est.alpha * np.sqrt(size) * w / np.linalg.norm(w)) < 1e-5
        else:
            assert np.linalg.norm(g) <= est.alpha * np.sqrt(size) + 1e-6
    assert est.support_.sum() >= 1


@pytest.mark.parametrize("D", [2, 3])
def test_dense_tall_fit_allocates_a_fraction_of_x(D):
    """Tall 20,000 x 400 (64 MB), where the Gram form caches working-set columns
    (D>=3 starts with all of them: their Gram matrix is formed through X)."""
    size = 4
    X, y = _planted(20_000, 400, 12, seed=5)
    alpha = alpha_max(X, y, groups=size) / 50
    peak, est = _peak(lambda: DGatingGroupLasso(groups=size, D=D, alpha=alpha, tol=1e-8).fit(X, y))
    _stationary(est, X, y, D, size)
    assert peak < 0.5 * X.nbytes, f"peak {peak / 1e6:.1f} MB for X of {X.nbytes / 1e6:.1f} MB"


def test_sparse_d3_fit_does_not_densify():
    """D>=3 on a 4000 x 4000 sparse X (128 MB dense): its start allocates a few MB."""
    rng = np.random.default_rng(0)
    X = sp.random(4000, 4000, density=5e-4, format="csc", random_state=3)
    y = X[:, :10] @ rng.standard_normal(10) + 0.01 * rng.standard_normal(4000)
    alpha = alpha_max(X, y, groups=5) / 5
    peak, est = _peak(lambda: DGatingGroupLasso(groups=5, D=3, alpha=alpha, tol=1e-8).fit(X, y))
    _stationary(est, X, y, 3, 5)
    assert est.support_.sum() >= 1
    dense_bytes = 8 * X.shape[0] * X.shape[1]
    assert peak < dense_bytes / 10, f"peak {peak / 1e6:.1f} MB, dense size {dense_bytes / 1e6:.0f} MB"


def test_means_far_above_the_spread_are_centred_exactly():
    """Columns with means 1e7 times their spread (where implicit centring would cancel
    the digits of the KKT test): the fit converges, to the fit on the pre-centred columns."""
    X, y = _planted(200, 40, 8, seed=7)
    X -= X.mean(0)
    shifted = X + 1e7 * np.arange(1, 41)
    alpha = alpha_max(X, y, groups=4) / 10
    ref = DGatingGroupLasso(groups=4, D=2, alpha=alpha, tol=1e-8).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = DGatingGroupLasso(groups=4, D=2, alpha=alpha, tol=1e-8).fit(shifted, y)
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-6)
