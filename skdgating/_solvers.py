r"""Full-batch solver of the D-gated linear objective, in float64.

The problem is

.. math::

    \min_{\Omega, \Gamma, b}\; \sum_i s_i\, \ell(y_i, x_i^\top W + b)
      + \sum_j \frac{\alpha c_j}{D}\Big(\|\Omega_j\|^2 + \sum_d \Gamma_{j,d}^2\Big),
    \qquad W_j = \Omega_j \prod_d \Gamma_{j,d},

with sample weights ``s`` summing to one, a datafit :math:`\ell` (half squared
error, binary or multinomial logistic) and the gating formulas of
:mod:`skdgating.gating`. The smooth gated objective is minimized on a small
*working set* of groups; the rest of the groups sit at exactly zero:

* ``D = 2`` (the convex group lasso): groups enter the working set when they
  violate the group-lasso optimality condition :math:`\|\nabla_j L\| \le \alpha c_j`
  (the set grows geometrically while violators are left out; groups within
  ``NEAR`` of the condition's edge enter with them, since they tend to become
  violators once the others move), and the solver stops when every group
  satisfies its KKT condition to ``tol``. Because the objective is convex, this
  returns the group-lasso solution.
* ``D >= 3``: zero is a local minimum of every group (the induced penalty has
  infinite slope at 0), so no optimality test can bring a group back. The solver
  starts dense (every group nonzero, from a ridge fit in balanced factorization),
  and removes a group once its norm falls below the read-out threshold; zero groups
  are absorbing, so this loses nothing. It stops when the working set is stable
  and the gated gradient is below ``tol``.

Each working-set subproblem gets a few L-BFGS steps, then safeguarded Newton steps
with the analytic gated Hessian (shifted where the non-convex objective makes it
indefinite; a factorization is reused while it still contracts the gradient).
For ``D = 2``, after each full Newton step the solver tries to go on over the
balanced points of the gated objective (the gates eliminated in closed form,
:func:`_balanced_newton`): there Newton converges quadratically, while in the
factors it slows down near groups on the edge of the support.
Least squares works on the Gram matrix of the working set when ``n_samples`` is
larger than the working set, so a step costs ``O(m^2)`` (``O(m^3)`` for a
factorization), not ``O(n m)``; Gram columns are cached across working sets and
along a path.
"""

import warnings
from contextlib import nullcontext
from dataclasses import replace

import numpy as np
import scipy.sparse as sp
from scipy.linalg.lapack import dpotrf, dpotrs
from scipy.optimize import minimize
from scipy.special import expit, log_expit, logsumexp
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import ThreadpoolController

from .gating import balanced_factors, factor_gradients, factor_penalty, gate_product

# D>=3: a group whose norm is below SUPPORT_THRESHOLD * (largest group norm seen in
# the solve, starting point included) is read out as exactly zero; zero is absorbing.
SUPPORT_THRESHOLD = 1e-7
# D=2 only: a group below KKT_READOUT_THRESHOLD * (largest group norm) is set to zero
# and then re-checked by the group-lasso KKT test (see solve).
KKT_READOUT_THRESHOLD = 1e-4
MAX_RESTARTS = 3
# D=2, L-BFGS-only subproblems (multinomial): early working sets are solved to
# COARSE times the outer optimality violation.
COARSE = 0.1
# D=2: zero groups with ||G_j|| >= (1 - NEAR) alpha c_j join the working set early.
NEAR = 0.03
# D=2: factor on the subproblem tolerance after a solve that took no step while the
# KKT test still failed (a tiny live group: its gated gradient is its KKT residual
# times sqrt(||w_j||)); 1e-2 asks for what a group 1e4 times smaller needs.
STALL_TIGHTEN = 1e-2
# D=2: a working set holds WS_GROWTH times the current support (the worst KKT
# violators fill it; at least 10 groups), as in celer and skglm. 4, tuned on the
# 2000 x 500 problem, overshot on wide data: a set of twice the final support,
# solved by L-BFGS alone (too many variables for Newton), cost most of the fit.
WS_GROWTH = 2


# --------------------------------------------------------------------------------------
# Design matrices: dense or sparse, optionally centred implicitly
# --------------------------------------------------------------------------------------
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


def _ridge_solution(design, s, target, ridge):
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


