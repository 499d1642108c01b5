r"""The D-Gating primitive, shared by every estimator.

A group of weights :math:`w_j` (a slice of a weight tensor along one dimension, or
an explicit list of slices) is written as

.. math::

    w_j = \omega_j \, \gamma_{j,1} \cdots \gamma_{j,D-1},

one primary vector :math:`\omega_j` and :math:`D-1` scalar gates, and the loss gets
the smooth penalty

.. math::

    \frac{\alpha c_j}{D}\Big(\|\omega_j\|_2^2 + \sum_{d=1}^{D-1}\gamma_{j,d}^2\Big).

At balance (:math:`\|\omega_j\|^2 = \gamma_{j,d}^2` for all d) this equals
:math:`\alpha c_j \|w_j\|_2^{2/D}` (AM-GM), and every local minimum of the gated
objective is one of the non-smooth :math:`L_{2,2/D}` objective: ``D=2`` is the group
lasso, ``D>=3`` the non-convex, sparser :math:`L_{2,2/3}, L_{2,1/2}, \dots`.

Two layers live here:

* backend-neutral formulas (:func:`gate_product`, :func:`factor_penalty`,
  :func:`induced_penalty`, :func:`balanced_factors`, :func:`factor_gradients`) that
  accept numpy arrays or torch tensors alike; the full-batch linear solver uses
  them on numpy arrays;
* :class:`DGate`, a :mod:`torch.nn.utils.parametrize` parametrization that gates
  groups of any ``nn.Module`` weight, with :func:`gate`, :func:`dgating_penalty`,
  :func:`rebalance_` and :func:`collapse_` to use it.

Example (any PyTorch model)::

    layer = torch.nn.Linear(20, 64)
    gate(layer, "weight", dim=1, D=3, alpha=1e-2)    # one group per input column
    loss = criterion(model(x), y) + dgating_penalty(model)
"""

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from ._gating_formulas import (balanced_factors, factor_gradients, factor_penalty, gate_product,
                               induced_penalty, penalty_decay)
from ._validation import check_D
from .groups import Groups, make_groups

__all__ = [
    "DGate",
    "balanced_factors",
    "collapse_",
    "dgating_penalty",
    "factor_gradients",
    "factor_penalty",
    "penalty_decay",
    "column_scale",
    "gate",
    "gate_product",
    "gated_parametrizations",
    "induced_penalty",
    "rebalance_",
]


# --------------------------------------------------------------------------------------
# Backend-neutral formulas (skdgating._gating_formulas, torch-free for the linear solver)
# and the one that needs torch.
# --------------------------------------------------------------------------------------
def column_scale(gates, penalized, feature_group, one_slice_groups=False):
    """Multiplier of every slice: its group's gate product, 1 for ungated groups
    (leading axes of ``gates`` are models). ``one_slice_groups``: every group is one
    slice, in order, and penalized, so the multiplier is the gate product itself (no
    gather or mask)."""
    prod = gate_product(gates)
    if one_slice_groups:
        return prod
    return torch.where(penalized, prod, torch.ones_like(prod))[..., feature_group]


def column_scale_backward(gates, grad_scale, penalized, feature_group, one_slice_groups=False, out=None):
    """The gates' gradient from the gradient of :func:`column_scale` (``grad_scale``, one
    entry per slice; leading axes of both are models; ``one_slice_groups`` as there),
    written into ``out`` when given.

    The gradient of a group's product with respect to one gate is the product of the
    others, formed from prefix and suffix products: no division, so the exactly-zero
    gates of a dropped group are no special case.
    """
    if one_slice_groups:
        grad_product = grad_scale
    else:
        grad_product = grad_scale.new_zeros((*grad_scale.shape[:-1], gates.shape[-2]))
        grad_product = grad_product.index_add(grad_scale.ndim - 1, feature_group, grad_scale) * penalized
    if gates.shape[-1] == 1:
        return grad_product[..., None] if out is None else out.copy_(grad_product[..., None])
    if gates.shape[-1] == 2:  # D=3, the default: the other gate (2 operations instead of 10)
        return torch.mul(grad_product[..., None], gates.flip(-1), out=out)
    ones = torch.ones_like(gates[..., :1])
    prefix = torch.cumprod(torch.cat([ones, gates[..., :-1]], dim=-1), dim=-1)
    suffix = torch.cumprod(torch.cat([ones, gates.flip(-1)[..., :-1]], dim=-1), dim=-1).flip(-1)
    return torch.mul(grad_product[..., None] * prefix, suffix, out=out)


