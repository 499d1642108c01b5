"""scikit-learn citizenship of the linear estimators."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.feature_selection import SelectFromModel
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skdgating import (DGatingGroupLasso, DGatingGroupLassoCV, DGatingLogisticGroupLasso,
                       DGatingLogisticGroupLassoCV, alpha_max)
from skdgating.datasets import make_group_problem

ESTIMATORS = [DGatingGroupLasso(), DGatingGroupLasso(D=2), DGatingLogisticGroupLasso(),
              DGatingLogisticGroupLasso(D=2)]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def grouped_regression():
    X, y, true = make_group_problem(200, 10, 2, 3, rho=0.3, snr=4.0, random_state=0)
    return X, y, true


def test_clone_keeps_params_and_drops_fit(grouped_regression):
    X, y, _ = grouped_regression
    est = DGatingGroupLasso(groups=2, D=4, alpha=0.05).fit(X, y)
    twin = clone(est)
    assert twin.get_params() == est.get_params()
    assert not hasattr(twin, "coef_")


def test_pipeline_and_gridsearch_over_alpha_and_D(grouped_regression):
    X, y, _ = grouped_regression
    pipe = make_pipeline(StandardScaler(), DGatingGroupLasso(groups=2, random_state=0))
    search = GridSearchCV(pipe, {"dgatinggrouplasso__alpha": [0.01, 0.1],
                                 "dgatinggrouplasso__D": [2, 3]}, cv=3, n_jobs=2)
    search.fit(X, y)
    assert search.best_score_ > 0.5
    # The search's parameters reached the estimator inside the pipeline: its refit is
    # the direct fit with those parameters on the scaled data.
    best = {k.split("__")[1]: v for k, v in search.best_params_.items()}
    direct = DGatingGroupLasso(groups=2, random_state=0, **best).fit(StandardScaler().fit_transform(X), y)
    fitted = search.best_estimator_[-1]
    assert (fitted.D, fitted.alpha) == (best["D"], best["alpha"])
    np.testing.assert_allclose(fitted.coef_, direct.coef_, rtol=1e-10, atol=1e-12)


def test_select_from_model_default_threshold_selects_support(grouped_regression):
    X, y, _ = grouped_regression
    est = DGatingGroupLasso(groups=2, D=3, alpha=0.1, random_state=0).fit(X, y)
    assert 0 < est.selected_features_.size < X.shape[1]
    selector = SelectFromModel(est, prefit=True)
    np.testing.assert_array_equal(selector.get_support(), est.support_)
    np.testing.assert_array_equal(np.flatnonzero(est.support_), est.selected_features_)


# The SelectFromModel arguments the README and the recipes document.
SUPPORT_SELECTOR = {"importance_getter": "support_", "threshold": 0.5}


@pytest.mark.parametrize("make_estimator", [
    lambda: DGatingGroupLasso(groups=2, D=3, alpha=0.1, random_state=0),
    lambda: DGatingGroupLasso(groups=2, D=2, alpha=0.1),
    lambda: DGatingGroupLassoCV(groups=2, D=3, alphas=5, cv=3, random_state=0),
], ids=["D3", "D2", "CV"])
def test_select_from_model_with_documented_threshold_keeps_support(grouped_regression, make_estimator):
    X, y, _ = grouped_regression
    selector = SelectFromModel(make_estimator(), **SUPPORT_SELECTOR).fit(X, y)
    support = selector.estimator_.support_
    assert 0 < support.sum() < X.shape[1]  # a real selection to reproduce
    np.testing.assert_array_equal(selector.get_support(), support)
    np.testing.assert_array_equal(selector.transform(X), X[:, support])


@pytest.mark.parametrize("cv", [False, True])
def test_select_from_model_documented_threshold_multiclass(cv):
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    est = (DGatingLogisticGroupLassoCV(D=3, alphas=5, cv=3, random_state=0) if cv
           else DGatingLogisticGroupLasso(D=3, alpha=0.05, random_state=0))
    selector = SelectFromModel(est, **SUPPORT_SELECTOR).fit(X, y)
    support = selector.estimator_.support_
    assert 0 < support.sum() < X.shape[1]
    np.testing.assert_array_equal(selector.get_support(), support)


def test_default_threshold_misses_an_entering_group_the_documented_one_keeps():
    # Oracle: just below alpha_max of the D=2 group lasso exactly one standardized
    # column enters, with coefficient alpha_max - alpha (its KKT condition), here
    # about 2e-6, below SelectFromModel's default of 1e-5 for "Lasso" class names.
    rng = np.random.default_rng(0)
    X = StandardScaler().fit_transform(rng.standard_normal((200, 8)))
    y = 2 * X[:, 0] + X[:, 1] + 0.5 * rng.standard_normal(200)
    amax = alpha_max(X, y)
    est = DGatingGroupLasso(D=2, alpha=amax * (1 - 1e-6)).fit(X, y)
    np.testing.assert_array_equal(est.selected_features_, [0])
    np.testing.assert_allclose(abs(est.coef_[0]), amax * 1e-6, rtol=1e-3)
    assert not SelectFromModel(est, prefit=True).get_support().any()
    np.testing.assert_array_equal(
        SelectFromModel(est, prefit=True, **SUPPORT_SELECTOR).get_support(), est.support_)


def test_pandas_feature_names_flow_through_select_from_model():
    data = load_breast_cancer(as_frame=True)
    X = pd.DataFrame(StandardScaler().fit_transform(data.data), columns=data.data.columns)
    est = DGatingLogisticGroupLasso(D=3, alpha=0.05, random_state=0)
    selector = SelectFromModel(est).fit(X, data.target)
    np.testing.assert_array_equal(selector.estimator_.feature_names_in_, X.columns)
    names = selector.get_feature_names_out()
    np.testing.assert_array_equal(names, X.columns[selector.estimator_.support_])
    assert 0 < len(names) < X.shape[1]


def test_dict_groups_by_column_name_on_a_dataframe():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.standard_normal((120, 4)), columns=["a1", "a2", "b", "noise"])
    y = X["a1"] - X["a2"] + 0.5 * X["b"] + 0.1 * rng.standard_normal(120)
    est = DGatingGroupLasso(groups={"a": ["a1", "a2"], "b": ["b"], "noise": ["noise"]}, D=3,
                            alpha=0.05, random_state=0).fit(X, y)
    assert [g.tolist() for g in est.groups_] == [[0, 1], [2], [3]]
    assert est.selected_features_.tolist() == [0, 1, 2]


def test_string_labels_binary_and_multiclass():
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    names = np.array(["barolo", "grignolino", "barbera"])[y]
    est = DGatingLogisticGroupLasso(D=3, alpha=0.02, random_state=0).fit(X, names)
    assert est.coef_.shape == (3, X.shape[1])
    assert set(est.predict(X)) <= set(names)
    assert est.score(X, names) > 0.9
    proba = est.predict_proba(X)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(1), 1.0)
    binary = names != "barolo"
    est2 = DGatingLogisticGroupLasso(D=2, alpha=0.01).fit(X, np.where(binary, "yes", "no"))
    assert est2.coef_.shape == (1, X.shape[1])
    assert est2.predict_proba(X).shape == (len(X), 2)
    np.testing.assert_array_equal(est2.classes_, ["no", "yes"])


def test_cv_verbose_reports_each_fold_and_the_refit_on_stderr(grouped_regression, capsys):
    X, y, _ = grouped_regression
    DGatingGroupLassoCV(groups=2, D=2, alphas=4, cv=3).fit(X, y)
    assert capsys.readouterr() == ("", "")  # silent by default
    cv = DGatingGroupLassoCV(groups=2, D=2, alphas=4, cv=3, verbose=1).fit(X, y)
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert [line.split(" done")[0] for line in lines[:3]] == [
        f"[DGatingGroupLassoCV] fold {k}/3" for k in (1, 2, 3)]
    assert lines[3].startswith(f"[DGatingGroupLassoCV] refitted on all data at alpha={cv.alpha_:.4g}: "
                               f"{cv.selected_features_.size} features selected")
    assert len(lines) == 4
