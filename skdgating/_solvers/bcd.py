r"""The D=2 working-set solver in ``w`` directly: proximal Newton with block coordinate descent.

Why ``w`` and not the gated factors: minimized over the rescalings
:math:`(t\,\omega_j, \gamma_j / t)`, which keep :math:`w_j = \omega_j \gamma_j` fixed,
the D=2 gated penalty :math:`\frac{\alpha c_j}{2}(\|\omega_j\|^2 + \gamma_j^2)` is
:math:`\alpha c_j \|w_j\|` (AM-GM, attained at balance; METHOD.md section 1.4), and every
local minimizer of the gated objective is balanced. So the D=2 estimator *is* the
group lasso :math:`\min_w L(w, b) + \alpha \sum_j c_j \|w_j\|`, a convex problem, and
its solution lifts back to balanced factors (:func:`skdgating.gating.balanced_factors`).
Solving it in ``w`` removes the gated saddle at zero and the slow approach of the
factors to a vanishing group.

On a working set of groups (:func:`solve_working_set`), each outer step builds the
quadratic model of the smooth part (exact for least squares, the Newton model for the
logistic loss) and minimizes the model plus the penalty by block coordinate descent:
a group moves by block soft-thresholding of a gradient step with its own Lipschitz
constant (the largest eigenvalue of its diagonal Hessian block), and the product the
others read is updated in place, as skglm's ``GroupBCD`` / ``GroupProxNewton`` and
celer do; the pass and its KKT test are compiled (:mod:`.bcd_kernels`). Every
``ANDERSON_MEMORY`` epochs the iterates are extrapolated (Anderson acceleration,
accepted only when it lowers the model). The step along the model's
solution is then line-searched on the true objective (always accepted at 1 for least
squares). In Gram form the Hessian is kept while the steps taken with it cut the
violation by HESSIAN_REUSE (a chord step: building it is the expensive part).

The model's Hessian is held in one of two forms, chosen by cost (:func:`_use_gram`):

* *residual form*: ``A`` (n x m, ``A'A = H``) and ``z = A v`` (n,); a group update
  costs ``O(n |g|)``. Used when the working set has at least about as many columns as
  there are samples (wide data): no ``m x m`` matrix is built.
* *Gram form*: ``H`` (m x m) and ``z = H v`` (m,); a group update costs
  ``O(m |g|)``. Used when ``n`` is much larger than the working set, and for sparse
  ``X`` (whose columns are never densified; ``H`` comes from sparse products).
  For least squares ``H`` is the datafit's cached Gram matrix, shared along a path.
"""

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from .constants import (ANDERSON_MEMORY, COLLAPSE, GRAM_ROWS_PER_COLUMN, HESSIAN_REUSE, INNER_TOL_FRACTION, MAX_EPOCHS,
                        MAX_PROX_NEWTON)
from .prox import add_group_norm_hessian_

__all__ = ["solve_working_set"]


class _Blocks:
    """The blocks of a working set in packed variables ``v``: its groups, then the intercept."""

    def __init__(self, groups, ws, alpha, n_intercepts):
        sizes = [len(groups.indices[j]) for j in ws] + [1] * n_intercepts
        self.ends = np.cumsum(sizes).astype(np.intp)
        self.starts = self.ends - np.asarray(sizes, dtype=np.intp)
        self.lam = np.concatenate([alpha * groups.weights[ws], np.zeros(n_intercepts)])
        self.n = len(sizes)
        self.owner = np.repeat(np.arange(self.n), sizes)

    def norms(self, v):
        return np.sqrt(np.bincount(self.owner, v * v, minlength=self.n))

    def penalty(self, v):
        return float(self.lam @ self.norms(v))

    def kkt(self, g, v):
        """Per-block violation of the optimality conditions of ``smooth + penalty`` at ``v``."""
        norms = self.norms(v)
        live = norms > 0
        scale = np.divide(self.lam, norms, out=np.zeros(self.n), where=live)
        resid = self.norms(g + scale[self.owner] * v)
        gnorm = self.norms(g)
        return np.where(live, resid, np.maximum(gnorm - self.lam, 0.0))


