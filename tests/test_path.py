"""Paths, cross-validated estimators and plots."""

import warnings

import matplotlib
import numpy as np
import pytest
from skglm import GroupLasso
from sklearn.base import clone
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skdgating import (DGatingGroupLasso, DGatingGroupLassoCV, DGatingLogisticGroupLasso,
                       DGatingLogisticGroupLassoCV, alpha_max, dgating_path)
from skdgating.datasets import make_group_problem

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skdgating.plotting import plot_cv, plot_importances, plot_path  # noqa: E402

SIZE = 3


@pytest.fixture(scope="module")
def problem():
    return make_group_problem(300, 15, SIZE, 3, rho=0.4, snr=3.0, random_state=3)


def test_d2_path_matches_independent_solver_at_every_alpha(problem):
    X, y, _ = problem
    path = dgating_path(DGatingGroupLasso(groups=SIZE, D=2), X, y, alphas=8, eps=1e-2)
    assert np.all(np.diff(path.alphas) < 0)
    assert path.n_selected[0] == 0  # alpha_max: empty model
    for alpha, coef in zip(path.alphas, path.coefs):
        ref = GroupLasso(groups=SIZE, alpha=alpha, weights=np.full(15, np.sqrt(SIZE)), tol=1e-12,
                         max_iter=1000, fit_intercept=True).fit(X, y)
        np.testing.assert_allclose(coef, ref.coef_, atol=1e-5)
        if alpha < path.alphas[0]:  # at alpha_max itself skglm leaves ~1e-9 dust on the boundary group
            np.testing.assert_array_equal(np.linalg.norm(coef.reshape(-1, SIZE), axis=1) > 0,
                                          np.linalg.norm(ref.coef_.reshape(-1, SIZE), axis=1) > 0)


def test_d3_path_runs_dense_to_sparse_and_supports_are_nested(problem):
    X, y, _ = problem
    path = dgating_path(DGatingGroupLasso(groups=SIZE, D=3), X, y, alphas=10, eps=1e-2)
    # zero groups are absorbing: along decreasing sparsity (increasing alpha) supports only shrink
    for denser, sparser in zip(path.supports[1:], path.supports[:-1]):
        assert np.all(sparser <= denser)
    assert path.n_selected[-1] > path.n_selected[0]


def test_path_result_fields_and_validation(problem):
    X, y, _ = problem
    path = dgating_path(DGatingGroupLasso(groups=SIZE, D=3), X, y, alphas=[0.05, 0.5, 0.01],
                        validation_fraction=0.3, random_state=0)
    np.testing.assert_allclose(path.alphas, [0.5, 0.05, 0.01])
    assert path.coefs.shape == (3, 45) and path.supports.shape == (3, 45)
    assert path.group_norms.shape == (3, 15)
    assert path.validation_scores.shape == (3,) and path.train_scores.shape == (3,)
    assert all(e.warm_start is False for e in path.estimators)
    best = path.estimators[path.best_index()]
    assert best.alpha in path.alphas


def test_estimator_with_k_features(problem):
    X, y, true = problem
    path = dgating_path(DGatingGroupLasso(groups=SIZE, D=3), X, y, alphas=25, eps=1e-3)
    est = path.estimator_with(n_features=3 * SIZE)
    assert est.selected_features_.size <= 3 * SIZE
    assert est.selected_features_.size == path.n_selected[path.n_selected <= 9].max()
    with pytest.raises(ValueError, match="at most"):
        dgating_path(DGatingGroupLasso(groups=SIZE, D=2), X, y, alphas=[1e-4]).estimator_with(0)


def test_path_does_not_touch_the_template(problem):
    X, y, _ = problem
    template = DGatingGroupLasso(groups=SIZE, D=2)
    params = template.get_params()
    dgating_path(template, X, y, alphas=3)
    assert template.get_params() == params and not hasattr(template, "coef_")


