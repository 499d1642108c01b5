"""The solver's analytic derivatives against finite differences, and its warnings."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skdgating import DGatingGroupLasso, make_groups
from skdgating import _solvers as S
from skdgating._solvers.newton import balanced_newton
from skdgating._solvers.subproblem import Subproblem


@pytest.mark.parametrize("D", [2, 3, 4])
@pytest.mark.parametrize("kind", ["least_squares", "logistic"])
def test_gradient_and_hessian_match_finite_differences(D, kind):
    rng = np.random.default_rng(D)
    X = rng.standard_normal((50, 7))
    y = rng.standard_normal(50)
    s = np.full(50, 1 / 50)
    datafit = S.LeastSquares(X, y, s) if kind == "least_squares" else S.BinaryLogistic(X, (y > 0) * 1.0, s)
    groups = make_groups([[0, 1], [2], [3, 4, 5], [6]], 7, group_weights=[1.0, 2.0, 1.5, 0.0])
    sub = Subproblem(datafit, groups, np.array([0, 1, 2, 3]), 0.3, D)
    x = rng.standard_normal(sub.m + sub.n_pen * (D - 1) + sub.n_b)
    eps = 1e-6
    basis = np.eye(len(x))
    num_grad = np.array([(sub.objective(x + eps * e)[0] - sub.objective(x - eps * e)[0]) / (2 * eps) for e in basis])
    num_hess = np.array([(sub.objective(x + eps * e)[1] - sub.objective(x - eps * e)[1]) / (2 * eps) for e in basis])
    np.testing.assert_allclose(sub.objective(x)[1], num_grad, atol=1e-7)
    np.testing.assert_allclose(sub.hessian(x), num_hess, atol=1e-7)


def test_convergence_warning_only_when_the_criterion_fails():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 12))
    y = X[:, :3].sum(1) + 0.1 * rng.standard_normal(100)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        DGatingGroupLasso(groups=3, D=2, alpha=0.01).fit(X, y)  # converges: no warning
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        DGatingGroupLasso(groups=3, D=2, alpha=0.01, max_iter=1).fit(X, y)


@pytest.mark.parametrize("divisor", [10, 50])
def test_working_sets_terminate_quickly_with_small_groups_near_the_threshold(divisor):
    # Small but truly nonzero groups must not cycle between the read-out and the KKT test.
    from skdgating import alpha_max
    from skdgating.datasets import make_group_problem

    X, y, _ = make_group_problem(2000, 125, 4, 10, rho=0.5, snr=3.0, random_state=0)
    alpha = alpha_max(X, y, groups=4) / divisor
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        DGatingGroupLasso(groups=4, D=2, alpha=alpha, max_iter=10).fit(X, y)


def test_warm_start_escapes_the_gated_saddle_at_zero():
    # Warm-starting at a smaller alpha left a group at norm ~1e-24 that should grow:
    # tiny omega and gate have vanishing gradients there (zero is a critical point).
    from sklearn.datasets import load_wine
    from sklearn.preprocessing import StandardScaler
    from skglm import GroupLasso

    from skdgating import alpha_max

    X, y = load_wine(return_X_y=True)
    X, y = StandardScaler().fit_transform(X), y.astype(float)
    amax = alpha_max(X, y)
    est = DGatingGroupLasso(D=2, alpha=amax * 0.1, warm_start=True).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.set_params(alpha=amax * 0.01).fit(X, y)
    ref = GroupLasso(groups=1, alpha=amax * 0.01, tol=1e-12, max_iter=1000).fit(X, y)
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-6)


def _balanced_start(sub, W, rng, noise):
    """Balanced factors of W on the subproblem's columns, perturbed by ``noise`` (relative)."""
    Wc = W[:, sub.cols] * (1 + noise * rng.standard_normal(sub.m))
    return sub.start(Wc, np.zeros(sub.K))


def _group_lasso_problem(seed, alpha=0.05):
    """Centred least-squares problem in 20 groups of 2, with skglm's group-lasso solution."""
    from skglm import GroupLasso

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((300, 40))
    X -= X.mean(0)
    y = X[:, :6] @ rng.standard_normal(6) + 0.5 * rng.standard_normal(300)
    y -= y.mean()
    ref = GroupLasso(groups=2, alpha=alpha, weights=np.sqrt(2) * np.ones(20), tol=1e-14, max_iter=10_000,
                     fit_intercept=False).fit(X, y)
    return X, y, make_groups(2, 40), S.LeastSquares(X, y, np.full(300, 1 / 300)), ref.coef_[None, :], rng