# --------------------------------------------------------------------------------------
# The torch parametrization
# --------------------------------------------------------------------------------------
class DGate(nn.Module):
    r"""Parametrization that D-gates groups of slices of a weight tensor.

    Registered with :func:`gate` (a thin wrapper of
    :func:`torch.nn.utils.parametrize.register_parametrization`), the module's
    weight becomes ``omega * gate_product(gates)`` broadcast along ``dim``, where
    ``omega`` is the stored original tensor and ``gates`` (shape
    ``(n_groups, D-1)``) is a parameter of this object.

    Parameters
    ----------
    groups : Groups
        Partition of the indices along ``dim`` (see :func:`~skdgating.make_groups`).
        Groups with weight 0 are left ungated and unpenalized.
    D : int, default=3
        Gating depth (``D >= 2``): one vector and ``D-1`` scalar gates per group.
    dim : int, default=1
        The dimension whose slices are grouped (``1`` = input columns of an
        ``nn.Linear`` weight, ``0`` = its rows, i.e. neurons or conv filters).
    alpha : float, default=1.0
        Strength of this gate's penalty in :func:`dgating_penalty`.
    gate_init : {"ones", "balanced"}, default="ones"
        ``"ones"`` keeps the weight as ``omega`` and sets every gate to 1 (the
        initial function is unchanged; training starts in the non-sparse regime
        and the imbalance decays under SGD). ``"balanced"`` starts from the
        balanced factorization of the weight. Gates are never initialized at 0,
        a critical point with zero gradient.
    """

    # Set per instance in __init__; the class default keeps the general forward.
    _one_slice_groups = False

    def __init__(self, groups, D=3, dim=1, alpha=1.0, gate_init="ones"):
        super().__init__()
        if not isinstance(groups, Groups):
            raise TypeError("groups must be a Groups object; use make_groups() or gate().")
        D = check_D(D)
        if gate_init not in ("ones", "balanced"):
            raise ValueError(f"gate_init must be 'ones' or 'balanced', got {gate_init!r}.")
        self.D = D
        self.dim = dim
        self.alpha = alpha
        self.gate_init = gate_init
        self.groups = groups
        self.register_buffer("feature_group", torch.as_tensor(groups.feature_group, dtype=torch.long))
        # float64 here, cast to the weight's dtype in right_inverse
        self.register_buffer("weights", torch.as_tensor(groups.weights, dtype=torch.float64))
        self.register_buffer("penalized", torch.as_tensor(groups.penalized))
        self.gates = nn.Parameter(torch.ones(groups.n_groups, D - 1))
        # Every group one slice and penalized (the common case): the gate product is
        # then the per-slice scale itself, with no gather or mask in the forward.
        self._one_slice_groups = bool(groups.penalized.all()) and np.array_equal(
            groups.feature_group, np.arange(groups.n_features))
        self._update_decay()

    @property
    def alpha(self):
        return self._alpha

    @alpha.setter
    def alpha(self, value):
        self._alpha = float(value)
        if hasattr(self, "gates"):
            self._update_decay()

    @torch.no_grad()
    def _update_decay(self):
        # The penalty's gradient in closed form: d/d omega_j = (2 alpha c_j / D) omega_j,
        # d/d gamma_jd = (2 alpha c_j / D) gamma_jd. Non-persistent buffers: they follow
        # .to() but stay out of state_dict.
        per_group = penalty_decay(self.weights.to(self.gates.dtype), self.alpha, self.D)
        self.register_buffer("_gate_decay", per_group[:, None].to(self.gates.device), persistent=False)
        self.register_buffer("_omega_decay", per_group[self.feature_group].to(self.gates.device),
                             persistent=False)

    def _broadcast(self, per_slice, ndim):
        if self.dim % ndim == ndim - 1:  # the last dimension: plain broadcasting
            return per_slice
        shape = [1] * ndim
        shape[self.dim] = -1
        return per_slice.reshape(shape)

    def scale(self):
        """Effective multiplier of each group: the gate product (1 for ungated groups)."""
        prod = gate_product(self.gates)
        return torch.where(self.penalized, prod, torch.ones_like(prod))

    def column_scale(self):
        """Multiplier of every slice: its group's gate product (1 for ungated groups)."""
        return column_scale(self.gates, self.penalized, self.feature_group, self._one_slice_groups)

    def forward(self, omega):
        # The line that gates a weight: w = omega * prod_d gamma_d, per group.
        return omega * self._broadcast(self.column_scale(), omega.ndim)

    def add_penalty_grad_(self, omega):
        """Add the gradient of :meth:`penalty` to ``omega.grad`` and ``gates.grad``, in place.

        The same update as back-propagating through :meth:`penalty` (for any
        optimizer: the gradient is added before the step), at two fused
        elementwise operations instead of an autograd graph every batch.
        """
        # detach() instead of a no_grad context: cheaper, and nothing is recorded.
        omega.grad.addcmul_(omega.detach(), self._broadcast(self._omega_decay, omega.ndim))
        self.gates.grad.addcmul_(self.gates.detach(), self._gate_decay)

    @torch.no_grad()
    def right_inverse(self, weight):
        # Called at registration (and when a new weight is assigned): choose the
        # factorization of `weight` that the gates start from.
        # Gates follow the weight's dtype and device (e.g. float64 modules).
        self.to(device=weight.device)
        self.gates.data = self.gates.data.to(dtype=weight.dtype)
        self.weights = self.weights.to(dtype=weight.dtype)
        self._update_decay()
        if self.gate_init == "ones":
            self.gates.fill_(1.0)
            return weight
        norms = self._group_sq_norms(weight).sqrt()
        omega_scale, gate_value = balanced_factors(norms, self.D)
        # Groups that are exactly zero get gates 1 (never 0: a critical point).
        gate_value = torch.where(norms > 0, gate_value, torch.ones_like(gate_value))
        omega_scale = torch.where(self.penalized, omega_scale, torch.ones_like(omega_scale))
        self.gates.copy_(gate_value[:, None].expand_as(self.gates))
        return weight * self._broadcast(omega_scale[self.feature_group], weight.ndim)

    def _group_sq_norms(self, tensor):
        """Sum of squares of each group of ``tensor`` (reduced over every other dim)."""
        other_dims = [d for d in range(tensor.ndim) if d != self.dim % tensor.ndim]
        per_slice = (tensor**2).sum(dim=other_dims) if other_dims else tensor**2
        out = torch.zeros(self.groups.n_groups, dtype=tensor.dtype, device=tensor.device)
        return out.index_add(0, self.feature_group, per_slice)

    def penalty(self, omega):
        r"""Smooth penalty :math:`\sum_j \frac{\alpha c_j}{D}(\|\omega_j\|^2 + \sum_d\gamma_{j,d}^2)`."""
        return factor_penalty(self._group_sq_norms(omega), self.gates, self.weights, self.alpha, self.D)

    def group_norms(self, omega):
        """Norms of the effective groups ``||w_j||``, shape (n_groups,)."""
        return self._group_sq_norms(omega).sqrt() * self.scale().abs()

    def extra_repr(self):
        return f"n_groups={self.groups.n_groups}, D={self.D}, dim={self.dim}, alpha={self.alpha:g}"


