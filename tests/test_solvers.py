"""The solver's analytic derivatives against finite differences, and its warnings."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skdgating import DGatingGroupLasso, make_groups
from skdgating import _solvers as S


@pytest.mark.parametrize("D", [2, 3, 4])
@pytest.mark.parametrize("kind", ["least_squares", "logistic"])
def test_gradient_and_hessian_match_finite_differences(D, kind):
    rng = np.random.default_rng(D)
    X = rng.standard_normal((50, 7))
    y = rng.standard_normal(50)
    s = np.full(50, 1 / 50)
    datafit = S.LeastSquares(X, y, s) if kind == "least_squares" else S.BinaryLogistic(X, (y > 0) * 1.0, s)
    groups = make_groups([[0, 1], [2], [3, 4, 5], [6]], 7, group_weights=[1.0, 2.0, 1.5, 0.0])
    sub = S._Subproblem(datafit, groups, np.array([0, 1, 2, 3]), 0.3, D, True)
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
