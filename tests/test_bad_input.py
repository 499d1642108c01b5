"""Bad input gets a clear error that names the problem."""

import numpy as np
import pytest
import scipy.sparse as sp

from skdgating import DGatingGroupLasso, DGatingLogisticGroupLasso, DGatingMLPRegressor, DGatingMLPRegressorCV

X = np.random.default_rng(0).standard_normal((40, 4))
Y_REG = X[:, 0] + 0.1
Y_CLS = (X[:, 0] > 0).astype(int)
CASES = [(DGatingGroupLasso, Y_REG), (DGatingLogisticGroupLasso, Y_CLS)]


@pytest.mark.parametrize("Est, y", CASES)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_X_is_refused(Est, y, bad):
    Xb = X.copy()
    Xb[3, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        Est().fit(Xb, y)


@pytest.mark.parametrize("Est, y", CASES)
def test_wrong_number_of_features_at_predict(Est, y):
    est = Est(alpha=0.01).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        est.predict(X[:, :3])


@pytest.mark.parametrize("Est, y", CASES)
@pytest.mark.parametrize("params, error, match", [
    ({"D": 1}, ValueError, "D must be"),
    ({"D": 2.5}, TypeError, "D must be"),
    ({"D": "3"}, TypeError, "D must be"),
    ({"alpha": -1.0}, ValueError, "alpha must be >= 0"),
    ({"alpha": np.nan}, ValueError, "alpha must be finite"),
    ({"tol": 0.0}, ValueError, "tol"),
    ({"max_iter": 0}, ValueError, "max_iter"),
    ({"groups": [[0, 1], [1, 2, 3]]}, ValueError, "overlap"),
    ({"groups": [[0, 1]]}, ValueError, "gap"),
    ({"groups": 3}, ValueError, "divisor"),
    ({"group_weights": [1.0, 2.0]}, ValueError, "groups"),
])
def test_bad_hyperparameters(Est, y, params, error, match):
    with pytest.raises(error, match=match):
        Est(**params).fit(X, y)


def test_single_class_is_refused():
    with pytest.raises(ValueError, match="only one class"):
        DGatingLogisticGroupLasso().fit(X, np.zeros(len(X)))


def test_continuous_target_for_classifier_is_refused():
    with pytest.raises(ValueError, match="Unknown label type|continuous"):
        DGatingLogisticGroupLasso().fit(X, Y_REG)


@pytest.mark.parametrize("Est, y", CASES)
def test_sparse_input_gives_the_dense_model(Est, y):
    # sparse X is accepted (issue 14); any scipy format, the same model as dense X
    dense = Est(random_state=0).fit(X, y)
    for fmt in ("csr", "csc", "coo"):
        np.testing.assert_allclose(Est(random_state=0).fit(sp.csr_matrix(X).asformat(fmt), y).coef_,
                                   dense.coef_, atol=1e-6)


@pytest.mark.parametrize("Est, y", CASES)
def test_bad_sample_weight(Est, y):
    with pytest.raises(ValueError, match="sample_weight"):
        Est().fit(X, y, sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match="sample_weight"):
        Est().fit(X, y, sample_weight=np.ones(3))


@pytest.mark.parametrize("Est, classifier", [
    (DGatingGroupLasso, "DGatingLogisticGroupLasso"),
    (DGatingMLPRegressor, "DGatingMLPClassifier"),  # alpha="auto" used to fail in numpy's std
    (DGatingMLPRegressorCV, "DGatingMLPClassifierCV"),
])
def test_non_numeric_regression_target(Est, classifier):
    with pytest.raises(ValueError, match=f"regression target must be numeric.*{classifier}"):
        Est().fit(X, np.array(["a"] * len(X)))