class _Model:
    """The quadratic ``1/2 v'Hv + lin'v`` in residual form (``A``) or Gram form (``H``)."""

    def __init__(self, blocks, A=None, H=None):
        self.blocks, self.A, self.H = blocks, A, H
        # the rows the compiled pass reads (:mod:`.bcd_kernels`): A' (a view of the
        # Fortran-ordered A) or the symmetric H
        self.rows = A.T if A is not None else np.ascontiguousarray(H)
        self.lipschitz = _block_lipschitz(blocks, A, H)
        live = self.lipschitz > 0  # a block of zero columns never moves
        safe = np.where(live, self.lipschitz, 1.0)
        self.inv_lipschitz = np.where(live, 1.0 / safe, 0.0)

    def product(self, v):
        return self.A @ v if self.A is not None else self.H @ v

    def gradient(self, z, lin):
        return (self.A.T @ z if self.A is not None else z) + lin

    def value(self, v, z, lin):
        quad = 0.5 * (z @ z) if self.A is not None else 0.5 * (v @ z)
        return quad + lin @ v + self.blocks.penalty(v)

    def epoch(self, which, v, z, lin):
        """One pass of block coordinate descent over the blocks ``which``, in place on
        ``v`` and ``z`` (kept equal to the product), compiled; returns the largest KKT
        violation among them, as the pass met them (:func:`.bcd_kernels.bcd_epoch`)."""
        # Imported here: loading numba takes about 0.4 s, which only a linear fit should pay.
        from .bcd_kernels import bcd_epoch

        return bcd_epoch(which, self.blocks.starts, self.blocks.ends, v, z, lin, self.rows, self.A is not None,
                         self.inv_lipschitz, self.blocks.lam)

    def minimize(self, v, lin, tol, max_epochs):
        """Minimize the model plus the penalty from ``v`` (in place) to a KKT violation ``tol``.

        A pass over every block, then passes over the nonzero (and unpenalized) blocks
        only, with Anderson extrapolation, until they are solved (glmnet's active-set
        cycling: most blocks of a working set stay at zero, and each pass over them
        costs as much as over the others). In Gram form, once the nonzero blocks have
        stayed the same over ANDERSON_MEMORY passes, Newton steps on them finish the
        solve (:meth:`support_newton`). Returns the number of passes.
        """
        blocks = self.blocks
        z = self.product(v)
        every = np.arange(blocks.n)
        epochs, newton_tried = 0, None
        while epochs < max_epochs:
            violation = self.epoch(every, v, z, lin)
            epochs += 1
            if violation <= tol:
                break
            live = np.flatnonzero((blocks.norms(v) > 0) | (blocks.lam == 0))
            history, support = [], live
            while epochs < max_epochs:
                violation = self.epoch(live, v, z, lin)
                epochs += 1
                if violation <= tol:
                    break
                history.append(v.copy())
                if len(history) > ANDERSON_MEMORY:
                    v_acc = _anderson(history)
                    history = []
                    if v_acc is not None:
                        z_acc = self.product(v_acc)
                        if self.value(v_acc, z_acc, lin) < self.value(v, z, lin):
                            v[:], z[:] = v_acc, z_acc
                    now = np.flatnonzero((blocks.norms(v) > 0) | (blocks.lam == 0))
                    if (self.H is not None and np.array_equal(now, support)
                            and not np.array_equal(now, newton_tried)):
                        newton_tried = now
                        if self.support_newton(v, z, lin, now, tol):
                            break
                    support = now
        return epochs

    def support_newton(self, v, z, lin, live, tol, max_steps=20):
        """Newton steps on the blocks ``live`` (the others at zero; Gram form), in place;
        True when they reach a KKT violation ``tol`` there.

        On its nonzero blocks the objective is smooth, with the Hessian ``H`` plus the
        penalty's :math:`\\lambda_j / \\|v_j\\| (I - u_j u_j')`, :math:`u_j = v_j / \\|v_j\\|`.
        With more samples than columns ``H`` is well conditioned there, and Newton
        (a Cholesky factorization of a matrix of the support's size) converges
        quadratically where the coordinate passes slow down. Gives up (False, ``v``
        kept at its best point) when a block's step passes near zero (the kink of the
        norm: whether it leaves is for the coordinate passes to decide), the
        factorization fails or the line search does.
        """
        blocks = self.blocks
        S = np.concatenate([np.arange(blocks.starts[j], blocks.ends[j]) for j in live])
        owner = np.repeat(np.arange(len(live)), (blocks.ends - blocks.starts)[live])
        lam = blocks.lam[live]
        H = self.H[np.ix_(S, S)]
        lin_s = lin[S]
        pairs = np.nonzero(owner[:, None] == owner[None, :])  # within-block entries

        def value_grad(w):
            q = H @ w
            norms = np.sqrt(np.bincount(owner, w * w, minlength=len(live)))
            if np.any((norms == 0) & (lam > 0)):
                return np.inf, None, norms
            scale = np.divide(lam, norms, out=np.zeros_like(lam), where=lam > 0)
            return 0.5 * (w @ q) + lin_s @ w + lam @ norms, q + lin_s + scale[owner] * w, norms

        w = v[S].copy()
        f, g, norms = value_grad(w)
        success = False
        while g is not None and max_steps:
            max_steps -= 1
            if np.sqrt(np.bincount(owner, g * g, minlength=len(live))).max(initial=0.0) <= tol:
                success = True
                break
            K = H.copy()
            add_group_norm_hessian_(K, w, owner, lam, norms, pairs)
            try:
                d = -cho_solve(cho_factor(K), g)
            except np.linalg.LinAlgError:
                break
            if np.any((lam > 0) & (np.sqrt(np.bincount(owner, (w + d) ** 2, minlength=len(live)))
                                   < COLLAPSE * norms)):
                break
            t, slope = 1.0, g @ d
            while t >= 1e-3:
                f_new, g_new, norms_new = value_grad(w + t * d)
                if g_new is not None and f_new <= f + 1e-4 * t * slope:
                    break
                t *= 0.5
            else:
                break
            w, f, g, norms = w + t * d, f_new, g_new, norms_new
        v[S] = w
        z[:] = self.product(v)
        return success