def gate(module, name="weight", *, dim=1, D=3, alpha=1.0, groups=None,
         group_weights="sqrt_size", gate_init="ones"):
    """D-gate groups of slices of ``module.<name>`` in place.

    Parameters
    ----------
    module : torch.nn.Module
        Owner of the weight, e.g. an ``nn.Linear`` or ``nn.Conv2d``.
    name : str, default="weight"
    dim : int, default=1
        Dimension whose slices are grouped: ``1`` gates the input columns of an
        ``nn.Linear`` (feature selection), ``0`` its output rows (neurons) or the
        filters of a convolution.
    D, alpha, gate_init
        See :class:`DGate`.
    groups, group_weights
        Any specification accepted by :func:`~skdgating.make_groups`, over
        the ``weight.shape[dim]`` slices; default: every slice its own group.

    Returns
    -------
    DGate
        The registered parametrization (``module.parametrizations[name][0]``).
    """
    weight = getattr(module, name)
    if not isinstance(groups, Groups):
        groups = make_groups(groups, weight.shape[dim], group_weights)
    elif groups.n_features != weight.shape[dim]:
        raise ValueError(f"groups partition {groups.n_features} slices, but {name} has {weight.shape[dim]} along dim {dim}.")
    dgate = DGate(groups, D=D, dim=dim, alpha=alpha, gate_init=gate_init)
    parametrize.register_parametrization(module, name, dgate)
    return dgate


