"""The backend-neutral formulas of the D-Gating factorization (see :mod:`skdgating.gating`).

They work on numpy arrays and torch tensors alike and import no torch, so the
full-batch linear solver (numpy) uses them without loading torch;
:mod:`skdgating.gating` re-exports them with the torch parametrization.
"""

import sys

import numpy as np

__all__ = ["balanced_factors", "factor_gradients", "factor_penalty", "gate_product", "induced_penalty",
           "penalty_decay"]


# --------------------------------------------------------------------------------------
# Backend-neutral formulas: the operations below work on numpy arrays and torch tensors.
# Shapes: gates (n_groups, D-1); omega_sq, group_norms, weights (n_groups,).
# --------------------------------------------------------------------------------------
def gate_product(gates):
    """Product of the D-1 gates of each group, shape (n_groups,)."""
    return gates.prod(-1)


def factor_penalty(omega_sq, gates, weights, alpha, D):
    r"""The smooth D-Gating penalty :math:`\sum_j \frac{\alpha c_j}{D}(\|\omega_j\|^2 + \sum_d \gamma_{j,d}^2)`.

    ``omega_sq`` holds :math:`\|\omega_j\|^2` per group. Leading axes are models
    (e.g. ``gates`` of shape (K, n_groups, D-1), ``alpha`` of shape (K,)): one
    penalty per model.
    """
    return (alpha / D) * (weights * (omega_sq + (gates**2).sum(-1))).sum(-1)


def penalty_decay(weights, alpha, D):
    r"""Per-group factor of the penalty's gradient: :math:`\partial/\partial\theta = \frac{2\alpha c_j}{D}\theta`
    for :math:`\theta = \omega_j` or :math:`\gamma_{j,d}` (``alpha`` may carry leading model axes)."""
    return (2.0 / D) * alpha * weights


def induced_penalty(group_norms, weights, alpha, D):
    r"""The non-smooth penalty :math:`\alpha \sum_j c_j \|w_j\|_2^{2/D}` the gating induces at balance."""
    return alpha * (weights * group_norms ** (2.0 / D)).sum()


def balanced_factors(group_norms, D):
    r"""Scale of :math:`\omega_j` and common gate value of the balanced factorization.

    For a group with norm :math:`r = \|w_j\|`, the factorization
    :math:`\omega_j = w_j\, r^{-(D-1)/D}`, :math:`\gamma_{j,d} = r^{1/D}` keeps
    :math:`w_j` and minimizes the smooth penalty over all factorizations. Returns
    ``(omega_scale, gate_value)``; zero groups get ``(1, 0)``.
    """
    zero = group_norms == 0
    safe = group_norms + zero  # 1 where the norm is 0: avoids 0 ** negative
    omega_scale = safe ** (-(D - 1.0) / D)
    gate_value = group_norms ** (1.0 / D)
    return omega_scale, gate_value


def factor_gradients(omega_dot_grad, gates):
    r"""Chain rule from the gradient in ``w`` to the gradient in the gates.

    With :math:`G_j = \nabla_{w_j} L` and ``omega_dot_grad`` :math:`= \omega_j^\top G_j`,
    :math:`\partial L / \partial \gamma_{j,k} = \omega_j^\top G_j \prod_{d \ne k} \gamma_{j,d}`
    (shape (n_groups, D-1)). The gradient in :math:`\omega_j` is simply
    :math:`G_j \prod_d \gamma_{j,d}`.
    """
    n_gates = gates.shape[-1]
    columns = []
    for k in range(n_gates):
        others = [d for d in range(n_gates) if d != k]
        rest = gates[:, others].prod(-1) if others else gates[:, 0] * 0 + 1
        columns.append(omega_dot_grad * rest)
    torch = sys.modules.get("torch")  # a tensor means torch is loaded; numpy arrays need no torch
    if torch is not None and isinstance(gates, torch.Tensor):
        return torch.stack(columns, dim=-1)
    return np.stack(columns, axis=-1)
