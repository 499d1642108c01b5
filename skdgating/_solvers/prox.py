"""Group-lasso tools of the D=2 driver: KKT violations and block proximal steps from zero."""

import numpy as np


def kkt_group_lasso(G, W, groups, alpha, norms):
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


def prox_step_start(W, G, groups, new, alpha, lipschitz):
    """Start new working-set groups at one block proximal-gradient step from zero.

    It is nonzero exactly when the group violates its KKT condition, so the gated
    factors never start at the critical point 0. ``lipschitz`` holds one bound per
    group of ``new``.
    """
    for j, lip in zip(new, lipschitz):
        idx = groups.indices[j]
        g = G[:, idx]
        W[:, idx] = -prox_shrink(np.linalg.norm(g), alpha * groups.weights[j], lip) * g


def prox_shrink(grad_norm, threshold, lipschitz):
    """A block proximal-gradient step from zero, as a multiple of minus the gradient."""
    return np.maximum(grad_norm - threshold, 0.0) / (lipschitz * np.maximum(grad_norm, 1e-300))


def block_lipschitz(datafit, cols, owner, n_blocks):
    """Upper bounds of the blocks' Lipschitz constants: the traces of their weighted Grams.

    ``cols`` are feature indices and ``owner`` the block (0..n_blocks-1) of each.
    """
    return np.maximum(np.bincount(owner, datafit.col_sq[cols], minlength=n_blocks), 1e-12)


def add_group_norm_hessian_(H, w, owner, lam, norms, pairs):
    r"""Add in place the Hessian of :math:`\sum_j \lambda_j \|w_j\|` at ``w`` to ``H``'s
    leading ``len(w)`` rows and columns: :math:`\lambda_j / \|w_j\| (I - u_j u_j')`,
    :math:`u_j = w_j / \|w_j\|`, on the groups with a nonzero norm (``owner`` maps
    each entry of ``w`` to its group, ``pairs`` are the within-group index pairs)."""
    live = norms > 0
    curvature = np.divide(lam, norms, out=np.zeros_like(lam), where=live)[owner]
    u = w * np.divide(1.0, norms, out=np.zeros_like(norms), where=live)[owner]
    H.flat[: len(w) * (len(H) + 1): len(H) + 1] += curvature
    H[pairs] -= curvature[pairs[0]] * u[pairs[0]] * u[pairs[1]]
