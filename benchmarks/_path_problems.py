"""The MLP problems and path settings of ``bench_path.py`` (its MLP part).

Two planted supports (``SEED`` 0; columns standardized on the training part;
75/25 train/test split, then 25% of the training part as validation rows):

* ``make_classification(n, 100, n_informative=8, n_redundant=0, n_repeated=0,
  shuffle=False)``: informative = columns 0-7;
* ``make_friedman1(n, n_features=100, noise=1.0)``: informative = columns 0-4.

The skdgating path: one warm-started ``dgating_path`` of 20 alphas,
``alpha_max * geomspace(1/100, 1/3)`` (``alpha_max`` as
``skdgating.path.alpha_grid`` computes it; dense to sparse), hidden (64, 64),
60 epochs at the first alpha and ``warm_epochs=15`` at every later one; LassoNet
with hidden_dims=(64,), otherwise its defaults.

``emulate_warm_start_fix``: an old library issue (a warm start gave exactly-zero
columns gates 1, so dropped columns came back on the next alpha), patched in this
process only when the library still shows it (a no-op otherwise).
"""

import warnings

import numpy as np
import torch
from sklearn.datasets import make_classification, make_friedman1
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skdgating import DGatingMLPClassifier, DGatingMLPRegressor, dgating_path
from skdgating.path import alpha_grid

SEED = 0
PATH = dict(n_alphas=20, low=1 / 100, high=1 / 3, first_epochs=60, warm_epochs=15)
NETWORK = dict(hidden_layer_sizes=(64, 64))  # otherwise the package defaults


def load(task, n_samples):
    if task == "classification":
        X, y = make_classification(n_samples=n_samples, n_features=100, n_informative=8, n_redundant=0,
                                   n_repeated=0, shuffle=False, random_state=SEED)
        informative = np.arange(8)
    else:
        X, y = make_friedman1(n_samples=n_samples, n_features=100, noise=1.0, random_state=SEED)
        informative = np.arange(5)
    stratify = y if task == "classification" else None
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=SEED, stratify=stratify)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te, informative


def validation_split(task, X, y):
    """The validation rows of the paths: 25% of the training part."""
    return train_test_split(X, y, test_size=0.25, random_state=SEED + 1,
                            stratify=y if task == "classification" else None)


def score(task, y_true, y_pred):
    y_pred = np.asarray(y_pred).reshape(len(y_true), -1)[:, 0] if task == "regression" else y_pred
    return accuracy_score(y_true, y_pred) if task == "classification" else r2_score(y_true, y_pred)


def mlp_estimator(task):
    return DGatingMLPClassifier if task == "classification" else DGatingMLPRegressor


def path_alphas(task, X, y, path_settings):
    """``alpha_max`` of the data (standardized, as the MLP sees it) times a geometric grid."""
    amax = alpha_grid(mlp_estimator(task)(), X, y, n_alphas=1)[0]
    return amax * np.geomspace(path_settings["low"], path_settings["high"], path_settings["n_alphas"])


def run_path(task, X_a, y_a, X_v, y_v, D, path_settings, alphas=None):
    """The warm-started skdgating path (dense to sparse).

    ``alphas``: a prefix of the grid (its smallest values) replays the same path up
    to there (every fit is seeded by ``random_state``).
    """
    template = mlp_estimator(task)(D=D, max_epochs=path_settings["first_epochs"], random_state=SEED, **NETWORK)
    if alphas is None:
        alphas = path_alphas(task, X_a, y_a, path_settings)
    with warnings.catch_warnings():
        # Large alphas may remove every feature; the validation score judges those fits.
        warnings.simplefilter("ignore")
        return dgating_path(template, X_a, y_a, alphas=alphas, X_val=X_v, y_val=y_v,
                            warm_epochs=path_settings["warm_epochs"])


def lassonet_estimator(task, path_multiplier):
    from lassonet import LassoNetClassifier, LassoNetRegressor

    Est = LassoNetClassifier if task == "classification" else LassoNetRegressor
    return Est(hidden_dims=(64,), path_multiplier=path_multiplier, verbose=0, random_state=SEED,
               torch_seed=SEED)


def warm_start_revives_dropped_columns():
    """True if a warm start lets columns that were exactly zero grow back.

    Public API only: a fit with a large alpha drops columns; a warm-started fit
    with alpha=0 should keep them at zero.
    """
    X, y = make_classification(300, 10, n_informative=2, n_redundant=0, shuffle=False, random_state=0)
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = DGatingMLPClassifier(D=3, alpha=0.05, hidden_layer_sizes=(16,), max_epochs=40,
                                   random_state=0).fit(X, y)
        dropped = ~est.support_
        if not dropped.any():
            raise RuntimeError("the probe fit dropped no column")
        est.set_params(warm_start=True, alpha=0.0, max_epochs=5).fit(X, y)
    return bool(est.support_[dropped].any())


def emulate_warm_start_fix():
    """Patch ``MLP.load_effective_`` in this process: exactly-zero gated groups keep zero gates.

    A no-op if the library already behaves. Returns a note for the tables.
    """
    if not warm_start_revives_dropped_columns():
        return "library keeps dropped columns dropped on warm start (no patch needed)"
    from skdgating import _modules
    from skdgating.gating import gated_parametrizations

    original = _modules.MLP.load_effective_

    @torch.no_grad()
    def load_effective_(self, state_dict, gate_init="balanced"):
        original(self, state_dict, gate_init=gate_init)
        for _, _, dgate, omega in gated_parametrizations(self):
            dead = (dgate.group_norms(omega) == 0) & dgate.penalized
            dgate.gates[dead] = 0.0

    _modules.MLP.load_effective_ = load_effective_
    if warm_start_revives_dropped_columns():
        raise RuntimeError("the emulated warm-start fix did not take effect")
    return "with the proposed warm-start fix emulated (dropped columns keep zero gates)"
