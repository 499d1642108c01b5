r"""Regularization paths and cross-validated D-gated linear models.

:func:`dgating_path` fits one estimator along a grid of ``alpha`` with warm starts
and returns a :class:`DGatingPath`; :class:`DGatingGroupLassoCV` and
:class:`DGatingLogisticGroupLassoCV` choose ``alpha`` by K-fold cross-validation
over such paths and refit at the chosen value.

Direction of a path
-------------------
``D=2`` (convex group lasso) runs from :func:`~skdgating.alpha_max`, where every
group is zero, down to smaller alphas, each fit warm-started from the previous,
sparser one (as glmnet and scikit-learn's ``lasso_path`` do). For ``D>=3`` a zero
group is a local minimum at every alpha (the penalty :math:`\|w_j\|^{2/D}` has
infinite slope at 0), so a group that died can never come back: a path from sparse
to dense would stay empty. These paths therefore run from *dense to sparse*, from
the smallest alpha up, and groups leave one by one. Once a fit has dropped every
penalized group, the larger alphas would return the same model, so the path stops
fitting and reuses it (with its ``alpha`` set).

The MLP estimators' paths run dense to sparse for every D: in a network trained by
SGD a column at exactly zero is a critical point of its factorization (the
gradients of its vector and of its gates vanish), so it never returns, whatever D.
They are trained by the MLP path core, :mod:`skdgating._mlp_path`, which
``DGatingMLPClassifier(alpha="auto")`` and :class:`~skdgating.DGatingMLPClassifierCV`
use too: each alpha continues training the previous network in rounds until its
support settles (at most ``warm_epochs`` epochs). Once every input is gone the
network's output is a constant, and the remaining alphas reuse that network
instead of training it further.
"""

import copy
import sys
import time
import warnings
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv, train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._persistence import VersionedPickleMixin
from ._validation import (check_D, check_scalar, numeric_target, warn_if_badly_scaled, warns_about_scale_once,
                          without_scale_warning)
from .exceptions import EmptyModelWarning
from .groups import make_groups
from .linear import DGatingGroupLasso, DGatingLogisticGroupLasso, _fit_path, alpha_max

__all__ = ["DGatingPath", "dgating_path", "DGatingGroupLassoCV", "DGatingLogisticGroupLassoCV"]


