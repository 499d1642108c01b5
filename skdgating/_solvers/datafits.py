"""Datafits of the solver: least squares, binary and multinomial logistic.

The interface every datafit declares (the drivers use nothing else):

``X``
    its :class:`~skdgating._solvers.design.Design` (dense or sparse).
``s``, ``n_outputs``
    sample weights summing to one; number of coefficient rows ``K``.
``col_sq``
    ``s``-weighted squared norms of the (centred) columns: step sizes.
``has_hessian``
    whether :meth:`restrict` returns a Hessian (Newton) or ``None`` (L-BFGS only).
``quadratic``
    whether the loss is quadratic in ``(W, b)`` (its Newton model is exact).
``n_intercepts``
    number of intercepts the solver fits as variables (0 when there is none, or
    when the datafit handles it in closed form).
``gradient(W, b)``
    ``dL/dW`` of shape ``(K, p)`` on every column.
``restrict(cols)``
    ``(value_grad, hess_w)`` on a column subset: ``value_grad(W, b)`` returns
    ``(loss, dL/dW (K, m), dL/db (K,) or None)``; ``hess_w(W, b)`` the Hessian in
    ``(w, b)`` or ``None``.
``intercept(W, b)``
    the model's intercept at the solution, shape ``(K,)``.
``ridge_target()``
    the target of the ridge fit that starts ``D>=3``, shape ``(n, K)``.
``sample_curvature(z)`` (single-output datafits, those with ``has_hessian``)
    the ``s``-weighted second derivative of the loss in the linear predictor ``z``
    (n,): the Hessian in ``w`` is ``X' diag(curvature) X`` (the D=2 BCD's residual form).
``sample_loss(z)`` (the same datafits)
    the loss at the linear predictor ``z`` and its ``s``-weighted derivative in ``z``.
``weighted_columns(cols)`` (quadratic datafits)
    ``(A, t)`` with the loss on the columns ``cols`` equal to ``1/2 ||A w - t||^2``.

``fit_intercept`` is the datafit's business: least squares centres y, and X
implicitly (:class:`Design` with an offset, no copy of X), and recovers the
intercept in closed form; the logistic datafits fit it as a variable.
"""

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_expit, logsumexp

from .constants import CACHE_FRACTION, CENTRING_RATIO, MIN_CACHE_ENTRIES
from .design import Design


def cache_columns(X, dense_columns):
    """Columns the least-squares Gram cache may hold, its budget following the data's size.

    A cache of ``N`` columns holds their Gram matrix (``N^2`` entries) and, for dense
    ``X``, their centred copies (``n N``). Its budget is CACHE_FRACTION times X's
    own stored entries (at least MIN_CACHE_ENTRIES), so a fit allocates a small
    multiple of its input at most on any data, where a fixed budget is too large for
    mid-sized data and too small for large data.
    """
    budget = max(CACHE_FRACTION * (X.nnz if sp.issparse(X) else X.size), MIN_CACHE_ENTRIES)
    n = X.shape[0] if dense_columns else 0
    # largest N with n N + N^2 <= budget
    return int((np.sqrt(n * n + 4.0 * budget) - n) / 2)


