"""Hyperparameter and input checks shared by every estimator.

Messages name the parameter and the value, so a user inside a pipeline knows what
to change. Estimators call these at the start of ``fit``.
"""

import warnings
from numbers import Integral, Real

import numpy as np


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


def warn_if_badly_scaled(X, estimator_name, std=None, mean=None):
    """Warn when the non-constant columns' standard deviations differ by more than 1e3.

    ``std`` and ``mean`` (per column) are computed from ``X`` unless the caller has
    them. A column whose std is below 1e-12 of its mean's magnitude is constant up
    to rounding (its mean is not exactly representable).
    """
    if X.shape[0] < 2 or X.shape[1] < 2:
        return
    mean = X.mean(axis=0) if mean is None else mean
    std = X.std(axis=0) if std is None else std
    live = std[std > 1e-12 * np.abs(mean)]
    if live.size >= 2 and live.max() > SCALE_RATIO_WARNING * live.min():
        warnings.warn(
            f"The features' standard deviations range from {live.min():.3g} to {live.max():.3g}. "
            f"{estimator_name} penalizes coefficient norms, so features on different scales are "
            "penalized arbitrarily: put a sklearn.preprocessing.StandardScaler in front of it "
            "(e.g. make_pipeline(StandardScaler(), estimator)).", UserWarning, stacklevel=3)