# --------------------------------------------------------------------------------------
# Datafits. `value_grad(W, b)` on a column subset returns (loss, dL/dW (K, m), dL/db (K,)).
# Each datafit holds its design (`X`: a Design), the weights `s`, `n_outputs`,
# `col_sq` (s-weighted squared column norms, for step sizes), and `ridge_target()`.
# --------------------------------------------------------------------------------------
class LeastSquares:
    """Half weighted squared error on centred data (the intercept is closed form).

    ``X`` is dense and already centred (column-major), or sparse CSC with its
    weighted column means ``x_offset`` (centred implicitly). ``y_mean`` is the
    weighted mean that was taken off ``y`` (0 without intercept).

    When ``n_samples`` exceeds the working set, the solver works on the weighted
    Gram matrix ``X' S X`` of the working-set columns. Consecutive working sets (and
    the fits along a path) share most columns, so the columns seen so far are kept
    side by side with their Gram matrix, and only products with new columns are
    computed (sparse X: the cached columns stay sparse).
    """

    fits_intercept_in_solver = False
    has_hessian = True
    # Largest cache (n_samples x cached columns, in entries), about 400 MB; beyond it
    # the cache restarts with the current working set only.
    CACHE_ENTRIES = 50_000_000

    def __init__(self, X, y, sample_weight, x_offset=None, y_mean=0.0):
        self.X = Design(X, x_offset)
        self.y, self.s, self.y_mean = y, sample_weight, y_mean
        self.n_outputs = 1
        self.col_sq = self.X.weighted_sq_norms(sample_weight)
        self._Xty = self.X.rdot(sample_weight * y)
        self._sqrt_s = np.sqrt(sample_weight)
        self._sqrt_s_y = self._sqrt_s * y
        # dense X, centred by the caller: the Gram columns are cached as a dense block
        self._dense = not self.X.sparse and x_offset is None
        self._slot = np.full(X.shape[1], -1, dtype=np.intp)  # column -> cache slot, or -1
        self._n_cached = 0
        self._cols_cache = np.empty((X.shape[0], 0), order="F")  # sqrt(s)-weighted columns
        self._sparse_cached = np.zeros(0, dtype=np.intp)  # otherwise: the cached columns, by slot
        self._gram_cache = np.empty((0, 0))

    def ridge_target(self):
        return self.y[:, None]

    def _gram_products(self, new, N):
        """``(G_new_new, G_cached_new)``: weighted Gram products of the new columns."""
        if not self._dense:
            fresh = self.X.take(new)
            cached = self.X.take(self._sparse_cached[:N])
            return fresh.weighted_gram(self.s), (cached.weighted_gram(self.s, fresh) if N else None)
        n, k = self.X.shape[0], len(new)
        np.multiply(self.X.X[:, new], self._sqrt_s[:, None], out=self._cols_cache[:, N: N + k])
        # products of the new columns with themselves (A'A: numpy uses the symmetric
        # BLAS product) and with the cached ones (contiguous views, no copy)
        fresh = self._cols_cache[:, N: N + k]
        return fresh.T @ fresh, (self._cols_cache[:, :N].T @ fresh if N else None)

    def _gram(self, cols):
        """Weighted Gram matrix ``X[:, cols]' S X[:, cols]``."""
        new = cols[self._slot[cols] < 0]
        if len(new):
            n, N, k = self.X.shape[0], self._n_cached, len(new)
            if n * (N + k) > self.CACHE_ENTRIES:
                self._slot[:] = -1
                N, new, k = 0, cols, len(cols)
            if N + k > self._gram_cache.shape[1]:
                capacity = min(max(2 * (N + k), 64), self.X.shape[1])
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
            return ((self._sqrt_s * weighted_residual) @ self.X.X)[None, :]
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
            Q = None
            Xc = self.X.take(cols)

            def value_grad(W, b):
                residual = Xc.dot(W[0]) - y
                sr = s * residual
                return 0.5 * sr @ residual, Xc.rdot(sr)[None, :], None

        def hess_w(W, b):
            return Q if Q is not None else Xc.weighted_gram(s)
        return value_grad, hess_w


class BinaryLogistic:
    """Weighted logistic loss, labels in {0, 1}, one output (X dense or sparse)."""

    fits_intercept_in_solver = True
    has_hessian = True

    def __init__(self, X, y, sample_weight):
        self.X, self.y, self.s = Design(X), y, sample_weight
        self.labels = y.astype(np.intp)
        self.n_outputs = 1
        self.col_sq = self.X.weighted_sq_norms(sample_weight)

    def ridge_target(self):
        return (self.y - (self.s @ self.y))[:, None]

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


class MultinomialLogistic:
    """Weighted multinomial (softmax) loss, labels in 0..K-1, K outputs (X dense or sparse)."""

    fits_intercept_in_solver = True
    has_hessian = False  # the subproblem is solved by L-BFGS alone

    def __init__(self, X, y, sample_weight, n_classes):
        self.X, self.s, self.labels = Design(X), sample_weight, y
        self.Y = np.eye(n_classes)[y]
        self.n_outputs = n_classes
        self.col_sq = self.X.weighted_sq_norms(sample_weight)

    def ridge_target(self):
        return self.Y - (self.s @ self.Y)[None, :]

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


