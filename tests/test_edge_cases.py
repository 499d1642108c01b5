"""Numerical edge cases of the linear estimators, against independent references."""

import warnings

import numpy as np
import pytest
from joblib import parallel_config
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline

from skdgating import EmptyModelWarning, _solvers
from skdgating import DGatingGroupLasso, DGatingLogisticGroupLasso, DGatingLogisticGroupLassoCV, dgating_path

rng = np.random.default_rng(0)
X = rng.standard_normal((200, 6))
Y_REG = X @ rng.standard_normal(6) + rng.standard_normal(200)
Y_BIN = (X[:, 0] + rng.standard_normal(200) > 0).astype(int)      # noisy: not separable
Y_MULTI = np.digitize(X[:, 0] + X[:, 1] + rng.standard_normal(200), [-1, 1])


@pytest.mark.parametrize("D", [2, 3])
def test_alpha_zero_is_ordinary_least_squares(D):
    est = DGatingGroupLasso(alpha=0.0, D=D).fit(X, Y_REG)
    ref = LinearRegression().fit(X, Y_REG)
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-7)
    assert est.intercept_ == pytest.approx(ref.intercept_, abs=1e-7)
    assert est.selected_features_.size == X.shape[1]


@pytest.mark.parametrize("y", [Y_BIN, Y_MULTI])
def test_alpha_zero_is_unpenalized_logistic_regression(y):
    est = DGatingLogisticGroupLasso(alpha=0.0, D=2).fit(X, y)
    ref = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(X, y)
    # multinomial coefficients are defined up to a shift across classes: compare probabilities
    np.testing.assert_allclose(est.predict_proba(X), ref.predict_proba(X), atol=1e-6)


def test_huge_alpha_warns_and_predicts_the_intercept_only_model():
    for D in (2, 3, 4):
        with pytest.warns(EmptyModelWarning, match="removes every penalized group"):
            est = DGatingGroupLasso(alpha=1e6, D=D).fit(X, Y_REG)
        assert est.selected_features_.size == 0 and np.all(est.coef_ == 0)
        np.testing.assert_allclose(est.predict(X), Y_REG.mean())
        with pytest.warns(EmptyModelWarning, match="removes every penalized group"):
            clf = DGatingLogisticGroupLasso(alpha=1e6, D=D).fit(X, Y_MULTI)
        prior = np.bincount(Y_MULTI) / len(Y_MULTI)
        np.testing.assert_allclose(clf.predict_proba(X), np.tile(prior, (len(X), 1)), atol=1e-6)


def test_large_depth_works_and_is_stationary():
    D, alpha = 8, 0.05
    est = DGatingGroupLasso(alpha=alpha, D=D, tol=1e-9, random_state=0).fit(X, Y_REG)
    assert 0 < est.selected_features_.size <= X.shape[1]
    assert np.all(np.isfinite(est.coef_))
    G = -(X.T @ (Y_REG - X @ est.coef_ - est.intercept_)) / len(X)
    w = est.coef_[est.support_]
    stationarity = G[est.support_] + alpha * (2 / D) * np.abs(w) ** (2 / D - 2) * w
    assert np.max(np.abs(stationarity)) < 1e-6


@pytest.mark.parametrize("Est, y", [(DGatingGroupLasso, Y_REG), (DGatingLogisticGroupLasso, Y_BIN)])
def test_float32_input_gives_the_float64_model(Est, y):
    a = Est(alpha=0.05, D=3, random_state=0).fit(X.astype(np.float32), y)
    b = Est(alpha=0.05, D=3, random_state=0).fit(X.astype(np.float32).astype(np.float64), y)
    np.testing.assert_array_equal(a.support_, b.support_)
    np.testing.assert_allclose(a.coef_, b.coef_)
    assert a.coef_.dtype == np.float64


def test_badly_scaled_features_warn_and_suggest_a_scaler():
    X_bad = X * np.array([1e-3, 1, 1, 1, 1, 1e4])
    with pytest.warns(UserWarning, match="StandardScaler"):
        DGatingGroupLasso(alpha=0.01).fit(X_bad, Y_REG)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        DGatingGroupLasso(alpha=0.01).fit(X, Y_REG)  # standardized data: no warning


def _in_threads(fit, *args):
    with parallel_config(backend="threading"):
        return fit(*args)


def _scale_warnings(fit):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # count every warning, not once per location
        fit()
    return [w for w in caught if "standard deviations" in str(w.message)]


@pytest.mark.parametrize("fit", [
    lambda X, y: DGatingLogisticGroupLassoCV(alphas=4, cv=3).fit(X, y),
    # folds in threads, where the caller's context is not visible (processes would
    # be the same, but starting them costs seconds)
    lambda X, y: _in_threads(DGatingLogisticGroupLassoCV(alphas=4, cv=3, n_jobs=2).fit, X, y),
    lambda X, y: DGatingLogisticGroupLasso(alpha=0.05).fit(X, y),
    lambda X, y: dgating_path(DGatingLogisticGroupLasso(), X, y, alphas=3),
    lambda X, y: make_pipeline(DGatingLogisticGroupLasso(alpha=0.05)).fit(X, y),
], ids=["CV", "CV-n_jobs", "fit", "path", "pipeline"])
def test_scale_warning_once_per_fit_at_the_users_line(fit):
    X_bad = X * np.array([1e-3, 1, 1, 1, 1, 1e4])
    caught = _scale_warnings(lambda: fit(X_bad, Y_BIN))
    assert len(caught) == 1, [str(w.message) for w in caught]
    assert caught[0].filename == __file__  # the user's line, not the library's
    assert "make_pipeline(StandardScaler(), DGatingLogisticGroupLasso" in str(caught[0].message)
    assert not _scale_warnings(lambda: fit(X, Y_BIN))  # standardized data: none


