r"""D-gated linear models: least-squares and logistic group lasso and beyond.

Both estimators minimize, exactly,

.. math::

    \frac{1}{\sum_i s_i}\sum_i s_i\,\ell(y_i, x_i^\top W + b)
    \;+\; \alpha \sum_j c_j \|W_j\|_2^{2/D}

(:math:`\ell` = half squared error or logistic loss, :math:`s` = sample weights,
:math:`W_j` = the coefficients of group j across all outputs, :math:`c_j` = group
weights, intercept unpenalized) through its smooth D-gated form, solved in
float64 by :mod:`skdgating._solvers`. ``D=2`` is the group lasso (convex);
``D=3, 4`` are the non-convex :math:`L_{2,2/3}`, :math:`L_{2,1/2}` penalties, which
select fewer groups and shrink the survivors less.
"""

import copy
import warnings

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_X_y, validate_data

from . import _solvers
from ._persistence import VersionedPickleMixin
from ._threads import check_n_threads, thread_limits
from .exceptions import EmptyModelWarning
from ._validation import (check_D, check_sample_weight, check_scalar, numeric_target, warn_if_badly_scaled,
                          warns_about_scale_once)
from .groups import make_groups

__all__ = ["DGatingGroupLasso", "DGatingLogisticGroupLasso", "alpha_max"]

_PARAMS_DOC = """
    groups : None, int, list, array-like or dict, default=None
        Feature groups; a group enters or leaves the model as a whole. ``None``:
        every feature is its own group. See :func:`skdgating.make_groups` for the
        accepted forms (contiguous block size, list of sizes, list of column
        lists, per-column labels, dict of name -> columns for DataFrames).
    D : int, default=3
        Gating depth, ``D >= 2``. ``D=2`` is the group lasso; larger D gives a
        sparser, less biased, non-convex penalty :math:`\\|W_j\\|^{2/D}`.
    alpha : float, default=0.1
        Penalty strength (``>= 0``). For ``D=2`` every group is zero from
        :func:`alpha_max` on.
    group_weights : {"sqrt_size", "ones"} or array-like, default="sqrt_size"
        Multipliers :math:`c_j`; ``"sqrt_size"`` is :math:`\\sqrt{p_j}`. A weight of
        0 leaves a group unpenalized (always selected).
    fit_intercept : bool, default=True
        Fit an unpenalized, ungated intercept.
    tol : float, default=1e-6
        Optimality tolerance. ``D=2``: largest violation of the group-lasso KKT
        conditions; ``D>=3``: largest entry of the gated gradient.
    max_iter : int, default=100
        Maximum number of outer (working-set) iterations.
    warm_start : bool, default=False
        Start from the previous solution when refitting (used along paths).
    random_state : int, RandomState instance or None, default=None
        Seeds the tiny perturbation of the dense starting point used for
        ``D>=3``, which breaks ties between identical columns. Unused for D=2.
    verbose : int, default=0
        Print one line per outer iteration when positive.
    n_threads : int or None, default=None
        Threads of the BLAS pool during ``fit``; the previous size is restored
        afterwards. ``None`` sizes it from the work of one pass over X and the
        idle cores (from the load average): one thread unless X is very large
        (a pool of threads costs more than it gives on the solver's many small
        products, and beside a busy process slows them many times over). A
        positive int sets the number; ``-1`` uses every core (``-2`` all but
        one, as for ``n_jobs``). Either way the solver's products on small
        working sets run on fewer threads when their size calls for it.
"""