def _block_lipschitz(blocks, A, H):
    """The largest eigenvalue of each diagonal block of the Hessian (``A'A`` or ``H``),
    batched over the blocks of each size."""
    sizes = blocks.ends - blocks.starts
    out = np.empty(blocks.n)
    for size in np.unique(sizes):
        which = np.flatnonzero(sizes == size)
        idx = blocks.starts[which][:, None] + np.arange(size)[None, :]  # (blocks, size)
        if A is not None:
            diag = np.stack([A[:, a:a + size].T @ A[:, a:a + size] for a in blocks.starts[which]])
        else:
            diag = H[idx[:, :, None], idx[:, None, :]]
        out[which] = diag[:, 0, 0] if size == 1 else np.linalg.eigvalsh(diag)[:, -1]
    return out


def _anderson(history):
    """Anderson extrapolation of the last iterates (as skglm's ``AndersonAcceleration``), or None."""
    V = np.asarray(history)
    U = np.diff(V, axis=0)
    C = U @ U.T
    try:
        c = np.linalg.solve(C + 1e-12 * np.trace(C) * np.eye(len(C)), np.ones(len(C)))
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(c)) or c.sum() == 0:
        return None
    c /= c.sum()
    return c @ V[1:]


def _use_gram(design, m):
    """Gram form when X is sparse, or when ``n`` exceeds GRAM_ROWS_PER_COLUMN times the working set."""
    return design.sparse or design.shape[0] > GRAM_ROWS_PER_COLUMN * m


