"""Pickle and joblib round trips, checked in a fresh Python process."""

import pickle
import subprocess
import sys
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler

from skdgating import (DGatingGroupLasso, DGatingGroupLassoCV, DGatingLogisticGroupLasso,
                       DGatingLogisticGroupLassoCV, DGatingMLPClassifier, DGatingMLPRegressor,
                       InconsistentVersionWarning, dgating_path)

X, y = load_wine(return_X_y=True)
X = StandardScaler().fit_transform(X)

FITTED = {
    "regressor": lambda: DGatingGroupLasso(D=3, alpha=0.05, random_state=0).fit(X, y.astype(float)),
    "classifier": lambda: DGatingLogisticGroupLasso(D=2, alpha=0.02).fit(X, np.array(["a", "b", "c"])[y]),
    "regressor_cv": lambda: DGatingGroupLassoCV(D=2, alphas=4, cv=2).fit(X, y.astype(float)),
    "classifier_cv": lambda: DGatingLogisticGroupLassoCV(D=3, alphas=4, cv=2, random_state=0).fit(X, y),
    "mlp_classifier": lambda: DGatingMLPClassifier(hidden_layer_sizes=(8,), max_epochs=5, alpha=0.01, random_state=0).fit(
        X, np.array(["a", "b", "c"])[y]),
    "mlp_regressor": lambda: DGatingMLPRegressor(hidden_layer_sizes=(8,), max_epochs=5, alpha=0.01, random_state=0).fit(
        X, np.column_stack([y, -y]).astype(float)),
}


@pytest.mark.parametrize("name", FITTED)
def test_round_trip_in_a_fresh_process(name, tmp_path):
    est = FITTED[name]()
    expected = est.predict(X)
    joblib.dump(est, tmp_path / "model.joblib")
    with open(tmp_path / "model.pkl", "wb") as f:
        pickle.dump(est, f)
    np.save(tmp_path / "X.npy", X)
    code = (
        "import pickle, sys, joblib, numpy as np\n"
        f"d = {str(tmp_path)!r}\n"
        "X = np.load(d + '/X.npy')\n"
        "a = joblib.load(d + '/model.joblib').predict(X)\n"
        "b = pickle.load(open(d + '/model.pkl', 'rb')).predict(X)\n"
        "np.save(d + '/a.npy', a); np.save(d + '/b.npy', b)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy", allow_pickle=True), expected)
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy", allow_pickle=True), expected)


def test_path_result_round_trip_in_a_fresh_process(tmp_path):
    path = dgating_path(DGatingGroupLasso(D=2), X, y.astype(float), alphas=4)
    joblib.dump(path, tmp_path / "path.joblib")
    np.save(tmp_path / "X.npy", X)
    code = (
        "import joblib, numpy as np\n"
        f"d = {str(tmp_path)!r}\n"
        "path = joblib.load(d + '/path.joblib')\n"
        "X = np.load(d + '/X.npy')\n"
        "np.save(d + '/coefs.npy', path.coefs)\n"
        "np.save(d + '/pred.npy', np.array([e.predict(X) for e in path.estimators]))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    np.testing.assert_array_equal(np.load(tmp_path / "coefs.npy"), path.coefs)
    np.testing.assert_array_equal(np.load(tmp_path / "pred.npy"), np.array([e.predict(X) for e in path.estimators]))


def test_loading_under_another_version_warns():
    est = FITTED["regressor"]()
    state = est.__getstate__()
    state["_skdgating_version"] = "0.0.0"
    fresh = DGatingGroupLasso.__new__(DGatingGroupLasso)
    with pytest.warns(InconsistentVersionWarning, match="0.0.0"):
        fresh.__setstate__(state)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        pickle.loads(pickle.dumps(est))  # same version: silent


def test_mlp_pickle_carries_its_compact_network():
    # Same-version pickles only: the compact network predict runs (net_.module_)
    # is in the state, once, and there is no code path rebuilding it for pickles
    # that lack it.
    est = FITTED["mlp_classifier"]()
    state = est.__getstate__()
    assert state["net_"].module_ is est._compact()
    assert not any(isinstance(v, torch.nn.Module) for v in state.values())
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    del loaded.net_
    with pytest.raises(AttributeError, match="net_"):
        loaded.predict(X)