_ATTRS_DOC = """
    support_ : ndarray of bool, shape (n_features,)
        Features whose group is selected (nonzero).
    selected_features_ : ndarray of int
        Sorted indices of the selected features.
    feature_importances_ : ndarray of shape (n_features,)
        Absolute coefficient, or its Euclidean norm across classes.
    group_norms_ : ndarray of shape (n_groups,)
        Euclidean norm of each group's coefficients (exactly 0 for dropped groups).
    groups_ : list of ndarray
        Column indices of each group, as parsed from ``groups``.
    n_iter_ : int
        Total number of inner solver iterations, summed over the working-set
        (outer) iterations (:mod:`skdgating._solvers`). ``D=2`` with least
        squares or two classes (the group lasso, solved in the coefficients):
        passes of block coordinate descent over the working sets (plus the
        iterations below if a badly conditioned solve stalls and the solver in
        the gated factors finishes it). Otherwise
        (``D>=3``, or ``D=2`` with more than two classes): L-BFGS iterations plus
        the Newton steps the solver takes near the solution. The initial fit of
        the intercept (and of unpenalized groups) is not counted.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when X has string column names.

    Notes
    -----
    Support read-out: the solver drives dropped groups towards zero without
    reaching it. For ``D>=3`` a group whose norm falls below ``1e-7`` times the
    largest group norm seen during the solve (the dense start included) is set to
    exactly zero; zero groups are absorbing there. For ``D=2`` a group below
    ``1e-4`` times the largest norm is set to zero only if it satisfies the
    group-lasso condition :math:`\\|\\nabla_j L\\| \\le \\alpha c_j - tol`, and the
    result is verified: every zero group satisfies its KKT condition to ``tol``,
    and a violating group is put back and re-solved.

    Standardize features (e.g. :class:`~sklearn.preprocessing.StandardScaler`):
    the penalty compares group norms, so unscaled features are penalized
    arbitrarily.

    With :class:`~sklearn.feature_selection.SelectFromModel`, pass
    ``importance_getter="support_", threshold=0.5`` to keep exactly ``support_``.
    Its default (``1e-5`` on ``|coef_|``, because the class name contains
    "Lasso") misses a selected feature whose coefficient is below 1e-5.
"""