@dataclass
class DGatingPath:
    """Result of :func:`dgating_path`, ordered by decreasing ``alpha``.

    Attributes
    ----------
    alphas : ndarray of shape (n_alphas,)
        Decreasing penalty strengths.
    n_selected : ndarray of int, shape (n_alphas,)
        Number of selected features at each alpha.
    supports : ndarray of bool, shape (n_alphas, n_features)
    coefs : ndarray of shape (n_alphas, ...)
        ``coef_`` at each alpha.
    feature_importances : ndarray of shape (n_alphas, n_features)
    group_norms : ndarray of shape (n_alphas, n_groups)
    train_scores : ndarray of shape (n_alphas,)
        Score of each model on its training data (R^2 or accuracy, or ``scoring``).
    validation_scores : ndarray of shape (n_alphas,) or None
        Score on the validation data, when given or split off.
    estimators : list of fitted estimators
        The model at each alpha (``warm_start`` restored to the caller's value).
    D : int
    feature_names : ndarray of str or None
    """

    alphas: np.ndarray
    n_selected: np.ndarray
    supports: np.ndarray
    coefs: np.ndarray
    feature_importances: np.ndarray
    group_norms: np.ndarray
    train_scores: np.ndarray
    validation_scores: np.ndarray = None
    estimators: list = field(default_factory=list, repr=False)
    D: int = 2
    feature_names: np.ndarray = None

    def __repr__(self):
        # A summary: the arrays (and every fitted model) would print tens of KB.
        model = f"{type(self.estimators[0]).__name__}, " if self.estimators else ""
        scores = ("no validation scores" if self.validation_scores is None else
                  f"validation scores {np.nanmin(self.validation_scores):.3g} to "
                  f"{np.nanmax(self.validation_scores):.3g}")
        return (f"DGatingPath({model}D={self.D}, {len(self.alphas)} alphas from "
                f"{self.alphas.max():.3g} to {self.alphas.min():.3g}, n_selected "
                f"{self.n_selected.min()} to {self.n_selected.max()}, {scores})")

    def best_index(self, selection="min"):
        """Index of the best alpha by validation score.

        ``selection="min"`` takes the best score; ``"sparsest"`` the sparsest model
        whose validation score is within 0.01 of the best.
        """
        if self.validation_scores is None:
            raise ValueError("This path has no validation scores; pass X_val/y_val or validation_fraction.")
        best = int(np.nanargmax(self.validation_scores))
        if selection == "min":
            return best
        if selection == "sparsest":
            ok = np.flatnonzero(self.validation_scores >= self.validation_scores[best] - 0.01)
            return int(ok[np.argmin(self.n_selected[ok])])
        raise ValueError(f"selection must be 'min' or 'sparsest', got {selection!r}.")

    def estimator_with(self, n_features):
        """The fitted model with at most ``n_features`` selected features.

        Among the models on the path with the largest count not above
        ``n_features`` (exactly ``n_features`` when the path passes through it), the
        one with the best validation score, or else the smallest alpha, is returned.
        """
        n_features = check_scalar(n_features, "n_features", low=0, integer=True)
        ok = np.flatnonzero(self.n_selected <= n_features)
        if ok.size == 0:
            raise ValueError(
                f"No model on this path has at most {n_features} features (the sparsest has "
                f"{self.n_selected.min()}); extend the grid to larger alphas.")
        count = self.n_selected[ok].max()
        candidates = ok[self.n_selected[ok] == count]
        if self.validation_scores is not None:
            pick = candidates[np.nanargmax(self.validation_scores[candidates])]
        else:
            pick = candidates[np.argmin(self.alphas[candidates])]
        return self.estimators[pick]

    def plot(self, ax=None, chosen_alpha=None, n_labels=10):
        """Group norms against alpha; see :func:`skdgating.plotting.plot_path`."""
        from .plotting import plot_path

        return plot_path(self, ax=ax, chosen_alpha=chosen_alpha, n_labels=n_labels)


def _task(estimator):
    return "classification" if is_classifier(estimator) else "regression"


def alpha_grid(estimator, X, y, n_alphas=20, eps=1e-3, sample_weight=None):
    """Geometric grid of ``n_alphas`` values from the data's ``alpha_max`` down to ``eps * alpha_max``.

    ``alpha_max`` is that of the group lasso (D=2) with the estimator's groups; for
    ``D>=3`` it is the natural scale of alpha, not an exact bound. For the MLP
    estimators it is computed on standardized inputs (and targets), which is what
    those networks are trained on.
    """
    params = estimator.get_params()
    if _is_mlp(estimator):
        X = np.asarray(X, dtype=np.float64)
        X = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        if not is_classifier(estimator):
            y = numeric_target(y, "DGatingMLPClassifier")
            y = (y - y.mean(axis=0)) / np.where(y.std(axis=0) > 0, y.std(axis=0), 1.0)
            if y.ndim == 2:
                y = y[:, 0]
    amax = alpha_max(X, y, groups=params["groups"], group_weights=params["group_weights"],
                     task=_task(estimator), sample_weight=sample_weight,
                     fit_intercept=params.get("fit_intercept", True))
    if amax <= 0:
        raise ValueError("alpha_max is 0 (no penalized group has any signal): pass alphas explicitly.")
    return amax * np.geomspace(1.0, eps, n_alphas)


