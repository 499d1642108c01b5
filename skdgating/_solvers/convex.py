"""The D=2 driver: the convex group lasso, by working sets.

Two solvers, by datafit:

* single-output datafits (least squares, binary logistic; those with ``has_hessian``):
  :func:`solve_group_lasso`, in ``w`` directly (proximal Newton with block coordinate
  descent on each working set, :mod:`.bcd`; why that is the D=2 estimator is said
  there). Working sets are ordered as celer orders them, by the distance of a
  feasible dual point to each group's constraint.
* the multinomial datafit (L-BFGS only): :func:`solve_gated_working_sets`, the gated
  factors minimized on each working set (:mod:`.newton`).

Both stop when every group satisfies its group-lasso KKT condition to ``tol``
(:math:`\\|\\nabla_j L\\| \\le \\alpha c_j` for a zero group, the stationarity residual
for a nonzero one). Because the objective is convex, this returns the group-lasso
solution, whatever the start.
"""

import numpy as np

from .bcd import solve_working_set
from .constants import (COARSE, INNER_TOL_FRACTION, KKT_READOUT_THRESHOLD, MAX_RESTARTS, MIN_WORKING_SET, NEAR,
                        STALL_TIGHTEN, WS_GROWTH)
from .newton import minimize_subproblem
from .prox import block_lipschitz, kkt_group_lasso, prox_step_start
from .subproblem import Subproblem


def solve_convex(datafit, groups, alpha, W, b, tol, max_iter, verbose, start_unpenalized):
    """Minimize the D=2 objective from ``(W, b)``; returns ``(W, b, n_iter, converged, violation)``.

    ``start_unpenalized(W, b)`` fits the intercept and the unpenalized groups with
    every penalized group at zero (the start when no penalized group is nonzero,
    so that the optimality test of the zero groups is meaningful from the start).
    """
    solver = solve_group_lasso if datafit.has_hessian else solve_gated_working_sets
    return solver(datafit, groups, alpha, W, b, tol, max_iter, verbose, start_unpenalized)


def solve_group_lasso(datafit, groups, alpha, W, b, tol, max_iter, verbose, start_unpenalized):
    """:func:`solve_convex` for single-output datafits, in ``w`` (:mod:`.bcd`).

    Each outer step computes the full gradient once (the only ``O(n p)`` product),
    tests the KKT conditions, and ranks the zero groups as celer does: the residual
    rescaled into the dual feasible set, :math:`\\theta = r / \\max(1, \\max_j
    \\|\\nabla_j L\\| / (\\alpha c_j))`, gives each group the distance
    :math:`(\\alpha c_j - \\|X_j'\\theta\\|) / \\|X_j\\|` to its constraint, and the closest
    groups join the nonzero ones (WS_GROWTH times their number, at least
    MIN_WORKING_SET). The working set is then solved to INNER_TOL_FRACTION times the
    current violation while groups outside it violate their condition, to ``tol / 2``
    once it holds every violator. Warm starts along a path carry the
    nonzero groups, hence the working set, over.
    """
    pen_groups = np.flatnonzero(groups.penalized)
    unpen_groups = np.flatnonzero(~groups.penalized)
    if not np.any(W[:, np.isin(groups.feature_group, pen_groups)]):
        W, b = start_unpenalized()
    lam = alpha * groups.weights
    col_norms = np.sqrt(np.bincount(groups.feature_group, datafit.col_sq, minlength=groups.n_groups))
    epochs, converged, violation = 0, False, np.inf
    for outer in range(max_iter):
        G = datafit.gradient(W, b)
        norms = groups.group_norms(W)
        violation, kkt = kkt_group_lasso(G, W, groups, alpha, norms)
        if violation <= tol:
            converged = True
            break
        gnorm = groups.group_norms(G)
        active = pen_groups[norms[pen_groups] > 0]
        ws = np.zeros(0, dtype=np.intp)
        if len(pen_groups):
            scale = max(1.0, float(np.max(gnorm[pen_groups] / lam[pen_groups])))
            distance = np.divide(lam - gnorm / scale, col_norms, out=np.full(groups.n_groups, np.inf),
                                 where=col_norms > 0)
            distance[active] = -np.inf
            ws_size = min(max(WS_GROWTH * len(active), MIN_WORKING_SET, len(active) + 1), len(pen_groups))
            ranked = pen_groups[np.argsort(distance[pen_groups], kind="stable")]
            ws = np.sort(ranked[:ws_size])
        ws = np.concatenate([ws, unpen_groups]).astype(np.intp)
        # solved coarsely while groups outside it still violate their condition (the
        # working set is provisional), to the final tolerance once it holds every violator
        settled = np.delete(kkt, ws).max(initial=0.0) <= tol
        inner_tol = 0.5 * tol if settled else max(INNER_TOL_FRACTION * violation, 0.5 * tol)
        W, b, n_epochs, stalled = solve_working_set(datafit, groups, ws, alpha, W, b, inner_tol)
        epochs += n_epochs
        if stalled:  # badly conditioned for BCD: the gated solver finishes (see MAX_EPOCHS)
            W, b, n_iter, converged, violation = solve_gated_working_sets(
                datafit, groups, alpha, W, b, tol, max_iter - outer, verbose, start_unpenalized)
            return W, b, epochs + n_iter, converged, violation
        if verbose:
            n_live = int((groups.group_norms(W)[pen_groups] > 0).sum())
            print(f"[skdgating] outer {outer}: violation {violation:.3g}, working set {len(ws)} groups, "
                  f"{n_live} nonzero, {n_epochs} BCD epochs")
    return W, b, epochs, converged, violation


