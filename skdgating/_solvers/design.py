"""Design matrices for the solver: dense or sparse (CSC), optionally centred implicitly."""

import numpy as np
import scipy.sparse as sp

from .constants import BLOCK_ENTRIES, TAKE_VIEW_FRACTION, VIEW_MIN_ENTRIES


class Design:
    """The columns of ``X - 1 offset'`` for dense or sparse (CSC) ``X``, never copied whole.

    Least squares with an intercept works on centred data; ``X`` is centred
    implicitly (as scikit-learn's linear models do for sparse X): the products with
    all of ``X`` subtract the offset's contribution, so no centred ``n x p`` copy is
    built. Columns taken out of a dense ``X`` (working sets) are centred explicitly
    where their Gram matrix is formed, which avoids the cancellation of
    ``X'SX - offset offset'``. ``offset`` must be the ``s``-weighted column means
    (``s`` summing to one) for :meth:`weighted_gram` and :meth:`weighted_sq_norms`,
    or ``None``.

    ``subset`` (from :meth:`take`): the design is these columns of ``X``, read
    through all of ``X`` instead of copied.
    """

    def __init__(self, X, offset=None, subset=None):
        self.X, self.offset, self.subset = X, offset, subset
        self._copy = None  # see _copied
        self.sparse = sp.issparse(X)
        self.shape = X.shape if subset is None else (X.shape[0], len(subset))

    def take(self, cols):
        """The design restricted to the columns ``cols`` (an index array).

        A copy of those columns; when they are most of X (TAKE_VIEW_FRACTION) and
        the copy would not be small (VIEW_MIN_ENTRIES), a view that reads them
        through X, so that a working set of (nearly) every group, as D>=3 starts
        with, costs no second copy of X.
        """
        cols = np.asarray(cols, dtype=np.intp)
        if self.subset is not None:
            cols = self.subset[cols]
        p = self.X.shape[1]
        copy_entries = (self.X.nnz if self.sparse else self.X.size) * len(cols) / max(p, 1)
        if len(cols) >= TAKE_VIEW_FRACTION * p and copy_entries > VIEW_MIN_ENTRIES:
            return Design(self.X, self.offset, subset=cols)
        return Design(self.X[:, cols], None if self.offset is None else self.offset[cols])

    def _copied(self):
        """This design with its columns copied out of X, made on first use and kept (the
        Hessians of a Newton subproblem use it at every step; L-BFGS never does)."""
        if self.subset is None:
            return self
        if self._copy is None:
            self._copy = Design(self.X[:, self.subset], None if self.offset is None else self.offset[self.subset])
        return self._copy

    def dot(self, w):
        """``X w`` for ``w`` of shape (p,) or (p, K)."""
        if self.subset is not None:  # zero outside the subset
            full = np.zeros((self.X.shape[1],) + np.shape(w)[1:])
            full[self.subset] = w
            w = full
        out = self.X @ w
        return out if self.offset is None else out - self.offset @ w

    def rdot(self, r):
        """``X' r`` for ``r`` of shape (n,) or (n, K)."""
        out = np.asarray(self.X.T @ r)
        if self.offset is not None:
            out = out - np.multiply.outer(self.offset, r.sum(0))
        return out if self.subset is None else out[self.subset]

    def columns(self, cols):
        """The centred columns ``cols`` (an index array) as a new dense column-major array."""
        cols = cols if self.subset is None else self.subset[cols]
        out = self.X[:, cols]
        out = out.toarray(order="F") if self.sparse else np.asfortranarray(out)
        if self.offset is not None:
            out -= self.offset[cols]
        return out

    def weighted_sq_norms(self, s):
        """``sum_i s_i x_ij^2`` per column (of the centred columns)."""
        if self.sparse:
            this = self._copied()
            sq = this.X.multiply(this.X).T @ s
            return sq if this.offset is None else sq - this.offset**2
        # dense: centred explicitly, a block of columns at a time (no n x p temporary)
        n, p = self.X.shape
        step = max(1, BLOCK_ENTRIES // max(n, 1))
        sq = np.empty(p)
        for start in range(0, p, step):
            block = self.X[:, start: start + step]
            if self.offset is not None:
                block = block - self.offset[start: start + step]
            sq[start: start + step] = np.einsum("i,ij,ij->j", s, block, block)
        return sq if self.subset is None else sq[self.subset]

    def weighted_gram(self, s, other=None):
        """``X' S Y`` with ``Y`` the columns of ``other`` (default: these), dense.

        Dense designs are centred explicitly, a block of rows at a time, so that
        neither a copy of the columns nor the cancellation of ``X'SX - offset
        offset'`` arises (a working set of most of X is read through it).
        """
        if self.sparse:
            this = self._copied()
            other = this if other is None else other._copied()
            out = (this.X.T @ other.X.multiply(s[:, None]).tocsc()).toarray()
            if this.offset is not None:
                out -= np.multiply.outer(this.offset, other.offset)
            return out
        other = self if other is None else other
        n = self.shape[0]
        step = max(1, BLOCK_ENTRIES // max(self.shape[1], other.shape[1], 1))
        out = np.zeros((self.shape[1], other.shape[1]))
        for start in range(0, n, step):
            A = self._row_block(start, start + step)
            B = A if other is self else other._row_block(start, start + step)
            out += A.T @ (s[start: start + step, None] * B)
        return out

    def _row_block(self, start, stop):
        """Rows ``start:stop`` of the centred columns, dense (a copy)."""
        block = self.X[start: stop]
        block = block[:, self.subset] if self.subset is not None else block.copy()
        if self.offset is not None:
            block -= self.offset if self.subset is None else self.offset[self.subset]
        return block

    def row_weighted_gram(self, d):
        """``X' diag(d) X`` and ``X' d`` (uncentred designs only; logistic Hessians)."""
        X = self._copied().X
        if self.sparse:
            return (X.T @ X.multiply(d[:, None]).tocsc()).toarray(), np.asarray(X.T @ d)
        root_d = np.sqrt(d)
        B = np.empty((len(d), self.shape[1] + 1), order="F")
        np.multiply(X, root_d[:, None], out=B[:, :-1])
        B[:, -1] = root_d
        H = B.T @ B  # numpy uses the symmetric BLAS product for A'A: half the flops
        return H[:-1, :-1], H[:-1, -1]