# --------------------------------------------------------------------------------------
# The gated subproblem on a working set of groups
# --------------------------------------------------------------------------------------
class _Subproblem:
    """Gated objective restricted to the columns of a working set of groups."""

    def __init__(self, datafit, groups, ws, alpha, D, fit_intercept):
        self.datafit, self.alpha, self.D = datafit, alpha, D
        self.K = datafit.n_outputs
        self.ws = ws  # group ids, penalized groups first
        self.cols = np.concatenate([groups.indices[j] for j in ws]) if len(ws) else np.zeros(0, int)
        self.m = len(self.cols)
        # local group id of each working-set column, and group weights
        self.local_group = np.repeat(np.arange(len(ws)), [len(groups.indices[j]) for j in ws])
        self.c = groups.weights[ws]
        self.pen = self.c > 0
        self.n_pen = int(self.pen.sum())
        assert np.all(self.pen[: self.n_pen]), "penalized groups must come first"
        self.c_col = self.c[self.local_group]
        self.pen_col = self.pen[self.local_group]
        self.pen_sizes = np.bincount(self.local_group, minlength=len(ws))[: self.n_pen]
        self.pen_starts = np.concatenate([[0], np.cumsum(self.pen_sizes)[:-1]]).astype(np.intp)
        self.m_pen = int(self.pen_sizes.sum())
        if datafit.n_outputs == 1:  # only the (single-output) Newton Hessian uses it
            self.membership = np.zeros((self.m_pen, self.n_pen))
            self.membership[np.arange(self.m_pen), self.local_group[: self.m_pen]] = 1.0
        self.value_grad_w, self.hess_w = datafit.restrict(self.cols)
        self.n_b = self.K if (fit_intercept and datafit.fits_intercept_in_solver) else 0

    # packing of (omega, gates, b) into one vector for L-BFGS
    def unpack(self, x):
        K, m, D = self.K, self.m, self.D
        omega = x[: K * m].reshape(K, m)
        gates = x[K * m: K * m + self.n_pen * (D - 1)].reshape(self.n_pen, D - 1)
        b = x[K * m + self.n_pen * (D - 1):] if self.n_b else np.zeros(self.K)
        return omega, gates, b

    def pack(self, omega, gates, b):
        return np.concatenate([omega.ravel(), gates.ravel(), b if self.n_b else []])

    def col_scale(self, gates):
        scale = np.ones(self.m)
        scale[: self.m_pen] = gate_product(gates)[self.local_group[: self.m_pen]]
        return scale

    def _group_sum(self, per_column):
        # working-set columns are stored group by group, penalized groups first
        return np.add.reduceat(per_column[: self.m_pen], self.pen_starts) if self.n_pen else per_column[:0]

    def objective(self, x):
        omega, gates, b = self.unpack(x)
        scale = self.col_scale(gates)
        loss, G, gb = self.value_grad_w(omega * scale, b)
        c = self.c[: self.n_pen]
        sq = self._group_sum((omega * omega).sum(0))
        odg = self._group_sum((omega * G).sum(0))
        two_a_D = 2.0 * self.alpha / self.D
        out = np.empty_like(x)
        Km = self.K * self.m
        out[:Km] = (G * scale + two_a_D * self.c_col * omega).ravel()
        # (D=2: the one gate's "other gates" product is 1)
        gate_grad = odg[:, None] if self.D == 2 else factor_gradients(odg, gates)
        out[Km: Km + gates.size] = (gate_grad + two_a_D * c[:, None] * gates).ravel()
        if self.n_b:
            out[Km + gates.size:] = gb
        return loss + factor_penalty(sq, gates, c, self.alpha, self.D), out

    def hessian(self, x):
        """Dense Hessian of the gated objective (single-output datafits).

        With ``w = omega * prod(gates)`` and ``J`` the Jacobian of ``(w, b)`` in the
        variables, it is ``J' H_w J`` plus the second-order terms of the product
        weighted by the gradient in ``w``, plus the penalty's ``2 alpha c / D``.
        """
        omega, gates, b = self.unpack(x)
        m, n_g, n_b, D = self.m, gates.size, self.n_b, self.D
        scale = self.col_scale(gates)
        W = omega * scale
        _, G, _ = self.value_grad_w(W, b)
        H_w = self.hess_w(W, b)
        n = m + n_g + n_b
        rest = factor_gradients(np.ones(self.n_pen), gates)  # prod of the other gates
        pc = np.arange(self.m_pen)
        lg = self.local_group[: self.m_pen]
        # gate k of every group: a strided slice of the variables (slices, not fancy
        # indexing, so that the blocks below are written in place)
        gate_k = [slice(m + k, m + n_g, D - 1) for k in range(D - 1)]
        # J' H_w J using the structure of J: diag(scale) on omega, and one column
        # per gate whose entries are omega_i * rest_jk on the columns of group j.
        A = H_w[:m, :m]
        H = np.zeros((n, n))
        np.multiply(A, scale[:, None], out=H[:m, :m])
        H[:m, :m] *= scale
        if self.n_pen:
            # P[i, j] = omega_i if column i is in group j: sums over groups become products
            P = self.membership * omega[0, : self.m_pen, None]
            A_om = A[:, : self.m_pen] @ P
            N = P.T @ A_om[: self.m_pen]
            scaled_A_om = scale[:, None] * A_om
            for k in range(D - 1):
                H[:m, gate_k[k]] = scaled_A_om * rest[None, :, k]
                H[gate_k[k], :m] = H[:m, gate_k[k]].T
                for l in range(D - 1):
                    H[gate_k[k], gate_k[l]] = N * rest[:, k, None] * rest[None, :, l]
        if n_b:
            c, e = H_w[:m, m:], H_w[m:, m:]
            H[:m, m + n_g:] = scale[:, None] * c
            H[m + n_g:, :m] = H[:m, m + n_g:].T
            if self.n_pen:
                cg = P.T @ c[: self.m_pen]
                for k in range(D - 1):
                    H[gate_k[k], m + n_g:] = cg * rest[:, k, None]
                    H[m + n_g:, gate_k[k]] = H[gate_k[k], m + n_g:].T
            H[m + n_g:, m + n_g:] = e
        for k in range(D - 1):  # d2 w_i / d omega_i d gamma_jk = prod of the other gates
            cross = G[0, : self.m_pen] * rest[lg, k]
            gate_col = m + lg * (D - 1) + k
            H[pc, gate_col] += cross
            H[gate_col, pc] += cross
        if D >= 3:  # d2 w / d gamma_jk d gamma_jl, weighted by omega_j . G_j
            odg = self._group_sum(omega[0] * G[0])
            idx = m + np.arange(self.n_pen) * (D - 1)
            for k in range(D - 1):
                for l in range(D - 1):
                    if k != l:
                        others = [d for d in range(D - 1) if d not in (k, l)]
                        pr = gates[:, others].prod(-1) if others else np.ones(self.n_pen)
                        H[idx + k, idx + l] += odg * pr
        two_a_D = 2.0 * self.alpha / self.D
        H.flat[: m * (n + 1): n + 1] += two_a_D * self.c_col
        H.flat[m * (n + 1): (m + n_g) * (n + 1): n + 1] += two_a_D * np.repeat(self.c[: self.n_pen], D - 1)
        return H

    def start(self, W, b):
        """Balanced factorization of the effective coefficients W (K, m)."""
        norms = np.sqrt(np.bincount(self.local_group, (W**2).sum(0), minlength=len(self.ws)))[: self.n_pen]
        omega_scale, gate_value = balanced_factors(norms, self.D)
        omega = W.copy()
        omega[:, self.pen_col] *= omega_scale[self.local_group[self.pen_col]]
        gates = np.repeat(gate_value[:, None], self.D - 1, axis=1)
        return self.pack(omega, gates, b)

    def effective(self, x):
        omega, gates, b = self.unpack(x)
        return omega * self.col_scale(gates), b


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------
def solve(datafit, groups, alpha, D, coef_init=None, intercept_init=None, fit_intercept=True,
          tol=1e-6, max_iter=100, seed=0, verbose=0):
    """Minimize the gated objective; return ``(coef (K, p), intercept (K,), n_iter, info)``.

    ``info`` holds ``converged`` (bool) and ``kkt`` (the final optimality violation).
    A small problem (``n_samples x n_features`` at most SINGLE_THREAD_ENTRIES) is
    solved with one BLAS thread; a larger one keeps the threads for the products
    with all of X, and its subproblems get one thread while they are small.
    """
    with _blas_threads(datafit.X.shape[0] * datafit.X.shape[1]):
        return _solve(datafit, groups, alpha, D, coef_init, intercept_init, fit_intercept, tol, max_iter,
                      seed, verbose)


