"""Hyperparameter and input checks shared by every estimator.

Messages name the parameter and the value, so a user inside a pipeline knows what
to change. Estimators call these at the start of ``fit``.
"""

import contextvars
import functools
import sys
import warnings
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.utils.sparsefuncs import mean_variance_axis


def check_D(D):
    if isinstance(D, (bool, np.bool_)) or not isinstance(D, Integral):
        raise TypeError(f"D must be an integer >= 2 (D=2 is the group lasso), got {D!r}.")
    if D < 2:
        raise ValueError(f"D must be an integer >= 2 (D=2 is the group lasso), got {D}.")
    return int(D)


def check_scalar(value, name, *, low=None, high=None, low_inclusive=True, integer=False):
    """A real (or integer) scalar inside a range, finite."""
    kind = Integral if integer else Real
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kind):
        raise TypeError(f"{name} must be {'an integer' if integer else 'a real number'}, got {value!r}.")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    if low is not None and (value < low or (not low_inclusive and value == low)):
        bound = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {bound} {low}, got {value!r}.")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value!r}.")
    return value


def numeric_target(y, classifier_name):
    """``y`` as float64, or a ValueError that names the problem (and ``classifier_name``,
    the estimator for class labels) instead of numpy's deep inside a fit."""
    try:
        return np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"A regression target must be numeric; got values of dtype {np.asarray(y).dtype} "
            f"(use {classifier_name} for class labels).") from None


def check_sample_weight(sample_weight, n_samples):
    """Non-negative finite weights of shape (n_samples,), normalized to sum to one."""
    if sample_weight is None:
        return np.full(n_samples, 1.0 / n_samples)
    sw = np.asarray(sample_weight, dtype=float)
    if sw.ndim == 0:
        sw = np.full(n_samples, float(sw))
    if sw.shape != (n_samples,):
        raise ValueError(f"sample_weight has shape {sw.shape}, expected ({n_samples},).")
    if not np.all(np.isfinite(sw)) or np.any(sw < 0):
        raise ValueError("sample_weight must be finite and non-negative.")
    total = sw.sum()
    if total <= 0:
        raise ValueError("sample_weight sums to zero: at least one sample needs a positive weight.")
    return sw / total


# Penalties compare coefficient norms across features, so their scales must be
# comparable; beyond this ratio of standard deviations a fit is almost surely wrong.
SCALE_RATIO_WARNING = 1e3


# Whether the current call of a public entry point has warned about scale already:
# None outside any entry point, else a one-element list [warned].
_SCALE_WARNED = contextvars.ContextVar("skdgating_scale_warned", default=None)
# Frames of these packages are plumbing between the user's line and the check.
_PLUMBING = ("skdgating", "sklearn", "joblib", "skorch", "torch")


def _scale_scope(func, warned):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if warned is None and _SCALE_WARNED.get() is not None:
            return func(*args, **kwargs)  # nested in another entry point: its scope counts
        token = _SCALE_WARNED.set([bool(warned)])
        try:
            return func(*args, **kwargs)
        finally:
            _SCALE_WARNED.reset(token)
    return wrapper


def warns_about_scale_once(func):
    """Decorate a public entry point: all its nested scale checks warn once at most.

    A CV fit checks the same data in ``alpha_max``, in every fold's path and in
    the refit; the user needs one warning.
    """
    return _scale_scope(func, None)


def without_scale_warning(func):
    """Decorate work on parts of data already checked (the folds of a CV fit).

    The folds may run in other threads or processes, where the caller's scope
    is not visible, so the function itself silences the check.
    """
    return _scale_scope(func, True)


def _user_stacklevel():
    """``stacklevel`` of the first frame outside skdgating, scikit-learn and joblib.

    Counted for a ``warnings.warn`` in the function that calls this one, so the
    warning shows the user's line, whatever path led to the check.
    """
    frame, level = sys._getframe(2), 2
    while frame.f_back is not None and frame.f_globals.get("__name__", "").split(".")[0] in _PLUMBING:
        frame, level = frame.f_back, level + 1
    return level


def constant_columns(var, mean, n_rows):
    """Which columns are constant up to the rounding of their variance (scikit-learn's
    bound in ``StandardScaler``): the largest rounding error of a variance computed over
    ``n_rows`` rows. A column whose rows all hold one value that float64 cannot represent
    exactly has a mean that differs from that value in the last bits, and a variance of
    about (mean * eps)^2 instead of 0."""
    eps = np.finfo(np.float64).eps
    return var <= n_rows * eps * var + (n_rows * eps * mean) ** 2


def _column_std(X, mean, block_entries=2**18):
    """Column standard deviations of dense ``X``, centred a block of columns at a time
    (``X.std(axis=0)`` builds an n x p temporary, as large as X)."""
    n, p = X.shape
    step = max(1, block_entries // max(n, 1))
    std = np.empty(p)
    for start in range(0, p, step):
        block = X[:, start: start + step] - mean[start: start + step]
        std[start: start + step] = np.sqrt(np.einsum("ij,ij->j", block, block) / n)
    return std


def warn_if_badly_scaled(X, estimator_name, std=None, mean=None):
    """Warn when the non-constant columns' standard deviations differ by more than 1e3.

    ``std`` and ``mean`` (per column) are computed from ``X`` unless the caller has
    them. Columns constant up to rounding (:func:`constant_columns`) are left out.
    Within a public entry
    point (:func:`warns_about_scale_once`) only the first check may warn.
    """
    warned = _SCALE_WARNED.get()
    if (warned is not None and warned[0]) or X.shape[0] < 2 or X.shape[1] < 2:
        return
    if std is None and sparse.issparse(X):
        mean, var = mean_variance_axis(sparse.csc_matrix(X), axis=0)
        std = np.sqrt(var)
    mean = X.mean(axis=0) if mean is None else mean
    std = _column_std(X, mean) if std is None else std
    live = std[~constant_columns(std**2, mean, X.shape[0])]
    if live.size >= 2 and live.max() > SCALE_RATIO_WARNING * live.min():
        if warned is not None:
            warned[0] = True
        warnings.warn(
            f"The features' standard deviations range from {live.min():.3g} to {live.max():.3g}. "
            f"{estimator_name} penalizes coefficient norms, so features on different scales are "
            "penalized arbitrarily: standardize them, e.g. with "
            f"make_pipeline(StandardScaler(), {estimator_name}(...)) (sklearn.pipeline.make_pipeline, "
            "sklearn.preprocessing.StandardScaler).", UserWarning, stacklevel=_user_stacklevel())