def gated_parametrizations(module):
    """Yield ``(owner, name, dgate, omega)`` for every D-gated tensor inside ``module``."""
    for owner in module.modules():
        if not parametrize.is_parametrized(owner):
            continue
        for name, plist in owner.parametrizations.items():
            for p in plist:
                if isinstance(p, DGate):
                    yield owner, name, p, plist.original


def dgating_penalty(module):
    """Sum of the smooth D-Gating penalties of every gated tensor in ``module``.

    Add it to a mean (per-batch) loss; do not rescale it by the number of batches.
    """
    total = None
    for _, _, dgate, omega in gated_parametrizations(module):
        term = dgate.penalty(omega)
        total = term if total is None else total + term
    if total is None:
        raise ValueError("The module has no D-gated weights; call gate() on it first.")
    return total


@torch.no_grad()
def rebalance_(module):
    """Move every gated group to its balanced factorization, in place.

    The effective weights (so the network's function) are unchanged and the smooth
    penalty drops to its minimum over factorizations, the induced
    :math:`\\alpha c_j\\|w_j\\|^{2/D}`. Exactly-zero groups are left as they are.
    """
    for _, _, dgate, omega in gated_parametrizations(module):
        norms = dgate.group_norms(omega)
        omega_scale, gate_value = balanced_factors(norms, dgate.D)
        live = (norms > 0) & dgate.penalized
        # new omega = w * omega_scale = omega * (prod gates) * omega_scale
        factor = torch.where(live, dgate.scale() * omega_scale, torch.ones_like(norms))
        omega.mul_(dgate._broadcast(factor[dgate.feature_group], omega.ndim))
        new_gates = torch.where(live[:, None], gate_value[:, None].expand_as(dgate.gates), dgate.gates)
        dgate.gates.copy_(new_gates)


@torch.no_grad()
def collapse_(module, threshold=0.0):
    """Replace every gated weight by its effective weight, in place.

    Groups whose norm is ``<= threshold`` are set exactly to zero. Afterwards the
    module holds plain tensors again (no parametrization, no gates).
    """
    for owner, name, dgate, omega in list(gated_parametrizations(module)):
        keep = (dgate.group_norms(omega) > threshold) | ~dgate.penalized
        parametrize.remove_parametrizations(owner, name, leave_parametrized=True)
        weight = getattr(owner, name)
        weight.mul_(dgate._broadcast(keep[dgate.feature_group].to(weight.dtype), weight.ndim))