def test_balanced_newton_converges_fast_to_the_group_lasso_solution():
    # Oracle: skglm's group lasso. On the oracle's support, the Newton steps on the
    # gated objective over its balanced points must reach its solution in a few
    # (quadratically converging) steps, and the gated objective there must equal
    # the group-lasso objective (AM-GM at balance).
    alpha = 0.05
    X, y, groups, datafit, W_ref, rng = _group_lasso_problem(0, alpha)
    support = np.flatnonzero(groups.group_norms(W_ref) > 0)
    assert 2 <= len(support) < 20
    sub = Subproblem(datafit, groups, support, alpha, 2)
    x, g, steps, outcome = balanced_newton(sub, _balanced_start(sub, W_ref, rng, 0.05), 1e-11)
    assert outcome == "converged" and steps <= 6
    W, _ = sub.effective(x)
    np.testing.assert_allclose(W[0], W_ref[0, sub.cols], atol=1e-8)
    optimum = 0.5 * np.mean((y - X @ W_ref[0]) ** 2) + alpha * np.sqrt(2) * groups.group_norms(W_ref).sum()
    assert sub.objective(x)[0] == pytest.approx(optimum, rel=1e-12)


def test_balanced_newton_zeros_groups_that_leave_the_support_and_hands_back_when_lost():
    # Oracle: skglm's group lasso, and its support.
    alpha = 0.05
    X, y, groups, datafit, W_ref, rng = _group_lasso_problem(1, alpha)
    norms = groups.group_norms(W_ref)
    support, zero = np.flatnonzero(norms > 0), np.flatnonzero(norms == 0)
    # one group that is zero at the optimum, started tiny next to the support: the
    # Newton step takes it through zero, where zero is optimal, so it is set to zero
    ws = np.sort(np.concatenate([support, zero[:1]]))
    sub = Subproblem(datafit, groups, ws, alpha, 2)
    W0 = W_ref.copy()
    W0[0, groups.indices[zero[0]]] = 1e-3 * norms.max() * rng.standard_normal(2)
    x, _, _, outcome = balanced_newton(sub, _balanced_start(sub, W0, rng, 0.0), 1e-11)
    assert outcome == "converged"
    W, _ = sub.effective(x)
    np.testing.assert_allclose(W[0], W_ref[0, sub.cols], atol=1e-8)
    assert np.all(W[0, np.isin(sub.cols, groups.indices[zero[0]])] == 0.0)
    # far from the solution (the others scaled by `factor`, one support group
    # shrunk or flipped): either the oracle's solution, or the input handed back
    outcomes = []
    sub_support = Subproblem(datafit, groups, support, alpha, 2)
    for j in support:
        for factor, shrink in [(-1.0, 1e-6), (0.3, -1.0), (1.2, 1e-6), (3.0, -1e-6), (10.0, 1e-2)]:
            W0 = factor * W_ref
            W0[0, groups.indices[j]] = shrink * W_ref[0, groups.indices[j]]
            x0 = _balanced_start(sub_support, W0, rng, 0.0)
            x, _, _, outcome = balanced_newton(sub_support, x0, 1e-11)
            outcomes.append(outcome)
            if outcome == "converged":
                np.testing.assert_allclose(sub_support.effective(x)[0][0], W_ref[0, sub_support.cols], atol=1e-8)
            else:
                assert np.array_equal(x, x0)
            # the whole solver, from that start, finds the group-lasso solution
            W, _, _, info = S.solve(datafit, groups, alpha, 2, coef_init=W0, tol=1e-9)
            assert info["converged"]
            np.testing.assert_allclose(W[0], W_ref[0], atol=1e-7)
    assert outcomes.count("converged") >= 0.8 * len(outcomes)
    # out of steps: "failed", the input comes back
    _, _, steps, outcome = balanced_newton(sub_support, x0, 1e-11, max_steps=1)
    assert (outcome, steps) == ("failed", 1)
