"""The D=2 solver in ``w`` (proximal Newton with block coordinate descent, skdgating._solvers.bcd).

Oracle: the group-lasso KKT conditions, computed here from X and y alone (the
problem is convex, so they certify the solution; tests/test_linear_oracle.py compares
with skglm and celer). Shapes: wide (more columns than samples, the
residual form of the inner solver) and tall (its Gram form), least squares and
logistic, dense and sparse, with unpenalized groups and without an intercept.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit

from skdgating import DGatingGroupLasso, DGatingLogisticGroupLasso, alpha_max, dgating_path
from skdgating._solvers import bcd

SIZE = 5


def _problem(n, p, task, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    X[:, 1:] += 0.5 * X[:, :-1]  # correlated neighbours
    w = np.zeros(p)
    w[: 3 * SIZE] = rng.standard_normal(3 * SIZE)
    z = X @ w + 0.3
    if task == "regression":
        return X, z + 0.5 * rng.standard_normal(n)
    return X, (rng.uniform(size=n) < expit(z)).astype(float)


def _kkt_violation(X, y, coef, intercept, alpha, weights, task):
    """Largest violation of the group-lasso optimality conditions, from X and y alone
    (mean loss; the intercept is unpenalized, so its gradient must vanish too)."""
    z = X @ coef + intercept
    r = (z - y) if task == "regression" else (expit(z) - y)
    grad = X.T @ r / len(y)
    worst = abs(r.mean())
    for j, c in enumerate(weights):
        g, w = grad[j * SIZE:(j + 1) * SIZE], coef[j * SIZE:(j + 1) * SIZE]
        norm = np.linalg.norm(w)
        if c == 0:
            worst = max(worst, np.linalg.norm(g))
        elif norm == 0:
            worst = max(worst, np.linalg.norm(g) - alpha * c)
        else:
            worst = max(worst, np.linalg.norm(g + alpha * c * w / norm))
    return worst


@pytest.mark.parametrize("task", ["regression", "classification"])
@pytest.mark.parametrize("shape", [(60, 400), (600, 60)], ids=["wide", "tall"])
def test_group_lasso_solution_satisfies_kkt(task, shape):
    # the problem is convex: the KKT conditions (computed here from X and y) certify
    # the group-lasso solution
    X, y = _problem(*shape, task)
    weights = np.full(shape[1] // SIZE, np.sqrt(SIZE))
    alpha = alpha_max(X, y, groups=SIZE, task=task) / 8
    Est = DGatingGroupLasso if task == "regression" else DGatingLogisticGroupLasso
    ours = Est(groups=SIZE, D=2, alpha=alpha, tol=1e-8).fit(X, y)
    coef, intercept = ours.coef_.ravel(), float(np.ravel(ours.intercept_)[0])
    assert _kkt_violation(X, y, coef, intercept, alpha, weights, task) <= 1e-7
    assert 0 < np.sum(ours.group_norms_ > 0) < len(weights)


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_residual_and_gram_forms_agree(task, monkeypatch):
    # the inner solver's two forms of the Hessian (n x m factor, m x m Gram matrix)
    # minimize the same objective: forcing each in turn gives the same solution
    X, y = _problem(200, 150, task, seed=1)
    Est = DGatingGroupLasso if task == "regression" else DGatingLogisticGroupLasso
    alpha = alpha_max(X, y, groups=SIZE, task=task) / 10
    fits = []
    for rows_per_column in (0, 1e9):  # always Gram, never Gram
        monkeypatch.setattr(bcd, "GRAM_ROWS_PER_COLUMN", rows_per_column)
        fits.append(Est(groups=SIZE, D=2, alpha=alpha, tol=1e-9).fit(X, y))
    np.testing.assert_allclose(fits[0].coef_, fits[1].coef_, atol=1e-7)
    np.testing.assert_allclose(fits[0].intercept_, fits[1].intercept_, atol=1e-7)


def test_unpenalized_groups_and_no_intercept():
    X, y = _problem(80, 200, "classification", seed=2)
    weights = np.full(40, np.sqrt(SIZE))
    weights[[0, 7]] = 0.0  # two unpenalized groups
    alpha = 0.05
    est = DGatingLogisticGroupLasso(groups=SIZE, D=2, alpha=alpha, group_weights=weights, fit_intercept=False,
                                    tol=1e-8).fit(X, y)
    coef = est.coef_.ravel()
    assert np.ravel(est.intercept_)[0] == 0.0
    z = X @ coef
    grad = X.T @ (expit(z) - y) / len(y)
    for j in (0, 7):  # unpenalized: gradient zero, group nonzero
        assert np.linalg.norm(grad[j * SIZE:(j + 1) * SIZE]) <= 1e-7
        assert np.linalg.norm(coef[j * SIZE:(j + 1) * SIZE]) > 0
    for j in np.flatnonzero(weights):
        g, w = grad[j * SIZE:(j + 1) * SIZE], coef[j * SIZE:(j + 1) * SIZE]
        norm = np.linalg.norm(w)
        c = weights[j]
        viol = np.linalg.norm(g + alpha * c * w / norm) if norm else max(np.linalg.norm(g) - alpha * c, 0)
        assert viol <= 1e-7


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_sparse_input_matches_dense(task):
    rng = np.random.default_rng(4)
    X = sp.random(400, 100, density=0.05, format="csc", random_state=5, data_rvs=rng.standard_normal)
    w = np.zeros(100)
    w[:10] = 2 * rng.standard_normal(10)
    z = X @ w
    y = z + 0.1 * rng.standard_normal(400) if task == "regression" else (rng.uniform(size=400) < expit(z)) * 1.0
    Est = DGatingGroupLasso if task == "regression" else DGatingLogisticGroupLasso
    alpha = alpha_max(X, y, groups=SIZE, task=task) / 10
    sparse = Est(groups=SIZE, D=2, alpha=alpha, tol=1e-9).fit(X, y)
    dense = Est(groups=SIZE, D=2, alpha=alpha, tol=1e-9).fit(X.toarray(), y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-7)


def test_warm_started_path_equals_cold_fits():
    X, y = _problem(50, 300, "regression", seed=3)
    amax = alpha_max(X, y, groups=SIZE)
    alphas = amax * np.geomspace(1.0, 0.02, 8)
    path = dgating_path(DGatingGroupLasso(groups=SIZE, D=2, tol=1e-9), X, y, alphas=alphas)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every fit converges
        for alpha, coef in zip(alphas[[2, 5, 7]], np.asarray(path.coefs)[[2, 5, 7]]):
            cold = DGatingGroupLasso(groups=SIZE, D=2, alpha=alpha, tol=1e-9).fit(X, y)
            np.testing.assert_allclose(np.ravel(coef), cold.coef_, atol=1e-6)


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_a_stalling_bcd_solve_is_finished_by_the_gated_solver(task, monkeypatch):
    # A model solve that takes MAX_EPOCHS passes hands the fit to the gated working-set
    # solver from where BCD left it (a badly conditioned problem once took 20,000
    # passes per model); forced here with a cap of 2 passes. The KKT conditions
    # certify the result, and the fallback is seen to run.
    from skdgating._solvers import convex

    calls, gated = [], convex.solve_gated_working_sets

    def counting(*args, **kwargs):
        calls.append(1)
        return gated(*args, **kwargs)

    monkeypatch.setattr(bcd, "MAX_EPOCHS", 2)
    monkeypatch.setattr(convex, "solve_gated_working_sets", counting)
    X, y = _problem(60, 200, task)
    weights = np.full(200 // SIZE, np.sqrt(SIZE))
    alpha = alpha_max(X, y, groups=SIZE, task=task) / 20
    Est = DGatingGroupLasso if task == "regression" else DGatingLogisticGroupLasso
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # converged: no ConvergenceWarning
        est = Est(groups=SIZE, D=2, alpha=alpha, tol=1e-8).fit(X, y)
    coef, intercept = np.ravel(est.coef_), float(np.ravel(est.intercept_)[0])
    assert calls and np.count_nonzero(coef)
    assert _kkt_violation(X, y, coef, intercept, alpha, weights, task) < 1e-6
