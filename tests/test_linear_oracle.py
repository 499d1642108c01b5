"""Linear estimators against independent oracles.

D=2: skglm (an independent group-lasso solver) and, for the multinomial case that
skglm lacks, a proximal-gradient (FISTA) group-lasso solver written here. D>=3:
stationarity of the non-smooth L_{2,2/D} objective, and support recovery on a
planted problem.
"""

import warnings

import numpy as np
import pytest
from skglm import GeneralizedLinearEstimator, GroupLasso
from skglm.datafits import LogisticGroup
from skglm.penalties import WeightedGroupL2
from skglm.solvers import GroupProxNewton
from skglm.utils.data import grp_converter

from skdgating import DGatingGroupLasso, DGatingLogisticGroupLasso, alpha_max
from skdgating.datasets import make_group_problem

SIZE = 3


@pytest.fixture(scope="module")
def regression():
    X, y, true = make_group_problem(300, 20, SIZE, 4, rho=0.5, snr=3.0, random_state=1)
    return X, y, true


@pytest.fixture(scope="module")
def classification():
    X, y, true = make_group_problem(300, 20, SIZE, 4, rho=0.5, snr=4.0, task="classification",
                                    random_state=2)
    return X, y, true


def group_norms(coef):
    return np.linalg.norm(np.reshape(coef, (-1, coef.shape[-1] // SIZE, SIZE)), axis=(0, 2))


def ls_objective(X, y, coef, b, alpha, D=2, sw=None):
    sw = np.full(len(y), 1 / len(y)) if sw is None else sw / sw.sum()
    return 0.5 * sw @ (y - X @ coef - b) ** 2 + alpha * np.sqrt(SIZE) * (group_norms(coef) ** (2 / D)).sum()


def logistic_objective(X, y, coef, b, alpha):
    z = X @ coef.ravel() + b[0]
    return np.mean(np.logaddexp(0, z) - y * z) + alpha * np.sqrt(SIZE) * group_norms(coef).sum()


@pytest.mark.parametrize("fraction", [0.5, 0.1, 0.02])
def test_d2_least_squares_matches_skglm(regression, fraction):
    X, y, _ = regression
    alpha = alpha_max(X, y, groups=SIZE) * fraction
    ours = DGatingGroupLasso(groups=SIZE, D=2, alpha=alpha).fit(X, y)
    ref = GroupLasso(groups=SIZE, alpha=alpha, weights=np.full(20, np.sqrt(SIZE)), tol=1e-12,
                     max_iter=1000, fit_intercept=True).fit(X, y)
    f_ours = ls_objective(X, y, ours.coef_, ours.intercept_, alpha)
    f_ref = ls_objective(X, y, ref.coef_, ref.intercept_, alpha)
    assert (f_ours - f_ref) / f_ref <= 1e-6
    np.testing.assert_array_equal(group_norms(ours.coef_) > 0, group_norms(ref.coef_) > 0)


@pytest.mark.parametrize("fraction", [0.5, 0.1, 0.02])
def test_d2_binary_logistic_matches_skglm(classification, fraction):
    X, y, _ = classification
    alpha = alpha_max(X, y, groups=SIZE, task="classification") * fraction
    ours = DGatingLogisticGroupLasso(groups=SIZE, D=2, alpha=alpha).fit(X, y)
    assert ours.coef_.shape == (1, X.shape[1])
    grp_indices, grp_ptr = grp_converter(SIZE, X.shape[1])
    ref = GeneralizedLinearEstimator(
        LogisticGroup(grp_ptr, grp_indices),
        WeightedGroupL2(alpha, np.full(20, np.sqrt(SIZE)), grp_ptr, grp_indices),
        GroupProxNewton(fit_intercept=True, tol=1e-12, max_iter=200)).fit(X, 2.0 * y - 1)
    f_ours = logistic_objective(X, y, ours.coef_, ours.intercept_, alpha)
    f_ref = logistic_objective(X, y, np.ravel(ref.coef_), np.ravel(ref.intercept_), alpha)
    assert (f_ours - f_ref) / f_ref <= 1e-6
    np.testing.assert_array_equal(group_norms(ours.coef_) > 0, group_norms(np.ravel(ref.coef_)) > 0)


def fista_multinomial_group_lasso(X, Y, alpha, c, n_iter=20000):
    """Independent oracle: accelerated proximal gradient with block soft-thresholding.

    Groups are the columns of W (K, p) over groups of SIZE features.
    """
    n, p = X.shape
    K = Y.shape[1]
    W, b = np.zeros((K, p)), np.zeros(K)
    Wz, bz, t = W.copy(), b.copy(), 1.0
    step = 1.0 / (np.linalg.norm(np.column_stack([X, np.ones(n)]), 2) ** 2 / n)
    for _ in range(n_iter):
        Z = X @ Wz.T + bz
        P = np.exp(Z - Z.max(1, keepdims=True))
        P /= P.sum(1, keepdims=True)
        R = (P - Y) / n
        V, vb = Wz - step * (R.T @ X), bz - step * R.sum(0)
        Vg = V.reshape(K, -1, SIZE)
        norms = np.linalg.norm(Vg, axis=(0, 2))
        shrink = np.maximum(1 - step * alpha * c / np.maximum(norms, 1e-300), 0)
        W_new = (Vg * shrink[None, :, None]).reshape(K, p)
        t_new = (1 + np.sqrt(1 + 4 * t * t)) / 2
        Wz = W_new + (t - 1) / t_new * (W_new - W)
        bz = vb + (t - 1) / t_new * (vb - b)
        W, b, t = W_new, vb, t_new
    return W, b


def multinomial_objective(X, y, W, b, alpha):
    Z = X @ W.T + b
    lse = np.log(np.exp(Z - Z.max(1, keepdims=True)).sum(1)) + Z.max(1)
    return np.mean(lse - Z[np.arange(len(y)), y]) + alpha * np.sqrt(SIZE) * group_norms(W).sum()


def test_d2_multinomial_matches_proximal_gradient_oracle():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 4 * SIZE))
    logits = X[:, :SIZE] @ rng.normal(size=(SIZE, 3)) * 2
    y = np.array([rng.choice(3, p=np.exp(l) / np.exp(l).sum()) for l in logits])
    alpha = 0.02
    ours = DGatingLogisticGroupLasso(groups=SIZE, D=2, alpha=alpha, tol=1e-8).fit(X, y)
    assert ours.coef_.shape == (3, X.shape[1])
    W, b = fista_multinomial_group_lasso(X, np.eye(3)[y], alpha, np.sqrt(SIZE))
    f_ours = multinomial_objective(X, y, ours.coef_, ours.intercept_, alpha)
    f_ref = multinomial_objective(X, y, W, b, alpha)
    assert (f_ours - f_ref) / f_ref <= 1e-6
    np.testing.assert_array_equal(group_norms(ours.coef_) > 0, group_norms(W) > 1e-8)


def test_alpha_max_is_the_edge_of_the_empty_model(regression):
    X, y, _ = regression
    amax = alpha_max(X, y, groups=SIZE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        above = DGatingGroupLasso(groups=SIZE, D=2, alpha=amax * 1.001).fit(X, y)
    below = DGatingGroupLasso(groups=SIZE, D=2, alpha=amax * 0.99).fit(X, y)
    assert above.selected_features_.size == 0
    assert below.selected_features_.size > 0


@pytest.mark.parametrize("D", [3, 4])
def test_d3_d4_are_stationary_points_of_the_nonsmooth_objective(regression, D):
    # On the support, grad of the datafit + alpha c (2/D) ||w_j||^(2/D - 2) w_j = 0.
    X, y, _ = regression
    alpha = 0.2
    est = DGatingGroupLasso(groups=SIZE, D=D, alpha=alpha, tol=1e-9, random_state=0).fit(X, y)
    coef = est.coef_
    assert 0 < est.selected_features_.size < X.shape[1]
    G = -(X.T @ (y - X @ coef - est.intercept_)) / len(y)
    for j in np.flatnonzero(group_norms(coef) > 0):
        idx = slice(j * SIZE, (j + 1) * SIZE)
        wj = coef[idx]
        stationarity = G[idx] + alpha * np.sqrt(SIZE) * (2 / D) * np.linalg.norm(wj) ** (2 / D - 2) * wj
        assert np.linalg.norm(stationarity) <= 1e-6 * max(1.0, np.linalg.norm(G[idx]))
    # and the intercept is optimal
    assert abs(np.mean(y - X @ coef - est.intercept_)) < 1e-10


def f1(selected, true):
    tp = len(set(selected) & set(true))
    return 0.0 if tp == 0 else 2 * tp / (len(selected) + len(true))


def test_d3_recovers_planted_groups_better_than_the_group_lasso():
    # Each D picks its alpha on a validation split; D=3 must find the planted
    # groups with a clearly higher F1 than the group lasso (which over-selects).
    X, y, true = make_group_problem(600, 40, SIZE, 5, rho=0.5, snr=2.0, random_state=7)
    X_tr, y_tr, X_va, y_va = X[:400], y[:400], X[400:], y[400:]
    amax = alpha_max(X_tr, y_tr, groups=SIZE)
    scores = {}
    for D in (2, 3):
        best = None
        for alpha in amax * np.geomspace(1.0, 0.005, 15):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                est = DGatingGroupLasso(groups=SIZE, D=D, alpha=alpha, random_state=0).fit(X_tr, y_tr)
            score = est.score(X_va, y_va)
            if best is None or score > best[0] + 1e-4:
                best = (score, np.flatnonzero(est.group_norms_ > 0))
        scores[D] = f1(best[1], true)
    assert scores[3] >= 0.9
    assert scores[3] > scores[2] + 0.2, scores


def test_sample_weight_equals_repeated_rows(regression):
    X, y, _ = regression
    rng = np.random.default_rng(0)
    sw = rng.integers(0, 4, size=len(y))
    for D in (2, 3):
        a = DGatingGroupLasso(groups=SIZE, D=D, alpha=0.1, random_state=0, tol=1e-9).fit(X, y, sample_weight=sw)
        b = DGatingGroupLasso(groups=SIZE, D=D, alpha=0.1, random_state=0, tol=1e-9).fit(
            np.repeat(X, sw, axis=0), np.repeat(y, sw))
        np.testing.assert_array_equal(a.support_, b.support_)
        np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-6)