def _check_alphas(alphas, estimator, X, y, eps, sample_weight):
    if isinstance(alphas, Integral) and not isinstance(alphas, bool):
        check_scalar(alphas, "alphas", low=1, integer=True)
        return alpha_grid(estimator, X, y, int(alphas), eps, sample_weight)
    alphas = np.asarray(alphas, dtype=float)
    if alphas.ndim != 1 or alphas.size == 0 or not np.all(np.isfinite(alphas)) or np.any(alphas < 0):
        raise ValueError("alphas must be a positive int or a 1-D array of finite, non-negative values.")
    return np.sort(alphas)[::-1]


@warns_about_scale_once
def dgating_path(estimator, X, y, *, alphas=20, eps=1e-3, X_val=None, y_val=None,
                 validation_fraction=None, sample_weight=None, scoring=None, random_state=None,
                 warm_epochs=None):
    """Fit ``estimator`` along a grid of ``alpha`` values with warm starts.

    Parameters
    ----------
    estimator : skdgating estimator
        ``DGatingGroupLasso``, ``DGatingLogisticGroupLasso``, ``DGatingMLPClassifier``
        or ``DGatingMLPRegressor``; a template that is cloned, not modified. The
        direction of the path (module docstring): the linear ``D=2`` model runs from
        large to small alpha; ``D>=3`` and every MLP run from small to large (dense
        to sparse), because zero groups are absorbing there.
    X, y : array-like
        Training data; for the linear estimators X may be sparse (CSR, CSC), which
        is never densified.
    alphas : int or array-like, default=20
        Number of values of a geometric grid from :func:`~skdgating.alpha_max` down
        to ``eps * alpha_max``, or the values themselves. For the MLP estimators
        the scale is the ``alpha_max`` of the linear model on standardized inputs
        (and targets), a data-derived start rather than an exact bound.
    eps : float, default=1e-3
        Length of the automatic grid.
    X_val, y_val : array-like, optional
        Validation data for ``validation_scores``.
    validation_fraction : float, optional
        Split this fraction of (X, y) off as validation data instead (stratified for
        classifiers); the path is fitted on the rest.
    sample_weight : array-like, optional
    scoring : str or callable, optional
        A scikit-learn scorer; default: the estimator's ``score`` (R^2 or accuracy).
    random_state : int or None
        Seeds the validation split.
    warm_epochs : int, optional
        MLP only: the most epochs of each model after the first (which trains for
        the estimator's ``max_epochs``). Each trains in rounds of a fifth of it
        until a round removes no feature and collapses no kept one; a model that
        is still changing at the end raises a ``ConvergenceWarning`` naming this
        budget. Default: ``max_epochs``.

    Returns
    -------
    DGatingPath
    """
    mlp = _is_mlp(estimator)
    if not (mlp or isinstance(estimator, (DGatingGroupLasso, DGatingLogisticGroupLasso))):
        raise TypeError(f"dgating_path takes a skdgating estimator, got {type(estimator).__name__}.")
    D = check_D(estimator.D)
    if validation_fraction is not None:
        if X_val is not None:
            raise ValueError("Pass either X_val/y_val or validation_fraction, not both.")
        check_scalar(validation_fraction, "validation_fraction", low=0.0, low_inclusive=False, high=0.9)
        arrays = [X, y] + ([sample_weight] if sample_weight is not None else [])
        split = train_test_split(*arrays, test_size=validation_fraction, random_state=random_state,
                                 stratify=y if is_classifier(estimator) else None)
        X, X_val, y, y_val = split[:4]
        sample_weight = split[4] if sample_weight is not None else None
    if (X_val is None) != (y_val is None):
        raise ValueError("Pass both X_val and y_val.")
    grid = _check_alphas(alphas, estimator, X, y, eps, sample_weight)
    # decreasing alpha for the convex D=2 linear model, dense to sparse otherwise
    order = np.arange(len(grid)) if (D == 2 and not mlp) else np.arange(len(grid))[::-1]
    scorer = check_scoring(estimator, scoring=scoring)
    if mlp:
        fitted = _mlp_path_estimators(estimator, X, y, grid, sample_weight, warm_epochs)
        return _path_result(grid, fitted, scorer, X, y, X_val, y_val, D)
    # The linear path core validates and prepares the data once: every alpha shares
    # the datafit (and the Gram columns it caches) and starts from the previous solution.
    fitted = [None] * len(grid)
    with warnings.catch_warnings():
        # empty models at the sparse end of a path are expected there
        warnings.simplefilter("ignore", EmptyModelWarning)
        for i, est in zip(order, _fit_path(clone(estimator), X, y, grid[order], sample_weight)):
            fitted[i] = est
    return _path_result(grid, fitted, scorer, X, y, X_val, y_val, D)


