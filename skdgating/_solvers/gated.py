"""The D>=3 driver: the non-convex gated objective, dense start, absorbing zeros.

Zero is a local minimum of every group (the induced penalty has infinite slope
at 0), so no optimality test can bring a group back. The solver starts dense
(every group nonzero, from a ridge fit), and removes a group once its norm falls
below SUPPORT_THRESHOLD times the largest group norm seen; zero groups are
absorbing, so this loses nothing. It stops when the working set is stable and the
gated gradient is below ``tol``.
"""

import numpy as np

from .constants import RIDGE_START_ITERATIONS, RIDGE_START_RTOL, SUPPORT_THRESHOLD
from .newton import minimize_subproblem
from .subproblem import Subproblem


def solve_gated(datafit, groups, alpha, D, W, b, tol, max_iter, verbose):
    """Minimize the D>=3 objective from ``(W, b)``; returns ``(W, b, n_iter, converged, violation)``."""
    pen_groups = np.flatnonzero(groups.penalized)
    unpen_groups = np.flatnonzero(~groups.penalized)
    # Scale of the read-out threshold: the largest group norm seen, the start included,
    # so that a model whose groups all collapse is read out as empty.
    reference_norm = groups.group_norms(W).max(initial=0.0)
    inner_iters, converged, violation = 0, False, np.inf
    for outer in range(max_iter):
        norms = groups.group_norms(W)
        active = pen_groups[norms[pen_groups] > 0]
        sub = Subproblem(datafit, groups, np.concatenate([active, unpen_groups]).astype(int), alpha, D)
        if sub.m == 0 and sub.n_b == 0:
            converged, violation = True, 0.0
            break
        x, jac, n_iter = minimize_subproblem(sub, sub.start(W[:, sub.cols], b), tol)
        inner_iters += n_iter
        W, b = sub.scatter(x, W, b)
        # read-out: groups that collapsed to (numerically) zero become exact zeros
        norms = groups.group_norms(W)
        reference_norm = max(reference_norm, norms.max())
        dead = groups.penalized & (norms <= SUPPORT_THRESHOLD * max(reference_norm, np.finfo(float).tiny))
        W[:, np.isin(groups.feature_group, np.flatnonzero(dead))] = 0.0
        n_live = int((groups.group_norms(W)[pen_groups] > 0).sum())
        if verbose:
            print(f"[skdgating] outer {outer}: working set {len(active)} groups, {n_live} nonzero, "
                  f"{n_iter} solver iterations")
        # zero groups are absorbing: done once no group died and the gradient is small
        violation = float(np.max(np.abs(jac), initial=0.0))
        if n_live == len(active) and violation <= tol:
            converged = True
            break
    return W, b, inner_iters, converged, violation


def dense_start(datafit, groups, alpha, seed):
    """Dense starting point for D >= 3: a ridge fit, slightly perturbed.

    Every group starts nonzero (zero is absorbing for D >= 3). The perturbation,
    seeded by ``seed``, breaks ties between identical columns. The ridge is
    ``alpha``, at least 1e-3 times the mean weighted squared column norm (a ridge
    that keeps the system well conditioned without shrinking much).
    """
    K, p = datafit.n_outputs, groups.n_features
    ridge = max(alpha, 1e-3 * datafit.col_sq.sum() / max(p, 1), 1e-8)
    W = ridge_start(datafit.X, datafit.s, datafit.ridge_target(), ridge, datafit.col_sq).T
    rng = np.random.default_rng(seed)
    scale = np.abs(W).mean() + 1e-12
    W = W + 1e-3 * scale * rng.standard_normal(W.shape)
    return W.reshape(K, p)


def ridge_start(design, s, target, ridge, col_sq):
    """``(X'SX + ridge I)^{-1} X'S target``, shape (p, K), by preconditioned conjugate gradients.

    Matrix-free: each iteration is one product with X and one with X', so the
    start costs ``O(np)`` time per iteration and ``O(n + p)`` memory, where forming
    the smaller Gram matrix took ``min(n, p)^2`` memory (as large as X on square
    data) and ``n p min(n, p)`` flops. Only a start is needed (the D>=3 solver
    then descends from it), so CG stops at RIDGE_START_RTOL or after
    RIDGE_START_ITERATIONS. The preconditioner is the diagonal ``col_sq + ridge``.
    """
    def apply(V):
        return design.rdot(s[:, None] * design.dot(V)) + ridge * V

    rhs = design.rdot(s[:, None] * target)
    inverse_diagonal = 1.0 / (col_sq + ridge)[:, None]
    W, R = np.zeros_like(rhs), rhs.copy()
    Z = inverse_diagonal * R
    P, rz = Z.copy(), (R * Z).sum(0)
    stop = RIDGE_START_RTOL * np.linalg.norm(rhs)
    for _ in range(RIDGE_START_ITERATIONS):
        if np.linalg.norm(R) <= stop:
            break
        AP = apply(P)
        step = rz / np.maximum((P * AP).sum(0), np.finfo(float).tiny)
        W += step * P
        R -= step * AP
        Z = inverse_diagonal * R
        rz, rz_old = (R * Z).sum(0), rz
        P = Z + (rz / np.maximum(rz_old, np.finfo(float).tiny)) * P
    return W