class LeastSquares:
    """Half weighted squared error; with ``fit_intercept``, on centred data.

    The intercept is then closed form (:meth:`intercept`). ``X`` (dense or sparse
    CSC) is centred implicitly: its :class:`Design` carries the column means, and
    no centred copy of X is made (the only copies are the cached working-set
    columns below, centred as they are cached). Dense X used to be centred into a
    column-major copy; measured side by side (one thread, bench_linear.py shapes),
    the implicit centring is as fast or faster on every shape and memory layout
    (toeplitz 2000 x 500 /50: 0.68x the time in Fortran order, 0.76x in C order;
    tall 100,000 x 200: 0.26-0.38x, the copy itself was most of the fit). The
    copy is kept only for accuracy: when a column's mean exceeds CENTRING_RATIO
    times its spread (a constant column of 1e7 took the solver 30 s, its KKT test
    lost to cancellation).

    When ``n_samples`` exceeds the working set, the solver works on the weighted
    Gram matrix ``X' S X`` of the working-set columns. Consecutive working sets (and
    the fits along a path) share most columns, so the columns seen so far are kept
    side by side with their Gram matrix, and only products with new columns are
    computed (sparse X: the cached columns stay sparse). The cache is bounded by
    the data's own size (:func:`cache_columns`).
    """

    has_hessian = True
    quadratic = True

    n_intercepts = 0  # closed form

    def __init__(self, X, y, sample_weight, fit_intercept=False):
        s = sample_weight
        self.x_mean = np.asarray(X.T @ s).ravel() if fit_intercept else np.zeros(X.shape[1])
        self.y_mean = float(s @ y) if fit_intercept else 0.0
        y = y - self.y_mean
        self.X = Design(X, self.x_mean if fit_intercept else None)
        self.y, self.s = y, sample_weight
        self.n_outputs = 1
        self.col_sq = self.X.weighted_sq_norms(sample_weight)
        if (fit_intercept and not self.X.sparse
                and np.any(np.abs(self.x_mean) > CENTRING_RATIO * np.sqrt(self.col_sq))):
            # a mean far above its column's spread: X w - offset'w would cancel most of
            # the digits, so this X is centred into a (column-major) copy
            self.X = Design(np.subtract(X, self.x_mean, out=np.empty(X.shape, order="F")))
        self._Xty = self.X.rdot(sample_weight * y)
        self._sqrt_s = np.sqrt(sample_weight)
        self._sqrt_s_y = self._sqrt_s * y
        # dense X: the (centred) Gram columns are cached as a dense block
        self._dense = not self.X.sparse
        self._cache_columns = cache_columns(X, self._dense)
        self._slot = np.full(X.shape[1], -1, dtype=np.intp)  # column -> cache slot, or -1
        self._n_cached = 0
        self._cols_cache = np.empty((X.shape[0], 0), order="F")  # sqrt(s)-weighted columns
        self._sparse_cached = np.zeros(0, dtype=np.intp)  # otherwise: the cached columns, by slot
        self._gram_cache = np.empty((0, 0))

    def ridge_target(self):
        return self.y[:, None]

    def intercept(self, W, b):
        return np.array([self.y_mean - self.x_mean @ W[0]])

    def _gram_products(self, new, N):
        """``(G_new_new, G_cached_new)``: weighted Gram products of the new columns."""
        if not self._dense:
            fresh = self.X.take(new)
            cached = self.X.take(self._sparse_cached[:N])
            return fresh.weighted_gram(self.s), (cached.weighted_gram(self.s, fresh) if N else None)
        k = len(new)
        np.multiply(self.X.columns(new), self._sqrt_s[:, None], out=self._cols_cache[:, N: N + k])
        # products of the new columns with themselves (A'A: numpy uses the symmetric
        # BLAS product) and with the cached ones (contiguous views, no copy)
        fresh = self._cols_cache[:, N: N + k]
        return fresh.T @ fresh, (self._cols_cache[:, :N].T @ fresh if N else None)

    def _gram(self, cols):
        """Weighted Gram matrix ``X[:, cols]' S X[:, cols]``."""
        if len(cols) > self._cache_columns:
            # beyond the cache's budget (D>=3 starts with every group): formed by blocks
            # of rows, read through X, and not cached
            return self.X.take(cols).weighted_gram(self.s)
        new = cols[self._slot[cols] < 0]
        if len(new):
            n, N, k = self.X.shape[0], self._n_cached, len(new)
            if N + k > self._cache_columns:  # over budget: start again from this working set
                self._slot[:] = -1
                N, new, k = 0, cols, len(cols)
            if N + k > self._gram_cache.shape[1]:
                # room to grow (doubling), within the budget
                capacity = min(max(2 * (N + k), 64), self.X.shape[1], self._cache_columns)
                if self._dense:
                    cols_cache = np.empty((n, capacity), order="F")
                    cols_cache[:, :N] = self._cols_cache[:, :N]
                    self._cols_cache = cols_cache
                gram_cache = np.empty((capacity, capacity))
                gram_cache[:N, :N] = self._gram_cache[:N, :N]
                self._gram_cache = gram_cache
            own, cross = self._gram_products(new, N)
            self._gram_cache[N: N + k, N: N + k] = own
            if N:
                self._gram_cache[:N, N: N + k] = cross
                self._gram_cache[N: N + k, :N] = cross.T
            if not self._dense:
                self._sparse_cached = np.concatenate([self._sparse_cached[:N], new])
            self._slot[new] = np.arange(N, N + k)
            self._n_cached = N + k
        slots = self._slot[cols]
        return self._gram_cache[np.ix_(slots, slots)]

    def gradient(self, W, b=None):
        live = np.flatnonzero(W[0])
        if not len(live):
            return -self._Xty[None, :]  # X' S (0 - y), precomputed
        slots = self._slot[live]
        if self._dense and np.all(slots >= 0):
            # the residual from the cached sqrt(s)-weighted columns: one pass over X, not two
            w_slots = np.zeros(self._n_cached)
            w_slots[slots] = W[0, live]
            weighted_residual = self._cols_cache[:, : self._n_cached] @ w_slots - self._sqrt_s_y
            return self.X.rdot(self._sqrt_s * weighted_residual)[None, :]
        residual = self.X.take(live).dot(W[0, live]) - self.y
        return self.X.rdot(self.s * residual)[None, :]

    def restrict(self, cols):
        s, y = self.s, self.y
        const = 0.5 * float(s @ (y * y))
        if self.X.shape[0] > len(cols):
            # Gram form: 1/2 w'Qw - q'w + const, each evaluation O(m^2).
            Q = self._gram(cols)
            q = self._Xty[cols]

            def value_grad(W, b):
                Qw = Q @ W[0]
                return 0.5 * W[0] @ Qw - q @ W[0] + const, (Qw - q)[None, :], None
        else:
            Q = None  # the Hessian, built on first use only (L-BFGS does without it)
            Xc = self.X.take(cols)

            def value_grad(W, b):
                residual = Xc.dot(W[0]) - y
                sr = s * residual
                return 0.5 * sr @ residual, Xc.rdot(sr)[None, :], None

        def hess_w(W, b):
            # constant in (W, b): computed once per working set
            nonlocal Q
            if Q is None:
                Q = Xc.weighted_gram(s)
            return Q
        return value_grad, hess_w

    def weighted_columns(self, cols):
        """``(A, t)``: ``A = S^1/2 (X[:, cols] - offset)`` (a dense column-major copy) and
        ``t = S^1/2 y``, so that the loss on the columns ``cols`` is ``1/2 ||A w - t||^2``
        and its Hessian ``A'A`` (the D=2 solver's residual form, :mod:`.bcd`)."""
        A = self.X.columns(cols)
        A *= self._sqrt_s[:, None]
        return A, self._sqrt_s_y

    def sample_curvature(self, z):
        """Per-sample second derivative of the loss in the linear predictor ``z``, weighted by ``s``."""
        return self.s

    def sample_loss(self, z):
        """The loss at the linear predictor ``z`` (n,) and its ``s``-weighted derivative in ``z``."""
        residual = z - self.y
        sr = self.s * residual
        return 0.5 * float(sr @ residual), sr