def _solve(datafit, groups, alpha, D, coef_init, intercept_init, fit_intercept, tol, max_iter, seed, verbose):
    K, p = datafit.n_outputs, groups.n_features
    W = np.zeros((K, p)) if coef_init is None else np.array(coef_init, dtype=float).reshape(K, p)
    b = np.zeros(K) if intercept_init is None else np.array(intercept_init, dtype=float).reshape(K)
    pen_groups = np.flatnonzero(groups.penalized)
    unpen_groups = np.flatnonzero(~groups.penalized)

    if D >= 3 and coef_init is None:
        W = _dense_start(datafit, groups, alpha, seed)

    if alpha == 0:
        # Nothing to gate: every group is unpenalized, and the plain smooth problem
        # (least squares or logistic regression) is solved directly.
        W, b, n_iter, grad_max = fit_unpenalized(datafit, replace(groups, weights=np.zeros(groups.n_groups)),
                                                 fit_intercept, tol)
        converged = grad_max <= tol
        if not converged:
            warnings.warn(f"The unpenalized fit (alpha=0) did not reach tol={tol:g} (gradient {grad_max:.3g}); "
                          "the data may be separable: use alpha > 0.", ConvergenceWarning)
        return W, b, n_iter, {"converged": converged, "kkt": grad_max}

    if D == 2 and not np.any(W[:, np.isin(groups.feature_group, pen_groups)]):
        # Start from the fitted intercept and unpenalized groups, so that the
        # optimality test of the zero groups below is meaningful from the start.
        W, b, _, _ = fit_unpenalized(datafit, groups, fit_intercept, tol)

    # Scale of the read-out threshold: the largest group norm seen, the start included,
    # so that a model whose groups all collapse is read out as empty.
    reference_norm = groups.group_norms(W).max(initial=0.0)
    faded = np.zeros(groups.n_groups, dtype=bool)
    revived = np.zeros(groups.n_groups, dtype=bool)
    restarts = np.zeros(groups.n_groups, dtype=int)
    inner_iters = 0
    stall_scale = 1.0
    converged = False
    violation = np.inf
    ws_size = 0
    for outer in range(max_iter):
        norms = groups.group_norms(W)
        active = pen_groups[norms[pen_groups] > 0]
        if D == 2:
            G = datafit.gradient(W, b)
            # KKT-verified read-out of tiny groups (norm below KKT_READOUT_THRESHOLD times
            # the largest). At the optimum a nonzero group has ||G_j|| = alpha c_j, so a
            # tiny group is set to exactly zero only when its gradient says otherwise:
            # - ||G_j|| < alpha c_j - tol: it is zero at the optimum (the gated solver
            #   only approaches 0). Not repeated for a group the KKT test brought back.
            # - ||G_j|| > alpha c_j + tol: it should grow but sits near the gated saddle
            #   at 0 (tiny omega_j and gate have vanishing gradients, e.g. after a warm
            #   start); from zero the KKT test re-enters it at a proximal-gradient step.
            #   At most MAX_RESTARTS times per group, so the loop terminates.
            gnorm = groups.group_norms(G)
            tiny = (groups.penalized & (norms > 0)
                    & (norms <= KKT_READOUT_THRESHOLD * norms.max(initial=0.0)))
            below = gnorm < alpha * groups.weights - tol
            stuck = (gnorm > alpha * groups.weights + tol) & (restarts < MAX_RESTARTS)
            fading = tiny & ((below & ~revived) | stuck)
            restarts += tiny & stuck
            if fading.any():
                faded |= fading
                W[:, np.isin(groups.feature_group, np.flatnonzero(fading))] = 0.0
                G = datafit.gradient(W, b)
                norms = groups.group_norms(W)
                active = pen_groups[norms[pen_groups] > 0]
            violation, kkt = _kkt_group_lasso(G, W, groups, alpha, norms)
            revived |= faded & (kkt > tol)
            if violation <= tol:
                converged = True
                break
            # working set: current support plus the worst violators, growing geometrically
            ws_size = max(WS_GROWTH * len(active), 10)
            candidates = pen_groups[np.argsort(-kkt[pen_groups], kind="stable")]
            new = [j for j in candidates if norms[j] == 0 and kkt[j] > tol][: max(ws_size - len(active), 1)]
            cols = np.concatenate([groups.indices[j] for j in new] or [np.zeros(0, dtype=int)])
            owner = np.repeat(np.arange(len(new)), [len(groups.indices[j]) for j in new])
            _prox_step_start(W, G, groups, new, alpha, _block_lipschitz(datafit, cols, owner, len(new)))
            if NEAR:
                # groups on the edge (||G_j|| within NEAR of alpha c_j) often turn into
                # violators once the others move: enter them now, from a small start
                # (not the groups just read out as zero, which would cycle)
                near = np.flatnonzero(groups.penalized & (norms == 0) & (kkt <= tol) & ~faded
                                      & (gnorm >= (1 - NEAR) * alpha * groups.weights))
                near = near[~np.isin(near, new)]
                # the closest to the edge first, within the working-set size
                near = near[np.argsort(-gnorm[near] / groups.weights[near], kind="stable")]
                near = near[: max(ws_size - len(active) - len(new), 0)]
                small = 1e-3 * norms.max(initial=1.0)
                for j in near:
                    idx = groups.indices[j]
                    W[:, idx] = -small * G[:, idx] / max(gnorm[j], 1e-300)
                new = list(new) + near.tolist()
            ws = np.concatenate([active, np.asarray(new, dtype=int)]).astype(int)
        else:
            ws = active
        sub = _Subproblem(datafit, groups, np.concatenate([np.sort(ws), unpen_groups]).astype(int),
                          alpha, D, fit_intercept)
        if sub.m == 0 and sub.n_b == 0:
            converged, violation = True, 0.0
            break
        # Early working sets are solved coarsely (their support is provisional);
        # the tolerance tightens with the outer optimality violation.
        # (With Newton available a tight solve costs one or two extra steps only.)
        newton_ok = datafit.has_hessian
        inner_tol = tol if D >= 3 or newton_ok or not np.isfinite(violation) else max(COARSE * violation, tol)
        # D=2: at a balanced point the gated gradient of a group is its KKT residual
        # times its gate, sqrt(||w_j||); a subproblem that met its tolerance while a
        # small live group still violates KKT made no step: tighten it (STALL_TIGHTEN)
        # until it does, instead of repeating the same solve.
        x, jac, n_iter = _minimize_sub(sub, sub.start(W[:, sub.cols], b), inner_tol * stall_scale)
        if D == 2:
            stall_scale = stall_scale * STALL_TIGHTEN if n_iter == 0 else 1.0
        inner_iters += n_iter
        W_ws, b_ws = sub.effective(x)
        W[:] = 0.0
        W[:, sub.cols] = W_ws
        if sub.n_b:
            b = b_ws
        if D >= 3:
            # read-out: groups that collapsed to (numerically) zero become exact zeros
            # (D=2 reads out at the top of the loop, verified by the KKT conditions)
            norms = groups.group_norms(W)
            reference_norm = max(reference_norm, norms.max())
            dead = groups.penalized & (norms <= SUPPORT_THRESHOLD * max(reference_norm, np.finfo(float).tiny))
            W[:, np.isin(groups.feature_group, np.flatnonzero(dead))] = 0.0
        n_live = int((groups.group_norms(W)[pen_groups] > 0).sum())
        if verbose:
            print(f"[skdgating] outer {outer}: working set {len(ws)} groups, {n_live} nonzero, "
                  f"{n_iter} solver iterations")
        if D >= 3:
            # zero groups are absorbing: done once no group died and the gradient is small
            violation = float(np.max(np.abs(jac), initial=0.0))
            if n_live == len(active) and violation <= tol:
                converged = True
                break
    if not converged:
        warnings.warn(
            f"The D-Gating solver did not reach tol={tol:g} in max_iter={max_iter} outer "
            f"iterations (optimality violation {violation:.3g}); increase max_iter or tol.",
            ConvergenceWarning,
        )
    return W, b, inner_iters, {"converged": converged, "kkt": violation}