def test_path_rejects_bad_arguments(problem):
    X, y, _ = problem
    with pytest.raises(TypeError, match="dgating_path takes"):
        dgating_path(object(), X, y)
    with pytest.raises(ValueError, match="alphas"):
        dgating_path(DGatingGroupLasso(), X, y, alphas=[-1.0])
    with pytest.raises(ValueError, match="alphas must be >= 1"):
        dgating_path(DGatingGroupLasso(), X, y, alphas=0)
    with pytest.raises(ValueError, match="either"):
        dgating_path(DGatingGroupLasso(), X, y, X_val=X, y_val=y, validation_fraction=0.2)


def test_cv_finds_planted_groups_and_1se_is_sparser():
    X, y, true = make_group_problem(400, 20, SIZE, 4, rho=0.4, snr=3.0, random_state=5)
    cv = DGatingGroupLassoCV(groups=SIZE, D=3, alphas=12, eps=1e-2, cv=3, random_state=0).fit(X, y)
    assert cv.alpha_1se_ >= cv.alpha_
    assert set(true) <= set(np.flatnonzero(cv.group_norms_))
    assert cv.cv_results_["mean_test_score"].shape == (12,)
    assert cv.cv_results_["mean_n_selected"].shape == (12,)
    sparse = clone(cv).set_params(selection="1se").fit(X, y)
    assert sparse.selected_features_.size <= cv.selected_features_.size
    np.testing.assert_allclose(cv.predict(X), cv.estimator_.predict(X))


def test_cv_refit_d2_equals_direct_fit(problem):
    X, y, _ = problem
    cv = DGatingGroupLassoCV(groups=SIZE, D=2, alphas=6, cv=3).fit(X, y)
    direct = DGatingGroupLasso(groups=SIZE, D=2, alpha=cv.alpha_).fit(X, y)
    np.testing.assert_allclose(cv.coef_, direct.coef_, atol=1e-8)


def test_logistic_cv_with_string_labels():
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    labels = np.array(["a", "b", "c"])[y]
    cv = DGatingLogisticGroupLassoCV(D=3, alphas=6, cv=3, random_state=0).fit(X, labels)
    np.testing.assert_array_equal(cv.classes_, ["a", "b", "c"])
    assert cv.score(X, labels) > 0.9
    np.testing.assert_allclose(cv.predict_proba(X).sum(1), 1.0)


# Weighted rows and repeated rows are split into different folds, so the alpha chosen
# by cross-validation (and hence the model) can differ: scikit-learn's own CV
# estimators are exempt from this check for the same reason.
_CV_XFAIL = {"check_sample_weight_equivalence_on_dense_data":
             "CV folds of repeated rows differ from those of weighted rows",
             "check_sample_weight_equivalence_on_sparse_data":
             "CV folds of repeated rows differ from those of weighted rows"}


@parametrize_with_checks([DGatingGroupLassoCV(alphas=3, cv=2), DGatingLogisticGroupLassoCV(alphas=3, cv=2)],
                         expected_failed_checks=lambda est: _CV_XFAIL)
def test_cv_estimators_are_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)


def test_plots_have_the_right_artists(problem):
    X, y, _ = problem
    path = dgating_path(DGatingGroupLasso(groups=SIZE, D=3), X, y, alphas=6)
    ax = path.plot(chosen_alpha=path.alphas[2])
    assert len(ax.lines) == 15 + 1  # one line per group, plus the chosen alpha
    assert ax.get_xlabel() == "alpha" and "norm" in ax.get_ylabel()
    plt.close("all")

    cv = DGatingGroupLassoCV(groups=SIZE, D=2, alphas=5, cv=2).fit(X, y)
    ax = plot_cv(cv)
    assert ax.get_xlabel() == "alpha" and ax.get_ylabel() == "mean CV score"
    assert ax.right_ax.get_ylabel() == "mean number of selected features"
    assert len(ax.right_ax.lines) == 1 and len(ax.lines) >= 2
    plt.close("all")

    est = DGatingGroupLasso(D=2, alpha=0.05).fit(X[:, :6], y)
    ax = plot_importances(est, feature_names=[f"f{i}" for i in range(6)])
    assert len(ax.patches) == est.selected_features_.size
    assert {t.get_text() for t in ax.get_yticklabels()} == {f"f{i}" for i in est.selected_features_}
    assert ax.get_xlabel() and ax.get_ylabel()
    plt.close("all")