class BinaryLogistic:
    """Weighted logistic loss, labels in {0, 1}, one output (X dense or sparse)."""

    has_hessian = True
    quadratic = False

    def __init__(self, X, y, sample_weight, fit_intercept=True):
        self.X, self.y, self.s = Design(X), y, sample_weight
        self.labels = y.astype(np.intp)
        self.n_outputs = 1
        self.n_intercepts = int(fit_intercept)
        self.col_sq = self.X.weighted_sq_norms(sample_weight)

    def ridge_target(self):
        return (self.y - (self.s @ self.y))[:, None]

    def intercept(self, W, b):
        return b

    def _value_grad(self, X, W, b):
        z = X.dot(W[0]) + b[0]
        loss = self.s @ (self.y * -log_expit(z) + (1 - self.y) * -log_expit(-z))
        r = self.s * (expit(z) - self.y)
        return loss, X.rdot(r)[None, :], np.array([r.sum()])

    def gradient(self, W, b):
        return self._value_grad(self.X, W, b)[1]

    def restrict(self, cols):
        Xc = self.X.take(cols)

        def hess_w(W, b):
            # Hessian in (w, b): [X'DX, X'D1; 1'DX, 1'D1], D = s p (1 - p)
            p1 = expit(Xc.dot(W[0]) + b[0])
            d = self.s * p1 * (1 - p1)
            m = Xc.shape[1]
            H = np.empty((m + 1, m + 1))
            H[:m, :m], H[:m, m] = Xc.row_weighted_gram(d)
            H[m, :m], H[m, m] = H[:m, m], d.sum()
            return H
        return (lambda W, b: self._value_grad(Xc, W, b)), hess_w

    def sample_curvature(self, z):
        """Per-sample second derivative of the loss in the linear predictor ``z``, weighted by ``s``."""
        p1 = expit(z)
        return self.s * p1 * (1 - p1)

    def sample_loss(self, z):
        """The loss at the linear predictor ``z`` (n,) and its ``s``-weighted derivative in ``z``."""
        loss = self.s @ (self.y * -log_expit(z) + (1 - self.y) * -log_expit(-z))
        return float(loss), self.s * (expit(z) - self.y)


class MultinomialLogistic:
    """Weighted multinomial (softmax) loss, labels in 0..K-1, K outputs (X dense or sparse)."""

    has_hessian = False  # the subproblem is solved by L-BFGS alone
    quadratic = False

    def __init__(self, X, y, sample_weight, n_classes, fit_intercept=True):
        self.X, self.s, self.labels = Design(X), sample_weight, y
        self.Y = np.eye(n_classes)[y]
        self.n_outputs = n_classes
        self.n_intercepts = n_classes if fit_intercept else 0
        self.col_sq = self.X.weighted_sq_norms(sample_weight)

    def ridge_target(self):
        return self.Y - (self.s @ self.Y)[None, :]

    def intercept(self, W, b):
        return b

    def _value_grad(self, X, W, b):
        z = X.dot(W.T) + b
        lse = logsumexp(z, axis=1)
        loss = self.s @ (lse - (z * self.Y).sum(1))
        R = self.s[:, None] * (np.exp(z - lse[:, None]) - self.Y)
        return loss, X.rdot(R).T, R.sum(0)

    def gradient(self, W, b):
        return self._value_grad(self.X, W, b)[1]

    def restrict(self, cols):
        # no Hessian: the subproblem is solved by L-BFGS alone
        Xc = self.X.take(cols)
        return (lambda W, b: self._value_grad(Xc, W, b)), None
