"""Synthetic problems with a planted group support (tests, benchmarks, notebooks)."""

import numpy as np
from scipy.linalg import toeplitz
from sklearn.utils import check_random_state

__all__ = ["make_group_problem"]


def make_group_problem(n_samples=2000, n_groups=125, group_size=4, n_active=10, rho=0.5, snr=3.0,
                       task="regression", random_state=None):
    """Linear model with a few active groups of features and a Toeplitz-correlated design.

    Parameters
    ----------
    n_samples, n_groups, group_size : int
        The design has ``n_groups * group_size`` columns in contiguous groups.
    n_active : int
        Number of groups with nonzero coefficients (drawn at random).
    rho : float
        Correlation ``rho ** |i - k|`` between columns i and k.
    snr : float
        Ratio of the standard deviations of signal and noise (regression), or the
        scale of the logits (classification: ``snr`` = std of the linear predictor).
    task : {"regression", "classification"}
        Classification draws binary labels from the logistic model.
    random_state : int, RandomState or None

    Returns
    -------
    X : ndarray of shape (n_samples, n_groups * group_size)
    y : ndarray of shape (n_samples,)
    true_groups : ndarray of int
        Sorted indices of the active groups (groups are ``group_size`` blocks).
    """
    rng = check_random_state(random_state)
    p = n_groups * group_size
    L = np.linalg.cholesky(toeplitz(rho ** np.arange(p)))
    X = rng.standard_normal((n_samples, p)) @ L.T
    true_groups = np.sort(rng.choice(n_groups, n_active, replace=False))
    w = np.zeros(p)
    for g in true_groups:
        w[g * group_size:(g + 1) * group_size] = rng.standard_normal(group_size)
    signal = X @ w
    if task == "regression":
        y = signal + rng.standard_normal(n_samples) * signal.std() / snr
    elif task == "classification":
        logits = signal * (snr / signal.std())
        y = (rng.uniform(size=n_samples) < 1.0 / (1.0 + np.exp(-logits))).astype(int)
    else:
        raise ValueError(f"task must be 'regression' or 'classification', got {task!r}.")
    return X, y, true_groups