def fit_unpenalized(datafit, groups, fit_intercept, tol=1e-10):
    """Fit the intercept and the unpenalized groups with every penalized group at zero.

    Returns ``(W, b, n_iter, largest gradient entry)``.
    """
    K, p = datafit.n_outputs, groups.n_features
    W, b = np.zeros((K, p)), np.zeros(K)
    sub = _Subproblem(datafit, groups, np.flatnonzero(~groups.penalized), 0.0, 2, fit_intercept)
    n_iter, grad_max = 0, 0.0
    if sub.m or sub.n_b:
        x, g, n_iter = _minimize_sub(sub, sub.pack(np.zeros((K, sub.m)), np.zeros((0, 1)), b), tol)
        W[:, sub.cols], b_ws = sub.effective(x)
        b = b_ws if sub.n_b else b
        grad_max = float(np.max(np.abs(g), initial=0.0))
    return W, b, n_iter, grad_max


# D=2: a group whose balanced-Newton step passes within COLLAPSE times its norm of
# zero is set to zero (where zero is optimal for it) before the next step.
COLLAPSE = 0.1
POLISH_TRIES = 3  # balanced-Newton attempts per Newton run in the factors
PROGRESS_STEPS = 5  # balanced Newton gives up if this many steps did not cut the gradient 10x
CHORD_CONTRACTION = 0.25  # a chord step is kept when it cuts the gradient this much
LBFGS_WARMUP = 10  # L-BFGS steps per round before Newton is tried
MAX_ROUNDS = 30
MAX_NEWTON_SIZE = 1500  # beyond this many variables a dense Hessian costs more than it saves
# A subproblem whose data (the Gram matrix, or the restricted design when n_samples
# is smaller) has at most this many entries runs with one BLAS thread: each product
# then takes about a millisecond or less, which a thread pool's wake-up and barrier
# cost as much as, and on a loaded machine (a thread descheduled at the barrier)
# many times more. Measured by bench_linear.py: 10-140x slower fits in the default
# environment of a busy 2-core machine than under one thread, before this limit.
SINGLE_THREAD_ENTRIES = 4_000_000
_THREADPOOLS = None  # threadpoolctl controller, created on first use (it scans the loaded libraries)