def test_mlp_path_runs_dense_to_sparse_through_the_informative_features():
    from sklearn.datasets import make_classification

    from skdgating.mlp import DGatingMLPClassifier

    X, y = make_classification(600, 20, n_informative=4, n_redundant=0, n_repeated=0, shuffle=False,
                               class_sep=1.5, random_state=0)
    X = StandardScaler().fit_transform(X)
    template = DGatingMLPClassifier(D=3, hidden_layer_sizes=(16,), max_epochs=30, random_state=0)
    path = dgating_path(template, X, y, alphas=6, eps=1e-2, validation_fraction=0.25, random_state=0,
                        warm_epochs=10)
    assert np.all(np.diff(path.alphas) < 0)
    # a column at zero is a critical point of its factorization: supports only shrink with alpha
    for denser, sparser in zip(path.supports[1:], path.supports[:-1]):
        assert np.all(sparser <= denser)
    assert path.n_selected[0] < path.n_selected[-1]
    # somewhere along the path the model keeps only (a subset of) the informative columns
    informative = set(range(4))
    assert any(0 < n and set(np.flatnonzero(s)) <= informative for n, s in zip(path.n_selected, path.supports))
    assert template.get_params()["warm_start"] is False
    assert all(e.max_epochs == 30 and e.warm_start is False for e in path.estimators)
    assert path.validation_scores.max() > 0.85


def test_dense_to_sparse_paths_stop_fitting_once_every_group_is_gone(problem, monkeypatch):
    # D>=3: a zero group is absorbing, so beyond the first empty model every larger
    # alpha has the same model (intercept only); the path reuses it instead of fitting
    X, y, _ = problem
    from skdgating import _solvers

    solves = []  # the alphas the path core actually solves at
    original = _solvers._solve_one
    monkeypatch.setattr(_solvers, "_solve_one", lambda *a, **k: (solves.append(a[2]), original(*a, **k))[1])
    alphas = np.geomspace(0.01, 100.0, 12)
    path = dgating_path(DGatingGroupLasso(groups=SIZE, D=3), X, y, alphas=alphas)
    empty = np.flatnonzero(path.n_selected == 0)  # path.alphas run from large to small
    assert len(empty) >= 3
    assert len(solves) == len(alphas) - len(empty) + 1  # the first empty model is fitted
    for i in empty:
        assert path.estimators[i].alpha == path.alphas[i]
        # oracle: a direct fit at that alpha is the intercept-only model too
        direct = DGatingGroupLasso(groups=SIZE, D=3, alpha=path.alphas[i])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            direct.fit(X, y)
        np.testing.assert_array_equal(path.estimators[i].coef_, direct.coef_)
        np.testing.assert_allclose(path.estimators[i].intercept_, direct.intercept_, rtol=1e-12)


def test_mlp_path_stops_training_once_every_feature_is_gone(monkeypatch):
    from skdgating.mlp import DGatingMLPRegressor

    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5))
    y = X[:, 0] + 0.1 * rng.standard_normal(200)
    fits = []
    original = DGatingMLPRegressor.fit
    monkeypatch.setattr(DGatingMLPRegressor, "fit",
                        lambda self, *a, **k: (fits.append(self.alpha), original(self, *a, **k))[1])
    template = DGatingMLPRegressor(D=3, hidden_layer_sizes=(8,), max_epochs=20, random_state=0)
    alphas = [1e-3, 3.0, 10.0, 30.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = dgating_path(template, X, y, alphas=alphas, warm_epochs=10)
    assert path.n_selected[0] == path.n_selected[1] == 0  # alphas 30 and 10
    first_empty = max(i for i in range(len(path.alphas)) if path.n_selected[i] == 0)
    # each model trains in rounds (several fits at its alpha) until it settles; the
    # alphas beyond the first empty model are never trained
    assert sorted(set(fits)) == sorted(alphas)[:len(alphas) - first_empty]
    assert [e.alpha for e in path.estimators] == sorted(alphas, reverse=True)
