"""Design matrices for the solver: dense or sparse (CSC), optionally centred implicitly."""

import numpy as np
import scipy.sparse as sp


class Design:
    """The columns of ``X - 1 offset'`` for dense or sparse (CSC) ``X``, never densified.

    Least squares with an intercept works on centred data; a sparse ``X`` is centred
    implicitly (as scikit-learn's linear models do): the products subtract the
    offset's contribution, so no ``n x p`` dense array is built. ``offset`` must be
    the ``s``-weighted column means (``s`` summing to one) for :meth:`weighted_gram`
    and :meth:`weighted_sq_norms`, or ``None``.
    """

    def __init__(self, X, offset=None):
        self.X, self.offset = X, offset
        self.sparse = sp.issparse(X)
        self.shape = X.shape

    def take(self, cols):
        """The design restricted to the columns ``cols``."""
        return Design(self.X[:, cols], None if self.offset is None else self.offset[cols])

    def dot(self, w):
        """``X w`` for ``w`` of shape (p,) or (p, K)."""
        out = self.X @ w
        return out if self.offset is None else out - self.offset @ w

    def rdot(self, r):
        """``X' r`` for ``r`` of shape (n,) or (n, K)."""
        out = np.asarray(self.X.T @ r)
        return out if self.offset is None else out - np.multiply.outer(self.offset, r.sum(0))

    def weighted_sq_norms(self, s):
        """``sum_i s_i x_ij^2`` per column (of the centred columns)."""
        sq = (self.X.multiply(self.X).T @ s) if self.sparse else np.einsum("i,ij,ij->j", s, self.X, self.X)
        return sq if self.offset is None else sq - self.offset**2

    def weighted_gram(self, s, other=None):
        """``X' S Y`` with ``Y`` the columns of ``other`` (default: these), dense."""
        other = self if other is None else other
        if self.sparse:
            out = (self.X.T @ other.X.multiply(s[:, None]).tocsc()).toarray()
        else:
            out = self.X.T @ (s[:, None] * other.X)
        if self.offset is not None:
            out -= np.multiply.outer(self.offset, other.offset)
        return out

    def row_weighted_gram(self, d):
        """``X' diag(d) X`` and ``X' d`` (uncentred designs only; logistic Hessians)."""
        if self.sparse:
            return (self.X.T @ self.X.multiply(d[:, None]).tocsc()).toarray(), np.asarray(self.X.T @ d)
        root_d = np.sqrt(d)
        B = np.empty((len(d), self.shape[1] + 1), order="F")
        np.multiply(self.X, root_d[:, None], out=B[:, :-1])
        B[:, -1] = root_d
        H = B.T @ B  # numpy uses the symmetric BLAS product for A'A: half the flops
        return H[:-1, :-1], H[:-1, -1]


def ridge_solution(design, s, target, ridge):
    """``(X' S X + ridge I)^{-1} X' S target`` through the smaller of the two Gram matrices.

    With ``p > n`` the identity ``(X'SX + rI)^{-1} X'S = X' S^{1/2} (S^{1/2} X X' S^{1/2} + rI)^{-1} S^{1/2}``
    keeps the system ``n x n``: no ``p x p`` object on wide data.
    """
    n, p = design.shape
    if p <= n:
        A = design.weighted_gram(s)
        A.flat[:: p + 1] += ridge
        return np.linalg.solve(A, design.rdot(s[:, None] * target))
    root_s = np.sqrt(s)
    scaled = Design(design.X.multiply(root_s[:, None]).tocsc() if design.sparse else root_s[:, None] * design.X)
    XXt = scaled.X @ scaled.X.T
    B = XXt.toarray() if design.sparse else XXt
    if design.offset is not None:  # centred: (I - sqrt(s) sqrt(s)') S^{1/2} X X' S^{1/2} (I - ...)
        P = np.eye(n) - np.outer(root_s, root_s)
        B = P @ B @ P
    B.flat[:: n + 1] += ridge
    coef = np.linalg.solve(B, root_s[:, None] * target)
    return design.rdot(root_s[:, None] * coef)
