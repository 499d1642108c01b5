"""Sparse X (CSR/CSC) in the linear estimators, their CV versions, alpha_max and dgating_path.

Oracles: the same estimator on the densified matrix (small problems only), and
skglm's GroupLasso solution of the same problem. skglm is run on the dense copy:
its solution is the same mathematical object, and its sparse code costs about five
times its dense code in numba compilation (over 20 s of CPU, once per process),
while the dense code is compiled for the other test files anyway. Memory: a fit
on a sparse matrix whose dense form would take 200 MB stays far below that
(tracemalloc, which sees numpy's allocations).
"""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from skglm import GroupLasso

from skdgating import (DGatingGroupLasso, DGatingGroupLassoCV, DGatingLogisticGroupLasso,
                       DGatingLogisticGroupLassoCV, alpha_max, dgating_path)

SIZE = 3


@pytest.fixture(scope="module")
def sparse_problem():
    """One-hot-like sparse design with a planted group support, and its dense copy."""
    rng = np.random.default_rng(0)
    X = sp.random(300, 60, density=0.15, format="csr", random_state=1, data_rvs=rng.standard_normal)
    w = np.zeros(60)
    w[:9] = rng.standard_normal(9)
    y = X @ w + 0.5 + 0.1 * rng.standard_normal(300)
    return X, X.toarray(), y


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("D", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_least_squares_sparse_equals_dense(sparse_problem, fmt, D, fit_intercept):
    X, Xd, y = sparse_problem
    sw = np.random.default_rng(3).uniform(0.5, 2.0, len(y))
    amax = alpha_max(Xd, y, groups=SIZE, sample_weight=sw, fit_intercept=fit_intercept)
    assert alpha_max(X.asformat(fmt), y, groups=SIZE, sample_weight=sw,
                     fit_intercept=fit_intercept) == pytest.approx(amax, rel=1e-12)
    kw = dict(groups=SIZE, D=D, alpha=amax / 20, fit_intercept=fit_intercept, random_state=0, tol=1e-8)
    dense = DGatingGroupLasso(**kw).fit(Xd, y, sample_weight=sw)
    sparse = DGatingGroupLasso(**kw).fit(X.asformat(fmt), y, sample_weight=sw)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-6)
    assert sparse.intercept_ == pytest.approx(dense.intercept_, abs=1e-6)
    np.testing.assert_array_equal(sparse.support_, dense.support_)
    np.testing.assert_allclose(sparse.predict(X.asformat(fmt)), dense.predict(Xd), atol=1e-6)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("D", [2, 3])
def test_logistic_sparse_equals_dense(sparse_problem, n_classes, D):
    X, Xd, y = sparse_problem
    labels = np.digitize(y, np.quantile(y, np.linspace(0, 1, n_classes + 1)[1:-1]))
    amax = alpha_max(Xd, labels, groups=SIZE, task="classification")
    assert alpha_max(X, labels, groups=SIZE, task="classification") == pytest.approx(amax, rel=1e-12)
    kw = dict(groups=SIZE, D=D, alpha=amax / 10, random_state=0, tol=1e-8)
    dense = DGatingLogisticGroupLasso(**kw).fit(Xd, labels)
    sparse = DGatingLogisticGroupLasso(**kw).fit(X, labels)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-6)
    np.testing.assert_allclose(sparse.intercept_, dense.intercept_, atol=1e-6)
    np.testing.assert_allclose(sparse.predict_proba(X), dense.predict_proba(Xd), atol=1e-6)


def test_least_squares_sparse_matches_skglm(sparse_problem):
    X, Xd, y = sparse_problem
    X = X.tocsc()
    amax = alpha_max(X, y, groups=SIZE)
    weights = np.full(60 // SIZE, np.sqrt(SIZE))
    for divisor in (5, 50):
        ours = DGatingGroupLasso(groups=SIZE, D=2, alpha=amax / divisor, tol=1e-10).fit(X, y)
        ref = GroupLasso(groups=SIZE, alpha=amax / divisor, weights=weights, tol=1e-12, max_iter=10_000,
                         fit_intercept=True).fit(Xd, y)
        np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)
        assert ours.intercept_ == pytest.approx(ref.intercept_, abs=1e-6)


def test_path_and_cv_accept_sparse(sparse_problem):
    X, Xd, y = sparse_problem
    alphas = alpha_max(Xd, y, groups=SIZE) * np.geomspace(1.0, 0.02, 6)
    est = DGatingGroupLasso(groups=SIZE, D=2, tol=1e-8)
    path_sparse = dgating_path(est, X, y, alphas=alphas)
    path_dense = dgating_path(est, Xd, y, alphas=alphas)
    np.testing.assert_allclose(path_sparse.coefs, path_dense.coefs, atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cv_sparse = DGatingGroupLassoCV(groups=SIZE, D=2, alphas=alphas, cv=3).fit(X, y)
        cv_dense = DGatingGroupLassoCV(groups=SIZE, D=2, alphas=alphas, cv=3).fit(Xd, y)
    assert cv_sparse.alpha_ == cv_dense.alpha_
    np.testing.assert_allclose(cv_sparse.predict(X), cv_dense.predict(Xd), atol=1e-6)
    labels = (y > np.median(y)).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = DGatingLogisticGroupLassoCV(groups=SIZE, D=2, alphas=4, cv=3).fit(X, labels)
    assert clf.predict_proba(X).shape == (len(labels), 2)


def test_sparse_fit_does_not_densify():
    """A 5000 x 5000 design (200 MB dense) at 0.05% density: the fit allocates a few MB."""
    rng = np.random.default_rng(0)
    n = p = 5000
    X = sp.random(n, p, density=5e-4, format="csc", random_state=2)
    y = X[:, :10] @ rng.standard_normal(10) + 0.01 * rng.standard_normal(n)
    tracemalloc.start()
    try:
        amax = alpha_max(X, y, groups=5)
        est = DGatingGroupLasso(groups=5, D=2, alpha=amax / 5).fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert est.selected_features_.size > 0
    assert peak < 20e6, f"peak allocation {peak / 1e6:.0f} MB"