def _blas_threads(entries):
    """A context: one BLAS thread for products with at most SINGLE_THREAD_ENTRIES entries."""
    global _THREADPOOLS
    if entries > SINGLE_THREAD_ENTRIES:
        return nullcontext()
    if _THREADPOOLS is None:
        _THREADPOOLS = ThreadpoolController()
    return _THREADPOOLS.limit(limits=1, user_api="blas")


def _blas_threads_for(sub):
    """One BLAS thread for a small subproblem (its Gram matrix, or its restricted design)."""
    n_rows = min(sub.m, sub.datafit.X.shape[0]) if sub.datafit.n_outputs == 1 else sub.datafit.X.shape[0]
    return _blas_threads(n_rows * sub.m)


def _minimize_sub(sub, x0, tol):
    """Minimize a subproblem: L-BFGS to reach the basin, then safeguarded Newton.

    Returns ``(x, gradient, n_iterations)``. L-BFGS alone needs hundreds of steps to
    settle the near-degenerate groups (those whose gradient is close to ``alpha c_j``);
    Newton converges quadratically there. Where the Hessian is not yet positive
    definite (the gated objective is non-convex), another round of L-BFGS follows.
    """
    with _blas_threads_for(sub):
        return _minimize_sub_steps(sub, x0, tol)


def _minimize_sub_steps(sub, x0, tol):
    gtol = tol * 1e-2
    use_newton = sub.hess_w is not None and sub.K == 1 and len(x0) <= MAX_NEWTON_SIZE
    x, n_iter = x0, 0
    for _ in range(MAX_ROUNDS if use_newton else 1):
        res = minimize(sub.objective, x, jac=True, method="L-BFGS-B",
                       options=dict(maxiter=LBFGS_WARMUP if use_newton else 10_000, maxcor=20,
                                    ftol=1e-16, gtol=gtol))
        x, g, n_iter = res.x, res.jac, n_iter + res.nit
        if not use_newton or np.max(np.abs(g), initial=0.0) <= gtol:
            break
        x, g, n_newton, ok = _newton(sub, x, gtol, polish=sub.D == 2 and sub.n_pen > 0)
        n_iter += n_newton
        if ok:
            break
    return x, g, n_iter


def _shifted_cholesky(H):
    """Cholesky factor of ``H + mu I`` for the first ``mu`` in ``0, tau, 4 tau, ...`` that works.

    Near a group on the edge of the support the gated Hessian can be slightly
    indefinite; the shift (Levenberg-Marquardt) keeps the step a descent direction.
    Trial factorizations (Nocedal and Wright, Algorithm 3.3) start at a shift of
    1e-3 times the largest diagonal entry: on these Hessians the negative curvature
    is small against the diagonal, and a factorization costs less than an
    eigenvalue computation. Returns the upper factor (LAPACK, called directly: the
    matrices are small and the wrappers' checks cost as much), or None.
    """
    factor, info = dpotrf(H, lower=False, clean=False)
    if info == 0:
        return factor
    diag = np.diag(H)
    scale = max(np.max(np.abs(diag)), 1e-300)
    mu = max(1e-3 * scale, -np.min(diag) + 1e-3 * scale)
    for _ in range(40):
        shifted = H.copy()
        shifted.flat[:: len(H) + 1] += mu
        factor, info = dpotrf(shifted, lower=False, clean=False, overwrite_a=True)
        if info == 0:
            return factor
        mu *= 4.0
    return None


def _cho_solve(factor, g):
    return dpotrs(factor, g, lower=False)[0]


def _newton(sub, x, gtol, max_steps=50, polish=False):
    """Safeguarded Newton with backtracking; returns ``(x, gradient, steps, converged)``.

    After a full Newton step the previous factorization is tried once more (a chord
    step): it is kept when it cuts the gradient by CHORD_CONTRACTION, which near the
    solution saves building and factorizing the Hessian. With ``polish`` (D=2), each
    full step hands over to :func:`_balanced_newton`, until it has been unsettled
    POLISH_TRIES times.
    """
    f, g = sub.objective(x)
    factor, reuse = None, False
    polish_tries = POLISH_TRIES if polish else 0
    for step in range(max_steps):
        g_max = np.max(np.abs(g))
        if g_max <= gtol:
            return x, g, step, True
        if reuse:
            d = -_cho_solve(factor, g)
            f_new, g_new = sub.objective(x + d)
            if f_new <= f + 1e-4 * (g @ d) and np.max(np.abs(g_new)) <= CHORD_CONTRACTION * g_max:
                x, f, g = x + d, f_new, g_new
                continue
        factor = _shifted_cholesky(sub.hessian(x))
        if factor is None:
            return x, g, step, False
        d = -_cho_solve(factor, g)
        slope = g @ d
        t = 1.0
        while True:
            f_new, g_new = sub.objective(x + t * d)
            if f_new <= f + 1e-4 * t * slope or (
                    f_new <= f + 1e-12 * abs(f) and np.max(np.abs(g_new)) < g_max):
                break
            t *= 0.5
            if t < 1e-8:
                return x, g, step, False
        reuse = t == 1.0
        x, f, g = x + t * d, f_new, g_new
        if polish_tries and reuse:
            x_pol, g_pol, n_pol, outcome = _balanced_newton(sub, x, gtol)
            if outcome == "converged":
                return x_pol, g_pol, step + 1 + n_pol, True
            # "unsettled": tried again after a later full step, a few times at most
            polish_tries = polish_tries - 1 if outcome == "unsettled" else 0
    return x, g, max_steps, np.max(np.abs(g)) <= gtol


