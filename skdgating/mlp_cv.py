r"""Cross-validated D-gated MLPs: :class:`DGatingMLPClassifierCV` and :class:`DGatingMLPRegressorCV`.

``fit`` runs the MLP path core (:mod:`skdgating._mlp_path`): one warm-started
dense-to-sparse path over the alpha grid on each of the ``cv`` folds, every path
model trained until its support settles; it picks ``alpha_`` (best mean validation
loss) and ``alpha_1se_`` (one standard error rule) and refits one network on all
rows at the alpha that ``selection`` names. ``DGatingMLPClassifier(alpha="auto")``
runs the same core with 3 folds and ``selection="min"``; these classes expose the
folds, the grid and the rule.
"""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _mlp_path
from ._persistence import VersionedPickleMixin
from ._validation import check_sample_weight, check_scalar, numeric_target
from .mlp import DGatingMLPClassifier, DGatingMLPRegressor

__all__ = ["DGatingMLPClassifierCV", "DGatingMLPRegressorCV"]

# Parameters handed to the network unchanged (those of the MLP estimators but
# alpha, which is searched, and warm_start / early stopping, which the path drives).
_NETWORK_PARAMS = ("hidden_layer_sizes", "activation", "D", "l2", "groups", "group_weights", "optimizer",
                   "learning_rate_init", "learning_rate", "momentum", "batch_size", "max_epochs",
                   "threshold", "standardize", "device", "random_state", "gate_hidden", "alpha_hidden", "n_threads")
# Fitted attributes of the refitted network that the CV estimator exposes too.
_COPIED = ("coef_", "intercept_", "support_", "selected_features_", "feature_importances_",
           "group_norms_", "groups_", "n_iter_", "classes_")


