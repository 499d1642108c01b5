"""Minimization of a working-set subproblem: L-BFGS to reach the basin, then
safeguarded Newton with the analytic gated Hessian, and (D=2) Newton over the
balanced points of the gated objective, where it converges quadratically."""

import numpy as np
from scipy.linalg.lapack import dpotrf, dpotrs
from scipy.optimize import minimize

from .constants import (CHORD_CONTRACTION, COLLAPSE, GTOL_FACTOR, KKT_READOUT_THRESHOLD, LBFGS_WARMUP,
                        MAX_NEWTON_SIZE, MAX_ROUNDS, POLISH_TRIES, PROGRESS_STEPS)
from .._threads import thread_limits
from .prox import add_group_norm_hessian_, block_lipschitz, prox_shrink

def blas_threads_for(sub):
    """Threads for a subproblem's products (its Gram matrix, or its restricted design),
    by the package's one rule (never more than the fit's own pool, usually one)."""
    n_rows = min(sub.m, sub.datafit.X.shape[0]) if sub.datafit.n_outputs == 1 else sub.datafit.X.shape[0]
    return thread_limits(None, 2.0 * n_rows * sub.m)


def minimize_subproblem(sub, x0, tol):
    """Minimize a subproblem: L-BFGS to reach the basin, then safeguarded Newton.

    Returns ``(x, gradient, n_iterations)``. L-BFGS alone needs hundreds of steps to
    settle the near-degenerate groups (those whose gradient is close to ``alpha c_j``);
    Newton converges quadratically there. Where the Hessian is not yet positive
    definite (the gated objective is non-convex), another round of L-BFGS follows.
    """
    with blas_threads_for(sub):
        return _minimize_steps(sub, x0, tol)


def _minimize_steps(sub, x0, tol):
    gtol = tol * GTOL_FACTOR
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
            x_pol, g_pol, n_pol, outcome = balanced_newton(sub, x, gtol)
            if outcome == "converged":
                return x_pol, g_pol, step + 1 + n_pol, True
            # "unsettled": tried again after a later full step, a few times at most
            polish_tries = polish_tries - 1 if outcome == "unsettled" else 0
    return x, g, max_steps, np.max(np.abs(g)) <= gtol


def balanced_newton(sub, x, gtol, max_steps=15):
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
    lifted to balanced factors (:meth:`Subproblem.start`, function-preserving, so
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
            lipschitz = block_lipschitz(sub.datafit, sub.cols[:m_pen], local, sub.n_pen)
            shrink = np.where(wrong, prox_shrink(grad_norms, ac, lipschitz), 0.0)
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
        add_group_norm_hessian_(H, W[0, :m_pen], local, ac, norms, (pair_rows, pair_cols))
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