def _balanced_newton(sub, x, gtol, max_steps=15):
    r"""Newton steps on the gated objective over its balanced points (D=2).

    Returns ``(x, gradient, steps, outcome)``. The outcome is ``"converged"``;
    ``"unsettled"``, when a line search fails (worth another try once Newton in the
    factors has moved on); or ``"failed"``, when the steps do not converge fast
    (PROGRESS_STEPS steps without a 10x smaller gradient, or ``max_steps``), or a
    group set to zero is found nonzero at the end a second time. Unless converged,
    ``x`` is the input and the gradient ``None``.

    Minimized over the rescalings :math:`(t\,\omega_j, \gamma_j / t)`, which keep
    :math:`w_j` fixed, the gated penalty of a group is :math:`\alpha c_j \|w_j\|` (AM-GM,
    attained at balance), and every stationary point of the gated objective is
    balanced. On the balanced points the gated objective is therefore

    .. math:: F(w, b) = L(w, b) + \alpha \sum_j c_j \|w_j\|,

    smooth and convex while no group is zero. Its Newton steps converge
    quadratically where those in the factors slow to about 3x per step (a group
    that tends to zero with its gradient close to ``alpha c_j``). Each iterate is
    lifted to balanced factors (:meth:`_Subproblem.start`, function-preserving, so
    the gated objective there equals ``F``), and the stop test is the gated
    gradient at that point.

    ``F`` has a kink where a group is zero. Groups below the read-out threshold, and
    groups whose Newton step passes within ``COLLAPSE`` times their norm of zero,
    are set to exactly zero where zero is optimal for them given the others
    (:math:`\|\nabla_j L\| \le \alpha c_j` there, which also means that ``F`` goes
    down). At convergence the zero groups are checked again, as in the working-set
    loop: a violator re-enters once, at a proximal-gradient step from zero.
    """
    m, m_pen, n_b = sub.m, sub.m_pen, sub.n_b
    local = sub.local_group[:m_pen]
    ac = sub.alpha * sub.c[: sub.n_pen]
    # within-group pairs of penalized columns: where the rank-one Hessian terms go
    pair_rows, pair_cols = np.nonzero(local[:, None] == local[None, :])

    def split(v):
        return v[None, :m], (v[m:] if n_b else np.zeros(sub.K))

    def value_grad(v):
        """``F``, its gradient (the smooth part's alone at zero groups) and the group norms."""
        W, b = split(v)
        loss, G, gb = sub.value_grad_w(W, b)
        norms = np.sqrt(sub._group_sum(W[0] * W[0]))
        grad = np.empty_like(v)
        grad[:m] = G[0]
        grad[:m_pen] += np.divide(ac, norms, out=np.zeros_like(ac), where=norms > 0)[local] * W[0, :m_pen]
        if n_b:
            grad[m:] = gb
        return loss + ac @ norms, grad, norms

    def zero_optimal(grad, which):
        """Of the zero groups ``which``, those for which zero is optimal."""
        return which & (np.sqrt(sub._group_sum(grad[:m_pen] ** 2)) <= ac)

    def set_to_zero(v, which):
        v = v.copy()
        v[:m_pen][which[local]] = 0.0
        return (v, *value_grad(v))

    omega, gates, b = sub.unpack(x)
    v = np.concatenate([(omega * sub.col_scale(gates))[0], b if n_b else []])
    f, grad, norms = value_grad(v)
    tiny = (norms > 0) & (norms <= KKT_READOUT_THRESHOLD * norms.max(initial=0.0))
    if tiny.any():
        # as the working-set loop reads them out: only where zero is optimal
        _, _, grad_zero, _ = set_to_zero(v, tiny)
        v, f, grad, norms = set_to_zero(v, zero_optimal(grad_zero, tiny))
    reentered = np.zeros(sub.n_pen, dtype=bool)
    g_history = []
    for step in range(max_steps):
        live = norms > 0
        x_bal = sub.start(*split(v))
        g_bal = sub.objective(x_bal)[1]
        g_history.append(np.max(np.abs(g_bal), initial=0.0))
        if step >= PROGRESS_STEPS and g_history[-1] > 0.1 * g_history[-1 - PROGRESS_STEPS]:
            return x, None, step, "failed"  # not converging fast: not the region for these steps
        if g_history[-1] <= gtol:
            # zero must still be optimal for the groups set to zero on the way; those
            # for which it is not re-enter once, at a proximal-gradient step from zero
            grad_norms = np.sqrt(sub._group_sum(grad[:m_pen] ** 2))
            wrong = ~live & (grad_norms > ac + gtol)
            if not wrong.any():
                return x_bal, g_bal, step, "converged"
            if np.any(wrong & reentered):
                return x, None, step, "failed"
            reentered |= wrong
            lipschitz = _block_lipschitz(sub.datafit, sub.cols[:m_pen], local, sub.n_pen)
            shrink = np.where(wrong, _prox_shrink(grad_norms, ac, lipschitz), 0.0)
            v = v.copy()
            v[:m_pen] -= shrink[local] * grad[:m_pen]
            f, grad, norms = value_grad(v)
            continue
        free = np.ones(len(v), dtype=bool)
        free[:m_pen] = live[local]
        # Hessian on the nonzero groups: the smooth part's plus the penalty's
        # alpha c_j / ||w_j|| (I - u_j u_j'), u_j = w_j / ||w_j||
        W, b = split(v)
        H = np.array(sub.hess_w(W, b))  # a copy: least squares returns its cached Gram
        curvature = np.divide(ac, norms, out=np.zeros_like(ac), where=live)[local]
        u = W[0, :m_pen] * np.divide(1.0, norms, out=np.zeros_like(norms), where=live)[local]
        H.flat[: m_pen * (len(H) + 1): len(H) + 1] += curvature
        H[pair_rows, pair_cols] -= curvature[pair_rows] * u[pair_rows] * u[pair_cols]
        factor = _shifted_cholesky(H[np.ix_(free, free)])
        if factor is None:
            return x, None, step, "failed"
        d = np.zeros_like(v)
        d[free] = -_cho_solve(factor, grad[free])
        # groups whose step passes within COLLAPSE ||w_j|| of zero, the kink of F
        w_d = sub._group_sum(v[:m_pen] * d[:m_pen])
        d_d = sub._group_sum(d[:m_pen] ** 2)
        t_near = np.clip(np.divide(-w_d, d_d, out=np.zeros_like(d_d), where=d_d > 0), 0.0, 1.0)
        closest = np.sqrt(np.maximum(norms**2 + 2 * t_near * w_d + t_near**2 * d_d, 0.0))
        collapsing = live & (closest < COLLAPSE * norms)
        if collapsing.any():
            _, _, grad_zero, _ = set_to_zero(v, collapsing)
            to_zero = zero_optimal(grad_zero, collapsing)
            if to_zero.any():
                v, f, grad, norms = set_to_zero(v, to_zero)
                continue
        slope, g_max = grad @ d, np.max(np.abs(grad[free]))
        t = 1.0
        while True:
            f_new, grad_new, norms_new = value_grad(v + t * d)
            if f_new <= f + 1e-4 * t * slope or (
                    f_new <= f + 1e-12 * abs(f) and np.max(np.abs(grad_new[free])) < g_max):
                break
            t *= 0.5
            if t < 0.25:  # far from where F is smooth enough for Newton
                return x, None, step, "unsettled"
        v, f, grad, norms = v + t * d, f_new, grad_new, norms_new
    return x, None, max_steps, "failed"


