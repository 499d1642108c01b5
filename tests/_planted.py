"""Shared test data with a planted support."""

import numpy as np


def regression_data(seed=0, n=300, p=10):
    """y depends on columns 0, 1, 2 only (nonlinearly)."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    y = 2 * np.sin(X[:, 0]) + X[:, 1] ** 2 + X[:, 2] + 0.1 * rng.randn(n)
    return X, y