def solve_working_set(datafit, groups, ws, alpha, W, b, tol):
    """Minimize the group lasso over the groups ``ws`` (the others held at zero).

    ``W`` (1, p) and ``b`` (the solver's intercept variables) are updated in place and
    returned with the number of BCD epochs and whether a model solve stalled (took
    MAX_EPOCHS passes): ``(W, b, n_epochs, stalled)``. Stops when every block's KKT
    violation on the working set is at most ``tol``.
    """
    n_b = datafit.n_intercepts
    blocks = _Blocks(groups, ws, alpha, n_b)
    cols = np.concatenate([groups.indices[j] for j in ws]) if len(ws) else np.zeros(0, dtype=np.intp)
    m = len(cols)
    gram = _use_gram(datafit.X, m)
    if gram:
        value_grad, hess_w = datafit.restrict(cols)  # least squares: the cached Gram matrix
    elif datafit.quadratic:
        # least squares: the loss is 1/2 ||A w - t||^2 with A = S^1/2 X_ws, its own exact
        # model for the whole solve; A is the only copy of the working set's columns
        A, weighted_y = datafit.weighted_columns(cols)

        def value_grad(W_ws, b_ws):
            r = A @ W_ws[0] - weighted_y
            return 0.5 * float(r @ r), (r @ A)[None, :], None
    else:
        X_ws = datafit.X.columns(cols)  # one copy of the working set's (centred) columns
        A = np.empty((X_ws.shape[0], m + n_b), order="F")  # its curvature-weighted copy

        def value_grad(W_ws, b_ws):
            loss, r = datafit.sample_loss(X_ws @ W_ws[0] + (b_ws[0] if n_b else 0.0))
            return loss, (r @ X_ws)[None, :], (np.array([r.sum()]) if n_b else None)
    v = np.concatenate([W[0, cols], b[:n_b]])

    def split(u):
        return u[None, :m], (u[m:] if n_b else b)

    def objective(u):
        loss, G, gb = value_grad(*split(u))
        return loss + blocks.penalty(u), np.concatenate([G[0], gb if n_b else []])

    f, g = objective(v)
    epochs, stalled = 0, False
    model, previous = None, np.inf
    for _ in range(MAX_PROX_NEWTON):
        violation = blocks.kkt(g, v).max(initial=0.0)
        if violation <= tol:
            break
        Wv, bv = split(v)
        if gram and model is not None and violation <= HESSIAN_REUSE * previous:
            pass  # the Hessian still contracts well: kept (building it costs O(n m^2))
        elif gram:
            model = _Model(blocks, H=np.asarray(hess_w(Wv, bv))[: m + n_b, : m + n_b])
        elif datafit.quadratic:
            model = model or _Model(blocks, A=A)
        else:
            root = np.sqrt(datafit.sample_curvature(X_ws @ Wv[0] + (bv[0] if n_b else 0.0)))
            np.multiply(X_ws, root[:, None], out=A[:, :m])
            if n_b:
                A[:, m] = root
            model = _Model(blocks, A=A)
        lin = g - model.gradient(model.product(v), 0.0)
        target = v.copy()
        # an exact model (least squares) is solved to the working set's tolerance; a
        # Newton model to INNER_TOL_FRACTION times the current violation
        model_tol = tol if datafit.quadratic else max(INNER_TOL_FRACTION * violation, tol)
        n_epochs = model.minimize(target, lin, model_tol, MAX_EPOCHS)
        epochs += n_epochs
        stalled = n_epochs >= MAX_EPOCHS
        # line search on the true objective along the model's step (Armijo on the
        # decrease the model predicts, as skglm's GroupProxNewton)
        step = target - v
        decrease = g @ step + blocks.penalty(target) - blocks.penalty(v)
        t = 1.0
        while True:
            f_new, g_new = objective(v + t * step)
            # Armijo; near the solution the decrease is below the rounding of f, and a
            # step that does not raise f beyond it and lowers the violation is taken
            if f_new <= f + 1e-4 * t * decrease or (
                    f_new <= f + 1e-12 * abs(f) and blocks.kkt(g_new, v + t * step).max() < violation):
                break
            t *= 0.5
            if t < 1e-10:  # no descent left at this precision: the outer loop decides
                f_new, g_new = f, g
                t = 0.0
                break
        v, f, g, previous = v + t * step, f_new, g_new, violation
        if t < 1.0:
            model = None if gram else model  # not where the model is accurate: a new Hessian
        if t == 0.0 or stalled:
            break
    W[0, cols], b_out = split(v)
    return W, (b_out.copy() if n_b else b), epochs, stalled