def solve_gated_working_sets(datafit, groups, alpha, W, b, tol, max_iter, verbose, start_unpenalized):
    """:func:`solve_convex` in the gated factors (the multinomial datafit).

    Groups enter the working set when they violate the group-lasso optimality
    condition (the worst violators first, the set WS_GROWTH times the support;
    groups within NEAR of the condition's edge enter with them, since they tend to
    become violators once the others move).
    """
    pen_groups = np.flatnonzero(groups.penalized)
    unpen_groups = np.flatnonzero(~groups.penalized)
    if not np.any(W[:, np.isin(groups.feature_group, pen_groups)]):
        W, b = start_unpenalized()
    faded = np.zeros(groups.n_groups, dtype=bool)
    revived = np.zeros(groups.n_groups, dtype=bool)
    restarts = np.zeros(groups.n_groups, dtype=int)
    inner_iters, stall_scale, converged, violation = 0, 1.0, False, np.inf
    for outer in range(max_iter):
        norms = groups.group_norms(W)
        active = pen_groups[norms[pen_groups] > 0]
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
        violation, kkt = kkt_group_lasso(G, W, groups, alpha, norms)
        revived |= faded & (kkt > tol)
        if violation <= tol:
            converged = True
            break
        new = _enter_violators(W, G, datafit, groups, alpha, tol, kkt, gnorm, norms, active, faded)
        ws = np.concatenate([active, new]).astype(int)
        sub = Subproblem(datafit, groups, np.concatenate([np.sort(ws), unpen_groups]).astype(int), alpha, 2)
        if sub.m == 0 and sub.n_b == 0:
            converged, violation = True, 0.0
            break
        # Without Newton (multinomial), early working sets are solved coarsely (their
        # support is provisional); with Newton a tight solve costs a step or two more.
        inner_tol = tol if datafit.has_hessian or not np.isfinite(violation) else max(COARSE * violation, tol)
        # A solve that took no step while a small live group still fails KKT is
        # repeated at a tighter tolerance (see STALL_TIGHTEN), not as it was.
        x, _, n_iter = minimize_subproblem(sub, sub.start(W[:, sub.cols], b), inner_tol * stall_scale)
        stall_scale = stall_scale * STALL_TIGHTEN if n_iter == 0 else 1.0
        inner_iters += n_iter
        W, b = sub.scatter(x, W, b)
        if verbose:
            n_live = int((groups.group_norms(W)[pen_groups] > 0).sum())
            print(f"[skdgating] outer {outer}: working set {len(ws)} groups, {n_live} nonzero, "
                  f"{n_iter} solver iterations")
    return W, b, inner_iters, converged, violation


def _enter_violators(W, G, datafit, groups, alpha, tol, kkt, gnorm, norms, active, faded):
    """The zero groups that join the working set, started in place in ``W``.

    The worst KKT violators, at a proximal-gradient step from zero, up to
    WS_GROWTH times the support; then groups on the edge of the condition, the
    closest first, at a small start.
    """
    pen_groups = np.flatnonzero(groups.penalized)
    ws_size = max(WS_GROWTH * len(active), MIN_WORKING_SET)
    candidates = pen_groups[np.argsort(-kkt[pen_groups], kind="stable")]
    new = [j for j in candidates if norms[j] == 0 and kkt[j] > tol][: max(ws_size - len(active), 1)]
    cols = np.concatenate([groups.indices[j] for j in new] or [np.zeros(0, dtype=int)])
    owner = np.repeat(np.arange(len(new)), [len(groups.indices[j]) for j in new])
    prox_step_start(W, G, groups, new, alpha, block_lipschitz(datafit, cols, owner, len(new)))
    # groups on the edge (||G_j|| within NEAR of alpha c_j) often turn into violators
    # once the others move: enter them now, from a small start (not the groups just
    # read out as zero, which would cycle)
    near = np.flatnonzero(groups.penalized & (norms == 0) & (kkt <= tol) & ~faded
                          & (gnorm >= (1 - NEAR) * alpha * groups.weights))
    near = near[~np.isin(near, new)]
    near = near[np.argsort(-gnorm[near] / groups.weights[near], kind="stable")]
    near = near[: max(ws_size - len(active) - len(new), 0)]
    small = 1e-3 * norms.max(initial=1.0)
    for j in near:
        idx = groups.indices[j]
        W[:, idx] = -small * G[:, idx] / max(gnorm[j], 1e-300)
    return np.asarray(list(new) + near.tolist(), dtype=int)