def test_constant_and_duplicated_columns():
    Xd = np.column_stack([X[:, :3], X[:, 0], np.ones(len(X)), np.zeros(len(X))])
    est = DGatingGroupLasso(alpha=0.05, D=3, random_state=0).fit(Xd, Y_REG)
    assert np.all(np.isfinite(est.coef_))
    assert not est.support_[4] and not est.support_[5]  # constant columns carry no signal
    # D>=3 keeps at most one of two identical columns (the penalty prefers concentration)
    assert not (est.support_[0] and est.support_[3])


def test_mlp_whose_loss_explodes_while_finite_raises_naming_the_settings():
    # 2 * lr * alpha / D >> 1: the decay of the factors overshoots, the loss grows to ~1e33
    # without becoming inf; the fit must stop with an error, never return NaN coefficients.
    from skdgating import DGatingMLPClassifier

    with pytest.raises(ValueError, match="learning_rate_init.*alpha"):
        DGatingMLPClassifier(D=2, alpha=1000.0, batch_size=8, hidden_layer_sizes=(4,), max_epochs=2,
                             random_state=0).fit(X[:20, :1], Y_BIN[:20])


@pytest.mark.parametrize("n_classes", [2, 3])
def test_unpenalized_columns_that_separate_the_classes_warn(n_classes):
    # Planted: the classes are a function of the two unpenalized columns alone, so the
    # logistic loss has no minimum; with every group penalized it has one.
    y = np.digitize(X[:, 0] + X[:, 1], [0] if n_classes == 2 else [-1, 1])
    with pytest.warns(ConvergenceWarning, match="separate the classes"):
        DGatingLogisticGroupLasso(D=2, alpha=0.01, group_weights=[0, 0, 1, 1, 1, 1]).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="separate the classes.*alpha > 0"):
        DGatingLogisticGroupLasso(D=2, alpha=0.0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        DGatingLogisticGroupLasso(D=2, alpha=0.01).fit(X, y)
        DGatingLogisticGroupLasso(D=2, alpha=0.01, group_weights=[0, 0, 1, 1, 1, 1]).fit(X, Y_BIN)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_separability_linear_program(n_classes):
    # Without a witness from the fitted model the linear program decides: a planted
    # separation is found, and a point repeated with two labels is never separable.
    from skdgating.linear import _separable

    y = np.digitize(X[:, 0] - 2 * X[:, 3], [0] if n_classes == 2 else [-1, 1])
    no_witness = np.zeros((len(y), 1 if n_classes == 2 else n_classes))
    ones = np.ones(len(y))
    assert _separable(X, y, ones, True, no_witness)
    X_dup, y_dup = np.vstack([X, X[:1]]), np.append(y, (y[0] + 1) % n_classes)
    assert not _separable(X_dup, y_dup, np.ones(len(y_dup)), True, np.vstack([no_witness, no_witness[:1]]))
    # a zero-weight sample does not count
    assert _separable(X_dup, y_dup, np.append(ones, 0.0), True, np.vstack([no_witness, no_witness[:1]]))


def test_n_iter_counts_bcd_passes_for_the_d2_group_lasso(monkeypatch):
    # As documented: D=2 with a single-output datafit is solved by block coordinate
    # descent on proximal-Newton models; n_iter_ counts its passes, as returned by
    # each model solve (counted here independently of the driver's sum).
    from skdgating._solvers import bcd

    passes, minimize = [], bcd._Model.minimize

    def counting_minimize(self, *args, **kwargs):
        passes.append(minimize(self, *args, **kwargs))
        return passes[-1]

    monkeypatch.setattr(bcd._Model, "minimize", counting_minimize)
    est = DGatingLogisticGroupLasso(D=2, alpha=0.01, random_state=0).fit(X, Y_BIN)
    assert len(passes) > 1 and est.n_iter_ == sum(passes)


@pytest.mark.parametrize("D", [3, 4])
def test_n_iter_counts_lbfgs_iterations_and_newton_steps(D, monkeypatch):
    # As documented (D >= 3 and the multinomial D=2): L-BFGS iterations plus Newton
    # steps of the working-set solves, without the initial fit of the intercept.
    # Counted here from scipy's own nit and the Newton routine's step counts.
    counts = {"lbfgs": 0, "newton": 0, "in_unpenalized": 0}
    from skdgating._solvers import newton as newton_module

    minimize, newton, unpenalized = newton_module.minimize, newton_module._newton, _solvers.fit_unpenalized

    def counting_minimize(*args, **kwargs):
        res = minimize(*args, **kwargs)
        counts["lbfgs"] += 0 if counts["in_unpenalized"] else res.nit
        return res

    def counting_newton(*args, **kwargs):
        out = newton(*args, **kwargs)
        counts["newton"] += 0 if counts["in_unpenalized"] else out[2]
        return out

    def flagged_unpenalized(*args, **kwargs):
        counts["in_unpenalized"] += 1
        try:
            return unpenalized(*args, **kwargs)
        finally:
            counts["in_unpenalized"] -= 1

    monkeypatch.setattr(newton_module, "minimize", counting_minimize)
    monkeypatch.setattr(newton_module, "_newton", counting_newton)
    monkeypatch.setattr(_solvers, "fit_unpenalized", flagged_unpenalized)
    est = DGatingLogisticGroupLasso(D=D, alpha=0.01, random_state=0).fit(X, Y_BIN)
    assert counts["newton"] > 0  # the case the old documentation left out
    assert est.n_iter_ == counts["lbfgs"] + counts["newton"]