class _DGatingMLPCV(VersionedPickleMixin, BaseEstimator):
    """Shared fit logic (composition: the network is a DGatingMLP* estimator)."""

    _model = None

    def __init__(self, hidden_layer_sizes=(64, 64), activation="relu", D=3, l2=1e-4, groups=None,
                 group_weights="sqrt_size", optimizer="sgd", learning_rate_init=0.05, learning_rate="cosine",
                 momentum=0.9, batch_size=32, max_epochs=200, threshold=1e-3, standardize=True,
                 device="cpu", random_state=None, gate_hidden=False, alpha_hidden=None, alphas=12, cv=5,
                 selection="min", n_jobs=None, n_threads=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.D = D
        self.l2 = l2
        self.groups = groups
        self.group_weights = group_weights
        self.optimizer = optimizer
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.threshold = threshold
        self.standardize = standardize
        self.device = device
        self.random_state = random_state
        self.gate_hidden = gate_hidden
        self.alpha_hidden = alpha_hidden
        self.alphas = alphas
        self.cv = cv
        self.selection = selection
        self.n_jobs = n_jobs
        self.n_threads = n_threads

    def _check_search_params(self):
        if self.selection not in ("min", "1se"):
            raise ValueError(f"selection must be 'min' or '1se', got {self.selection!r}.")
        if isinstance(self.alphas, Integral) and not isinstance(self.alphas, bool):
            check_scalar(self.alphas, "alphas", low=1, integer=True)
            return int(self.alphas)
        alphas = np.asarray(self.alphas, dtype=float)
        if alphas.ndim != 1 or alphas.size == 0 or not np.all(np.isfinite(alphas)) or np.any(alphas < 0):
            raise ValueError("alphas must be a positive int or a 1-D array of finite, non-negative values.")
        return alphas

    def fit(self, X, y, sample_weight=None):
        """Cross-validate the alpha path, then refit on all rows at the chosen alpha.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) (or (n_samples, n_targets) for the regressor)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        alphas = self._check_search_params()
        classifier = is_classifier(self)
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], accept_sparse=False,
                             multi_output=not classifier, y_numeric=not classifier)
        if not classifier:
            y = numeric_target(y, "DGatingMLPClassifierCV")
        else:
            check_classification_targets(y)
            if np.unique(y).size < 2:
                raise ValueError("The target has only one class; a classifier needs samples of at least 2 classes.")
        model = self._model(**{name: getattr(self, name) for name in _NETWORK_PARAMS})
        template = _mlp_path.resolved_template(model, getattr(self, "feature_names_in_", None))
        template.set_params(alpha=0.0)
        sw = None if sample_weight is None else check_sample_weight(sample_weight, len(y)) * len(y)
        search = _mlp_path.choose_alpha(template, X, y, sw, cv=self.cv, alphas=alphas,
                                        selection=self.selection,
                                        random_state=_mlp_path.split_seed(self.random_state),
                                        n_jobs=self.n_jobs)
        self.alphas_ = search["alphas"]
        self.alpha_ = search["alpha_min"]
        self.alpha_1se_ = search["alpha_1se"]
        self.cv_results_ = {
            "alphas": search["alphas"],
            "mean_test_score": search["mean_test_score"],
            "std_test_score": search["std_test_score"],
            "mean_valid_loss": search["mean_valid_loss"],
            "se_valid_loss_diff": search["se_valid_loss_diff"],
            "mean_n_selected": search["mean_n_selected"],
            "selection_frequency": search["selection_frequency"],
            "settled": search["settled"].all(axis=0),
            **{f"split{k}_test_score": s for k, s in enumerate(search["split_test_scores"])},
        }
        self.estimator_ = _mlp_path.fit_final(template, X, y, sample_weight, search)
        for name in _COPIED:
            if hasattr(self.estimator_, name):
                setattr(self, name, getattr(self.estimator_, name))
        return self

    def predict(self, X):
        """Predict with the network refitted at the chosen alpha."""
        check_is_fitted(self)
        return self.estimator_.predict(validate_data(self, X, dtype=[np.float64, np.float32], reset=False))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


_CV_DOC = """
    Parameters
    ----------
    hidden_layer_sizes, activation, D, l2, groups, group_weights, optimizer, \
learning_rate_init, learning_rate, momentum, batch_size, max_epochs, threshold, \
standardize, device, random_state, gate_hidden, alpha_hidden, n_threads
        As in :class:`~skdgating.{model}` (``max_epochs`` is the budget of the
        final network; each path model gets at most half of it).
    alphas : int or array-like, default=12
        Number of alphas of the automatic grid (geometric, tied to the number of
        SGD steps a path model gets; see the user guide), or the values.
    cv : int, cross-validation generator or iterable, default=5
        An int gives shuffled (stratified, for the classifier) K-fold splits
        seeded by ``random_state``.
    selection : {{"min", "1se"}}, default="min"
        Refit at ``alpha_`` (the best mean validation loss, as
        ``alpha="auto"`` does) or at ``alpha_1se_`` (the largest alpha whose mean
        validation loss is within one standard error, of the paired per-row
        differences, of the best: sparser).
    n_jobs : int, default=None
        Folds run in parallel with joblib.

    Attributes
    ----------
    alpha_ : float
        Alpha with the smallest mean validation loss (log-loss or squared error)
        among the models that settled in every fold.
    alpha_1se_ : float
        The one-standard-error choice.
    alphas_ : ndarray
        The grid, decreasing.
    cv_results_ : dict of ndarray
        Per alpha (decreasing): ``mean_test_score`` and ``std_test_score``
        (accuracy or R^2 over folds), ``mean_valid_loss``, ``se_valid_loss_diff``,
        ``mean_n_selected``, ``selection_frequency`` (alphas x features),
        ``settled`` and ``split<k>_test_score``.
    estimator_ : {model}
        The network refitted on all rows at the chosen alpha (or at the next
        smaller alpha of the grid when columns the folds dropped at the chosen
        one are recovered there, as with ``alpha="auto"``: its ``alpha_``
        says which); ``coef_``,
        ``intercept_``, ``support_``, ``selected_features_``,
        ``feature_importances_``, ``group_norms_``, ``groups_`` and ``n_iter_``
        are copied from it.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when X has string column names.
"""


class DGatingMLPClassifierCV(ClassifierMixin, _DGatingMLPCV):
    __doc__ = ("Cross-validated :class:`~skdgating.DGatingMLPClassifier`: alpha chosen by K-fold CV "
               "(stratified) over warm-started dense-to-sparse paths.\n"
               + _CV_DOC.format(model="DGatingMLPClassifier") + "    classes_ : ndarray\n")
    _model = DGatingMLPClassifier

    def predict_proba(self, X):
        """Class probabilities of the refitted network."""
        check_is_fitted(self)
        return self.estimator_.predict_proba(validate_data(self, X, dtype=[np.float64, np.float32], reset=False))


class DGatingMLPRegressorCV(RegressorMixin, _DGatingMLPCV):
    __doc__ = ("Cross-validated :class:`~skdgating.DGatingMLPRegressor`: alpha chosen by K-fold CV "
               "over warm-started dense-to-sparse paths.\n" + _CV_DOC.format(model="DGatingMLPRegressor"))
    _model = DGatingMLPRegressor

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