class _DGatingLinearModel(VersionedPickleMixin, BaseEstimator):
    """Shared fit logic; subclasses define the datafit and the output layer."""

    def __init__(self, groups=None, D=3, alpha=0.1, group_weights="sqrt_size", fit_intercept=True,
                 tol=1e-6, max_iter=100, warm_start=False, random_state=None, verbose=0,
                 n_threads=None):
        self.groups = groups
        self.D = D
        self.alpha = alpha
        self.group_weights = group_weights
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.n_threads = n_threads

    def _check_params(self):
        check_D(self.D)
        check_n_threads(self.n_threads)
        check_scalar(self.alpha, "alpha", low=0.0)
        check_scalar(self.tol, "tol", low=0.0, low_inclusive=False)
        check_scalar(self.max_iter, "max_iter", low=1, integer=True)
        if not isinstance(self.fit_intercept, (bool, np.bool_)):
            raise TypeError(f"fit_intercept must be a bool, got {self.fit_intercept!r}.")

    @warns_about_scale_once
    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Sparse matrices (CSR, CSC) are used as they are, never densified.
        y : array-like of shape (n_samples,)
            Targets (regression) or class labels of any type (classification).
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        _fit_path(self, X, y, [self.alpha], sample_weight, warm=self.warm_start)
        return self

    def _set_solution(self, groups, datafit, W, b, n_iter):
        """The fitted attributes of the solution ``(W, b)``."""
        self.groups_ = [idx.copy() for idx in groups.indices]
        self.group_norms_ = groups.group_norms(W)
        self.support_ = (self.group_norms_ > 0)[groups.feature_group]
        self.selected_features_ = np.flatnonzero(self.support_)
        self.feature_importances_ = np.sqrt((W**2).sum(axis=0))
        self.n_iter_ = int(n_iter)
        self._store(W, b)
        self._check_minimum_exists(groups, datafit)
        if groups.penalized.any() and not np.any(self.group_norms_[groups.penalized] > 0):
            warnings.warn(
                f"alpha={self.alpha:g} removes every penalized group; predictions use the "
                "intercept (and unpenalized groups) only. Decrease alpha.", EmptyModelWarning)

    def _check_minimum_exists(self, groups, datafit):
        """Warn where the objective has no minimum (the classifier overrides it)."""

    def _linear_scores(self, X):
        """``X @ coef_.T + intercept_`` for validated X, shape (n_samples, n_outputs).

        In the thread pools the fit uses for a pass over X (skdgating._threads):
        with the BLAS's default pools a product this small costs more in thread
        start-up than in flops, and far more beside a busy process.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False, accept_sparse=["csr", "csc"])
        coef = np.atleast_2d(self.coef_)
        with thread_limits(self.n_threads, 2.0 * X.shape[0] * X.shape[1] * len(coef)):
            return np.asarray(X @ coef.T) + self.intercept_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _least_squares_factory(y, fit_intercept):
    return lambda X, s: _solvers.LeastSquares(X, y, s, fit_intercept)


class DGatingGroupLasso(RegressorMixin, _DGatingLinearModel):
    __doc__ = r"""Least-squares regression with a D-gated group penalty.

    Minimizes

    .. math::

        \frac{1}{2\sum_i s_i}\sum_i s_i (y_i - x_i^\top w - b)^2
        + \alpha \sum_j c_j \|w_j\|_2^{2/D}

    through the D-gated parametrization :math:`w_j = \omega_j \prod_{d<D}\gamma_{j,d}`
    with the smooth penalty :math:`\frac{\alpha c_j}{D}(\|\omega_j\|^2+\sum_d\gamma_{j,d}^2)`.
    With ``D=2`` this is exactly the group lasso.

    Parameters
    ----------""" + _PARAMS_DOC + r"""
    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Coefficients, exactly zero for dropped groups.
    intercept_ : float""" + _ATTRS_DOC + r"""
    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from skdgating import DGatingGroupLasso
    >>> X, y = load_diabetes(return_X_y=True)
    >>> est = DGatingGroupLasso(D=2, alpha=1.0).fit(X, y)
    >>> est.selected_features_
    array([2, 3, 8])
    """

    def _validate_fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, accept_sparse=["csr", "csc"])
        return X, _least_squares_factory(numeric_target(y, "DGatingLogisticGroupLasso"), self.fit_intercept)

    def _store(self, W, b):
        self.coef_ = W[0]
        self.intercept_ = float(b[0])

    def predict(self, X):
        """Predict targets, shape (n_samples,)."""
        return self._linear_scores(X)[:, 0]


def _logistic_factory(y_encoded, n_classes, fit_intercept):
    if n_classes == 2:
        return lambda X, s: _solvers.BinaryLogistic(X, y_encoded.astype(float), s, fit_intercept)
    return lambda X, s: _solvers.MultinomialLogistic(X, y_encoded, s, n_classes, fit_intercept)


class DGatingLogisticGroupLasso(ClassifierMixin, _DGatingLinearModel):
    __doc__ = r"""Logistic regression (binary or multinomial) with a D-gated group penalty.

    Minimizes

    .. math::

        \frac{1}{\sum_i s_i}\sum_i s_i\,\big(-\log p_{y_i}(x_i)\big)
        + \alpha \sum_j c_j \|W_j\|_2^{2/D},

    with :math:`p` the sigmoid (two classes, one coefficient row) or softmax
    (K classes, K rows) of :math:`x^\top W + b`. A group spans all classes'
    coefficients of its features, so a feature leaves the model for every class
    at once. Intercepts are unpenalized and ungated. ``D=2`` is the group lasso.
    If the unpenalized columns (every column at ``alpha=0``) separate the classes,
    the objective has no minimum; ``fit`` then warns (:class:`~sklearn.exceptions.ConvergenceWarning`).

    Parameters
    ----------""" + _PARAMS_DOC + r"""
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Exactly zero columns for dropped groups.
    intercept_ : ndarray of shape (1,) or (n_classes,)""" + _ATTRS_DOC

    def _validate_fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64, accept_sparse=["csr", "csc"])
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        if len(encoder.classes_) < 2:
            raise ValueError(
                f"The target has only one class ('{encoder.classes_[0]}'); a classifier needs "
                "samples of at least 2 classes.")
        self.classes_ = encoder.classes_
        return X, _logistic_factory(encoder.transform(y), len(self.classes_), self.fit_intercept)

    def _store(self, W, b):
        self.coef_ = W
        self.intercept_ = b

    def _check_minimum_exists(self, groups, datafit):
        # The penalty bounds the penalized coefficients, not the unpenalized ones (all
        # of them at alpha=0): if those columns separate the classes, the loss goes to
        # 0 along a ray and the solver stops wherever its tolerance is met.
        free = ~groups.penalized[groups.feature_group] if self.alpha > 0 else np.ones(groups.n_features, bool)
        if not free.any():
            return
        X_free = datafit.X.X[:, free]
        scores = np.asarray(X_free @ self.coef_[:, free].T) + self.intercept_
        if _separable(X_free, datafit.labels, datafit.s, self.fit_intercept, scores):
            largest = float(np.max(np.abs(self.coef_[:, free])))
            warnings.warn(
                "The unpenalized columns" + (" and the intercept" if self.fit_intercept else "")
                + " separate the classes: the logistic loss has no minimum, and their coefficients "
                f"grow until the solver's tolerance stops them (largest |coef| {largest:.3g}). "
                + ("Use alpha > 0." if self.alpha == 0 else "Give those groups a positive group weight."),
                ConvergenceWarning)

    def decision_function(self, X):
        """Logits: shape (n_samples,) for two classes, (n_samples, n_classes) otherwise."""
        scores = self._linear_scores(X)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), rows sum to one."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p1 = 1.0 / (1.0 + np.exp(-scores))
            return np.column_stack([1.0 - p1, p1])
        scores = scores - scores.max(axis=1, keepdims=True)
        proba = np.exp(scores)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """Predicted class labels."""
        scores = self.decision_function(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[idx]


# Largest linear program (constraints x variables per class) the separability check solves:
# about 0.2 s with HiGHS; beyond it only the fitted model is tried as a witness.
SEPARABILITY_LP_ENTRIES = 200_000


def _separable(X, y, sample_weight, fit_intercept, scores):
    """Whether some linear function of ``X`` (plus an intercept) separates the classes.

    ``False`` also when the problem is too large to decide (see below).

    The classes ``y`` (0..K-1) are separable iff scores ``f_k(x) = x'w_k + b_k``
    exist with ``f_{y_i}(x_i) > f_k(x_i)`` for every sample of positive weight and
    every other class ``k``. The fitted ``scores`` (n_samples, 1 or K) are tried
    first as such a witness; otherwise a linear program decides exactly (the margin
    1 it asks for is no restriction: any strict separation scales up to it), when
    it has at most SEPARABILITY_LP_ENTRIES entries.
    """
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix, issparse

    keep = np.flatnonzero(sample_weight > 0)
    X, y, scores = X[keep], y[keep], scores[keep]
    K = max(scores.shape[1], 2)
    if K == 2:
        margins = (2.0 * y - 1.0) * scores[:, 0]
    else:
        others = np.where(np.arange(K)[None, :] == y[:, None], -np.inf, scores)
        margins = scores[np.arange(len(y)), y] - others.max(1)
    if np.all(margins > 0):
        return True
    n, q = X.shape[0], X.shape[1] + bool(fit_intercept)
    if n * q * (K - 1) > SEPARABILITY_LP_ENTRIES:
        return False
    X = X.toarray() if issparse(X) else X  # small here (the bound above)
    Z = np.column_stack([X, np.ones(n)]) if fit_intercept else X
    if K == 2:  # one score suffices: (2 y_i - 1) z_i'v >= 1
        A = -(2.0 * y - 1.0)[:, None] * Z
        n_vars = q
    else:  # rows (i, k != y_i): -(z_i' w_{y_i} - z_i' w_k) <= -1
        i, k = np.nonzero(np.arange(K)[None, :] != y[:, None])
        rows = np.repeat(np.arange(len(i)), 2 * q)
        cols = np.concatenate([y[i, None] * q + np.arange(q)[None, :], k[:, None] * q + np.arange(q)[None, :]],
                              axis=1).ravel()
        vals = np.concatenate([-Z[i], Z[i]], axis=1).ravel()
        A = csr_matrix((vals, (rows, cols)), shape=(len(i), K * q))
        n_vars = K * q
    result = linprog(np.zeros(n_vars), A_ub=A, b_ub=-np.ones(A.shape[0]), bounds=(None, None), method="highs")
    return result.status == 0


@warns_about_scale_once
def alpha_max(X, y, groups=None, group_weights="sqrt_size", *, task="regression",
              sample_weight=None, fit_intercept=True):
    r"""Smallest ``alpha`` at which the ``D=2`` (group lasso) solution is all zero.

    :math:`\alpha_{\max} = \max_j \|\nabla_{w_j} L(0, b^\ast)\|_2 / c_j` over penalized
    groups, with the intercept :math:`b^\ast` (and any unpenalized group) fitted.
    For ``D>=3`` there is no such value (zero is always a local minimum); it is
    still the natural scale of ``alpha``.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Sparse X (CSR, CSC) is never densified.
    y : array-like of shape (n_samples,)
    groups, group_weights : see :class:`DGatingGroupLasso`
    task : {"regression", "classification"}
    sample_weight : array-like, optional
    fit_intercept : bool, default=True

    Returns
    -------
    float
    """
    if task not in ("regression", "classification"):
        raise ValueError(f"task must be 'regression' or 'classification', got {task!r}.")
    if not isinstance(fit_intercept, (bool, np.bool_)):
        raise TypeError(f"fit_intercept must be a bool, got {fit_intercept!r}.")
    X, y = check_X_y(X, y, dtype=np.float64, y_numeric=task == "regression", accept_sparse=["csr", "csc"])
    if task == "regression":
        y = numeric_target(y, "DGatingLogisticGroupLasso")
        factory, name = _least_squares_factory(y, fit_intercept), "DGatingGroupLasso"
    else:
        check_classification_targets(y)
        classes, y_enc = np.unique(y, return_inverse=True)
        factory, name = _logistic_factory(y_enc, len(classes), fit_intercept), "DGatingLogisticGroupLasso"
    groups_obj, datafit = _problem(X, sample_weight, factory, groups, group_weights, None, name)
    return _solvers.alpha_max(datafit, groups_obj)


def _problem(X, sample_weight, datafit_factory, groups, group_weights, feature_names, name):
    """Groups and datafit of validated data (sparse X: converted to CSC, never densified)."""
    groups = make_groups(groups, X.shape[1], group_weights, feature_names)
    s = check_sample_weight(sample_weight, X.shape[0])
    if sparse.issparse(X):
        X = sparse.csc_matrix(X)
    datafit = datafit_factory(X, s)
    if sparse.issparse(X):
        # weighted column variances without densifying; those at the rounding level
        # of E[x^2] - mean^2 are zero (constant columns)
        mean, sq = np.asarray(X.T @ s).ravel(), np.asarray(X.multiply(X).T @ s).ravel()
        var = sq - mean**2
        warn_if_badly_scaled(X, name, std=np.sqrt(np.where(var > 1e-10 * sq, var, 0.0)), mean=mean)
    elif datafit.X.offset is not None or datafit.X.X is not X:
        # least squares centred X (implicitly, or into a copy): its weighted variances are known
        warn_if_badly_scaled(X, name, std=np.sqrt(datafit.col_sq), mean=datafit.x_mean)
    else:
        warn_if_badly_scaled(X, name)
    return groups, datafit


def _fit_path(estimator, X, y, alphas, sample_weight=None, warm=False):
    """The path core: fit ``estimator``'s model at each of ``alphas``, in this order, warm-started.

    As scikit-learn's ``Lasso.fit`` calls ``enet_path``: ``fit`` is a path of one
    alpha, and ``dgating_path`` (hence the CV estimators) runs the whole grid on one
    datafit (whose Gram cache is shared along the path). ``estimator`` receives the
    validation attributes and the fit at the last alpha; the returned list holds one
    fitted model per alpha (copies, the last one ``estimator`` itself). ``warm``:
    start from ``estimator``'s current ``coef_`` when it has a compatible one.
    """
    estimator._check_params()
    X, factory = estimator._validate_fit(X, y)
    # The thread pools are sized for a pass over X (2 n p flops: the solver's largest
    # products) and restored afterwards; see skdgating._threads.
    with thread_limits(estimator.n_threads, 2.0 * X.shape[0] * X.shape[1]):
        groups, datafit = _problem(X, sample_weight, factory, estimator.groups, estimator.group_weights,
                                   getattr(estimator, "feature_names_in_", None), type(estimator).__name__)
        coef_init = intercept_init = None
        if warm and hasattr(estimator, "coef_") and np.size(estimator.coef_) == datafit.n_outputs * X.shape[1]:
            coef_init = np.reshape(estimator.coef_, (datafit.n_outputs, -1))
            intercept_init = np.reshape(estimator.intercept_, -1)
        seed = check_random_state(estimator.random_state).randint(np.iinfo(np.int32).max)
        solutions = _solvers.solve_path(datafit, groups, [float(a) for a in alphas], check_D(estimator.D),
                                        coef_init, intercept_init, tol=estimator.tol, max_iter=estimator.max_iter,
                                        seed=seed, verbose=estimator.verbose)
        fitted = []
        for i, (alpha, (W, b, n_iter, _)) in enumerate(zip(alphas, solutions)):
            est = estimator if i == len(alphas) - 1 else copy.deepcopy(estimator)
            est.alpha = float(alpha) if len(alphas) > 1 else estimator.alpha
            est._set_solution(groups, datafit, W, b, n_iter)
            fitted.append(est)
    return fitted