def _kkt_group_lasso(G, W, groups, alpha, norms):
    """Per-group violation of the group-lasso optimality conditions (D=2)."""
    gnorm = groups.group_norms(G)
    kkt = np.zeros(groups.n_groups)
    pen = groups.penalized
    zero = pen & (norms == 0)
    kkt[zero] = np.maximum(gnorm[zero] - alpha * groups.weights[zero], 0.0)
    live = ~zero
    if live.any():
        # gradient of the smooth part plus alpha c_j w_j / ||w_j|| must vanish
        scale = np.zeros(groups.n_groups)
        nz = pen & (norms > 0)
        scale[nz] = alpha * groups.weights[nz] / norms[nz]
        resid = groups.group_norms(G + W * scale[groups.feature_group][None, :])
        kkt[live] = resid[live]
    return float(kkt.max(initial=0.0)), kkt


def _prox_step_start(W, G, groups, new, alpha, lipschitz):
    """Start new working-set groups at one block proximal-gradient step from zero.

    It is nonzero exactly when the group violates its KKT condition, so the gated
    factors never start at the critical point 0. ``lipschitz`` holds one bound per
    group of ``new``.
    """
    for j, lip in zip(new, lipschitz):
        idx = groups.indices[j]
        g = G[:, idx]
        W[:, idx] = -_prox_shrink(np.linalg.norm(g), alpha * groups.weights[j], lip) * g


def _prox_shrink(grad_norm, threshold, lipschitz):
    """A block proximal-gradient step from zero, as a multiple of minus the gradient."""
    return np.maximum(grad_norm - threshold, 0.0) / (lipschitz * np.maximum(grad_norm, 1e-300))


def _block_lipschitz(datafit, cols, owner, n_blocks):
    """Upper bounds of the blocks' Lipschitz constants: the traces of their weighted Grams.

    ``cols`` are feature indices and ``owner`` the block (0..n_blocks-1) of each.
    """
    return np.maximum(np.bincount(owner, datafit.col_sq[cols], minlength=n_blocks), 1e-12)


def _dense_start(datafit, groups, alpha, seed):
    """Dense starting point for D >= 3: a ridge fit, slightly perturbed.

    Every group starts nonzero (zero is absorbing for D >= 3). The perturbation,
    seeded by ``seed``, breaks ties between identical columns. The ridge is
    ``alpha``, at least 1e-3 times the mean weighted squared column norm.
    """
    K, p = datafit.n_outputs, groups.n_features
    ridge = max(alpha, 1e-3 * datafit.col_sq.sum() / max(p, 1), 1e-8)
    W = _ridge_solution(datafit.X, datafit.s, datafit.ridge_target(), ridge).T
    rng = np.random.default_rng(seed)
    scale = np.abs(W).mean() + 1e-12
    W = W + 1e-3 * scale * rng.standard_normal(W.shape)
    return W.reshape(K, p)
