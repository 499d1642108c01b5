"""Hyperparameter and input checks shared by every estimator.

Messages name the parameter and the value, so a user inside a pipeline knows what
to change. Estimators call these at the start of ``fit``.
"""

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