def _all_dropped(previous, penalized):
    """On a dense-to-sparse path: did the previous alpha's model drop every penalized group?

    Zero groups are absorbing there, so every larger alpha returns the same model:
    for a linear model the intercept and unpenalized groups only, which does not
    depend on alpha; for an MLP a network that reads no input, whose output is a
    constant. The path then stops fitting and reuses that model.
    """
    return previous is not None and not np.any(np.asarray(previous.group_norms_)[penalized] > 0)


def _reuse(previous, alpha):
    est = copy.deepcopy(previous)
    est.alpha = float(alpha)
    return est


def _is_mlp(estimator):
    # Without skdgating.mlp loaded no MLP exists, and the linear paths stay torch-free.
    mlp = sys.modules.get(f"{__package__}.mlp")
    return mlp is not None and isinstance(estimator, (mlp.DGatingMLPClassifier, mlp.DGatingMLPRegressor))


def _mlp_path_estimators(estimator, X, y, grid, sample_weight, warm_epochs):
    """The MLP path core on all rows, dense to sparse; estimators by decreasing alpha."""
    from ._mlp_path import Budget, train_paths, warn_unsettled

    if warm_epochs is None:
        cap, name = estimator.max_epochs, "max_epochs"
    else:
        cap = check_scalar(warm_epochs, "warm_epochs", low=1, integer=True)
        name = "warm_epochs"
    budget = Budget(first_epochs=estimator.max_epochs, round_epochs=max(1, cap // 5), max_epochs=cap,
                    name=name)
    # One split: every row trains (None: X and y are passed on as given, a
    # DataFrame keeping its column names), no validation rows.
    (path,) = train_paths(estimator, X, y, sample_weight, [(None, None)], grid[::-1], budget,
                          keep_estimators=True)
    warn_unsettled(path, budget)
    return [model.estimator for model in path[::-1]]


def _path_result(grid, fitted, scorer, X, y, X_val, y_val, D):
    return DGatingPath(
        alphas=grid,
        n_selected=np.array([e.selected_features_.size for e in fitted]),
        supports=np.array([e.support_ for e in fitted]),
        coefs=np.array([e.coef_ for e in fitted]),
        feature_importances=np.array([e.feature_importances_ for e in fitted]),
        group_norms=np.array([e.group_norms_ for e in fitted]),
        train_scores=np.array([scorer(e, X, y) for e in fitted]),
        validation_scores=None if X_val is None else np.array([scorer(e, X_val, y_val) for e in fitted]),
        estimators=fitted,
        D=D,
        feature_names=getattr(fitted[0], "feature_names_in_", None),
    )


def _validate_X(cv_estimator, X):
    return validate_data(cv_estimator, X, dtype=np.float64, reset=False, accept_sparse=["csr", "csc"])


@without_scale_warning  # the CV fit checked the whole data once
def _fold_scores(template, X, y, sample_weight, train, test, alphas, scoring):
    sw = None if sample_weight is None else np.asarray(sample_weight)[train]
    path = dgating_path(template, X[train], y[train], alphas=alphas, X_val=X[test], y_val=y[test],
                        sample_weight=sw, scoring=scoring)
    return path.validation_scores, path.n_selected


class _DGatingLinearCV(VersionedPickleMixin, BaseEstimator):
    """Shared logic of the cross-validated estimators (composition, no private bases)."""

    _model = None  # the estimator class being cross-validated

    def __init__(self, groups=None, D=3, alphas=20, eps=1e-3, group_weights="sqrt_size",
                 fit_intercept=True, cv=5, scoring=None, selection="min", n_jobs=None, tol=1e-6,
                 max_iter=100, random_state=None, verbose=0, n_threads=None):
        self.groups = groups
        self.D = D
        self.alphas = alphas
        self.eps = eps
        self.group_weights = group_weights
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.scoring = scoring
        self.selection = selection
        self.n_jobs = n_jobs
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.verbose = verbose
        self.n_threads = n_threads

    def _template(self):
        return self._model(groups=self.groups, D=self.D, group_weights=self.group_weights,
                           fit_intercept=self.fit_intercept, tol=self.tol, max_iter=self.max_iter,
                           random_state=self.random_state, n_threads=self.n_threads)

    @warns_about_scale_once
    def fit(self, X, y, sample_weight=None):
        """Cross-validate the alpha grid, then refit on all data at the chosen alpha.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Sparse X (CSR, CSC) is never densified.
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        if self.selection not in ("min", "1se"):
            raise ValueError(f"selection must be 'min' or '1se', got {self.selection!r}.")
        check_scalar(self.eps, "eps", low=0.0, low_inclusive=False, high=1.0)
        template = self._template()
        template._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=not is_classifier(self),
                             accept_sparse=["csr", "csc"])
        warn_if_badly_scaled(X, type(self).__name__)  # once, for alpha_max, the folds and the refit
        if is_classifier(self):
            check_classification_targets(y)
            if np.unique(y).size < 2:
                raise ValueError("The target has only one class; a classifier needs samples of at least 2 classes.")
        cv = check_cv(self.cv, y, classifier=is_classifier(self))
        if X.shape[0] < 2 * cv.get_n_splits(X, y):
            raise ValueError(f"Cross-validation with {cv.get_n_splits(X, y)} folds needs at least two samples "
                             f"per fold; got n_samples={X.shape[0]}.")
        alphas = _check_alphas(self.alphas, template, X, y, self.eps, sample_weight)
        n_folds, start = cv.get_n_splits(X, y), time.perf_counter()
        results = []
        for fold in Parallel(n_jobs=self.n_jobs, return_as="generator")(
                delayed(_fold_scores)(template, X, y, sample_weight, train, test, alphas, self.scoring)
                for train, test in cv.split(X, y)):
            results.append(fold)
            self._progress(f"fold {len(results)}/{n_folds} done, best validation score "
                           f"{np.nanmax(fold[0]):.4g}", start)
        scores = np.array([r[0] for r in results])
        n_selected = np.array([r[1] for r in results])
        mean, std = scores.mean(axis=0), scores.std(axis=0)
        best = int(np.argmax(mean))
        # glmnet's one-standard-error rule: the largest alpha (sparsest model) whose
        # mean score is within one standard error of the best
        se = std[best] / np.sqrt(scores.shape[0])
        within = np.flatnonzero(mean >= mean[best] - se)
        self.alphas_ = alphas
        self.alpha_ = float(alphas[best])
        self.alpha_1se_ = float(alphas[within.min()])
        self.cv_results_ = {
            "alphas": alphas,
            "mean_test_score": mean,
            "std_test_score": std,
            "mean_n_selected": n_selected.mean(axis=0),
            **{f"split{k}_test_score": s for k, s in enumerate(scores)},
        }
        chosen = self.alpha_ if self.selection == "min" else self.alpha_1se_
        self.estimator_ = self._refit(template, X, y, sample_weight, alphas, chosen)
        self._progress(f"refitted on all data at alpha={chosen:.4g}: "
                       f"{self.estimator_.selected_features_.size} features selected", start)
        for name in ("coef_", "intercept_", "support_", "selected_features_", "feature_importances_",
                     "group_norms_", "groups_", "n_iter_", "classes_"):
            if hasattr(self.estimator_, name):
                setattr(self, name, getattr(self.estimator_, name))
        return self

    def _progress(self, message, start):
        if self.verbose:
            print(f"[{type(self).__name__}] {message} ({time.perf_counter() - start:.1f} s)",
                  file=sys.stderr, flush=True)

    def _refit(self, template, X, y, sample_weight, alphas, chosen):
        # The validated models come from warm-started paths. D=2 is convex, so a
        # direct fit gives the same model; for D>=3 the model depends on the path
        # (dense to sparse), so the full-data path is replayed up to the chosen alpha.
        if template.D == 2:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", EmptyModelWarning)
                return clone(template).set_params(alpha=chosen).fit(X, y, sample_weight=sample_weight)
        grid = alphas[alphas <= chosen]
        return dgating_path(template, X, y, alphas=grid, sample_weight=sample_weight).estimators[0]

    def predict(self, X):
        """Predict with the model refitted at the chosen alpha."""
        check_is_fitted(self)
        return self.estimator_.predict(_validate_X(self, X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


_CV_DOC = """
    Parameters
    ----------
    groups, D, group_weights, fit_intercept, tol, max_iter, random_state, n_threads
        As in :class:`{model}`.
    alphas : int or array-like, default=20
        Grid size (geometric from ``alpha_max`` down to ``eps * alpha_max``) or values.
    eps : float, default=1e-3
    cv : int, cross-validation generator or iterable, default=5
    scoring : str or callable, default=None
        Scorer; default: the estimator's ``score``.
    selection : {{"min", "1se"}}, default="min"
        Refit at ``alpha_`` (best mean score) or ``alpha_1se_`` (the sparsest model
        within one standard error of the best, as glmnet's ``lambda.1se``).
    n_jobs : int, default=None
        Folds run in parallel with joblib.
    verbose : int, default=0
        When positive, print a line to stderr as each fold finishes and one
        after the refit.

    Attributes
    ----------
    alpha_ : float
        Alpha with the best mean cross-validated score.
    alpha_1se_ : float
        Largest alpha whose mean score is within one standard error of the best.
    alphas_ : ndarray
        The grid, decreasing.
    cv_results_ : dict
        ``alphas``, ``mean_test_score``, ``std_test_score``, ``mean_n_selected`` and
        ``split<k>_test_score``, one entry per alpha.
    estimator_ : {model}
        The model refitted on all data at the chosen alpha; ``coef_``,
        ``intercept_``, ``support_``, ``selected_features_``,
        ``feature_importances_``, ``group_norms_``, ``groups_`` and ``n_iter_`` are
        copied from it.
"""


class DGatingGroupLassoCV(RegressorMixin, _DGatingLinearCV):
    __doc__ = ("Cross-validated :class:`~skdgating.DGatingGroupLasso`: alpha chosen by K-fold CV over "
               "warm-started paths.\n" + _CV_DOC.format(model="DGatingGroupLasso"))
    _model = DGatingGroupLasso


class DGatingLogisticGroupLassoCV(ClassifierMixin, _DGatingLinearCV):
    __doc__ = ("Cross-validated :class:`~skdgating.DGatingLogisticGroupLasso`: alpha chosen by K-fold "
               "CV (stratified) over warm-started paths.\n"
               + _CV_DOC.format(model="DGatingLogisticGroupLasso")
               + "    classes_ : ndarray\n")
    _model = DGatingLogisticGroupLasso

    def predict_proba(self, X):
        """Class probabilities of the refitted model."""
        check_is_fitted(self)
        return self.estimator_.predict_proba(_validate_X(self, X))

    def decision_function(self, X):
        """Logits of the refitted model."""
        check_is_fitted(self)
        return self.estimator_.decision_function(_validate_X(self, X))
