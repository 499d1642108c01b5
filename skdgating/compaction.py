r"""Physically remove dead units (neurons, filters) from a plain PyTorch network.

After D-Gating training and :func:`~skdgating.collapse_`, whole groups of weights
are exactly zero. A unit (a hidden neuron of an ``nn.Linear``, an output channel
of a convolution) whose weights are zero on one side can be deleted without
changing the network's function:

* **zero outgoing weights** (its column of the next ``nn.Linear``, or its input
  channel of the next convolution): the unit is never read, so its row, its bias
  entry and its outgoing slice are simply dropped;
* **zero incoming weights** (its row or filter): the unit outputs the constant
  :math:`a = \sigma(b_k)` (its bias through the activation) everywhere. The
  constant's contribution :math:`a\sum W_{\cdot,k}` is added to the next
  layer's bias, after which its outgoing slice is zero and the first case
  applies. This fold is exact only where a constant input produces a constant
  contribution: always for a following ``nn.Linear``, for a convolution only
  without padding (zero padding makes the border positions see part of the
  constant). Where it is not exact (and ``a != 0``), the unit is kept.

Removing units can zero more slices (a neuron whose only inputs were removed),
so :func:`compact` repeats until nothing changes. It never thresholds: only
exact zeros count, which is what :func:`~skdgating.collapse_` leaves behind.

Example (any ``nn.Sequential``)::

    collapse_(model, threshold=1e-6)   # plain weights, dead groups exactly 0
    small = compact(model)             # same function, fewer neurons / filters
"""

import copy

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

__all__ = ["compact"]

_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
# Modules applied value by value, with no parameters: they map a constant map to a
# constant map, and act(b) is computed by calling them on the bias.
_ELEMENTWISE = (nn.Identity, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU,
                nn.SiLU, nn.Mish, nn.Softplus, nn.Softsign, nn.Tanh, nn.Tanhshrink, nn.Sigmoid,
                nn.LogSigmoid, nn.Hardtanh, nn.Hardsigmoid, nn.Hardswish, nn.Hardshrink,
                nn.Softshrink)
# The identity at inference (compaction is for a network in eval mode).
_DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
            nn.FeatureAlphaDropout)
# Channel by channel: a channel's output depends on that channel alone.
_POOL = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
         nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
         nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)


def _flatten(modules):
    """Children of nested ``nn.Sequential`` containers, in order."""
    for m in modules:
        if isinstance(m, nn.Sequential):
            yield from _flatten(m)
        else:
            yield m


def _pool_keeps_constants(pool):
    """Does the pool map a constant channel to the same constant channel?"""
    if isinstance(pool, (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)):
        padding = np.atleast_1d(pool.padding)
        # Zero padding counted in the mean, or partial windows, change the value.
        return bool(np.all(padding == 0)) and not pool.ceil_mode
    return True  # max pools pad with -inf; adaptive pools never pad


def _zero_padding(conv):
    padding = conv.padding
    if isinstance(padding, str):
        return padding == "valid"
    return all(p == 0 for p in padding)


class _Boundary:
    """The units between two consecutive weighted layers ``producer -> ... -> consumer``."""

    def __init__(self, producer, between, consumer):
        self.producer, self.between, self.consumer = producer, between, consumer
        self.block = self._block()
        self.kept = np.arange(producer.weight.shape[0])

    def _block(self):
        """Columns of the consumer per unit, or None when the boundary is not understood."""
        P, C, between = self.producer, self.consumer, self.between
        for m in between:
            if isinstance(m, nn.Flatten):
                if m.start_dim != 1 or m.end_dim != -1:
                    return None
            elif not isinstance(m, _ELEMENTWISE + _DROPOUT + _POOL):
                return None
        if any(getattr(m, "groups", 1) != 1 for m in (P, C)):
            return None  # grouped / depthwise convolutions
        flatten = any(isinstance(m, nn.Flatten) for m in between)
        pooled = any(isinstance(m, _POOL) for m in between)
        n_units = P.weight.shape[0]
        if isinstance(P, nn.Linear):
            # Units are the last dimension; a Flatten is harmless only on 2-D input,
            # where it is the identity (then the widths agree).
            ok = isinstance(C, nn.Linear) and C.in_features == n_units and not pooled
            return 1 if ok else None
        if isinstance(C, nn.Linear):
            # Conv -> (pool) -> Flatten -> Linear: channel-major blocks of columns.
            if not flatten or C.in_features % n_units:
                return None
            return C.in_features // n_units
        if type(C) is type(P) and not flatten and C.in_channels == n_units:
            return 1
        return None

    def constants(self, units):
        """The constant each unit in ``units`` outputs when its incoming weights are 0."""
        P = self.producer
        bias = P.bias.detach()[units].double() if P.bias is not None else torch.zeros(len(units), dtype=torch.float64)
        with torch.no_grad():
            for m in self.between:
                if isinstance(m, _ELEMENTWISE):
                    bias = m(bias)
        return bias

    def foldable(self, constants):
        """Which constants can be moved into the consumer's bias exactly."""
        exact = all(_pool_keeps_constants(m) for m in self.between if isinstance(m, _POOL))
        if not isinstance(self.consumer, nn.Linear):
            exact = exact and _zero_padding(self.consumer)
        return torch.ones_like(constants, dtype=torch.bool) if exact else constants == 0

    def outgoing(self):
        """The consumer's weights grouped per unit: shape (n_units, n_out, -1)."""
        W = self.consumer.weight.detach()
        n = self.producer.weight.shape[0]
        if isinstance(self.consumer, nn.Linear):
            return W.reshape(W.shape[0], n, self.block).transpose(0, 1)
        return W.transpose(0, 1).reshape(n, W.shape[0], -1)


def _set_param(module, name, value):
    old = getattr(module, name)
    requires_grad = True if old is None else old.requires_grad
    setattr(module, name, nn.Parameter(value.contiguous(), requires_grad=requires_grad))


@torch.no_grad()
def _fold(boundary, units, constants):
    """Add the constant outputs of ``units`` to the consumer's bias and zero their slices."""
    C = boundary.consumer
    out = boundary.outgoing()[torch.as_tensor(units, device=C.weight.device)].double()  # (k, n_out, per_unit)
    shift = (out.sum(dim=2) * constants.to(out.device)[:, None]).sum(dim=0)
    if C.bias is None:
        if not torch.any(shift != 0):
            return
        bias = torch.zeros(C.weight.shape[0], dtype=C.weight.dtype, device=C.weight.device)
    else:
        bias = C.bias.detach()
    _set_param(C, "bias", (bias.double() + shift.to(bias.device)).to(bias.dtype))
    W = C.weight.detach().clone()
    if isinstance(C, nn.Linear):
        cols = (units[:, None] * boundary.block + np.arange(boundary.block)).ravel()
        W[:, torch.as_tensor(cols, device=W.device)] = 0
    else:
        W[:, torch.as_tensor(units, device=W.device)] = 0
    C.weight.copy_(W)


@torch.no_grad()
def _remove(boundary, keep):
    """Keep only the units ``keep`` (a bool mask) of the boundary, in both layers."""
    P, C = boundary.producer, boundary.consumer
    idx = torch.as_tensor(np.flatnonzero(keep), device=P.weight.device)
    _set_param(P, "weight", P.weight.detach()[idx])
    if P.bias is not None:
        _set_param(P, "bias", P.bias.detach()[idx])
    if isinstance(P, nn.Linear):
        P.out_features = len(idx)
    else:
        P.out_channels = len(idx)
    if isinstance(C, nn.Linear):
        cols = (np.flatnonzero(keep)[:, None] * boundary.block + np.arange(boundary.block)).ravel()
        _set_param(C, "weight", C.weight.detach()[:, torch.as_tensor(cols, device=C.weight.device)])
        C.in_features = len(cols)
    else:
        _set_param(C, "weight", C.weight.detach()[:, idx])
        C.in_channels = len(idx)
    boundary.kept = boundary.kept[keep]


def _compact_modules(modules):
    """Compact a list of modules (deep copies, changed in place); return the kept units.

    Returns the list of boundaries between consecutive weighted layers, each with
    ``kept``: the original indices of the producer's surviving output units (all
    of them for boundaries that were left alone, those with ``block is None``).
    """
    for m in modules:
        if parametrize.is_parametrized(m):
            raise ValueError(f"{type(m).__name__} is still parametrized (D-gated); call "
                             "skdgating.collapse_(model, threshold) first.")
    weighted = [i for i, m in enumerate(modules) if isinstance(m, _WEIGHTED)]
    boundaries = []
    for a, b in zip(weighted[:-1], weighted[1:]):
        boundaries.append(_Boundary(modules[a], modules[a + 1:b], modules[b]))
    active = [bd for bd in boundaries if bd.block is not None]
    changed = True
    while changed:
        changed = False
        for bd in active:
            P = bd.producer
            n = P.weight.shape[0]
            if n == 0:
                continue
            incoming_zero = (P.weight.detach().reshape(n, -1) == 0).all(dim=1).cpu().numpy()
            outgoing_zero = (bd.outgoing() == 0).reshape(n, -1).all(dim=1).cpu().numpy()
            candidates = np.flatnonzero(incoming_zero & ~outgoing_zero)
            if candidates.size:
                constants = bd.constants(torch.as_tensor(candidates, device=P.weight.device)).cpu()
                ok = bd.foldable(constants).numpy()
                if ok.any():
                    _fold(bd, candidates[ok], constants[torch.as_tensor(ok)])
                    outgoing_zero[candidates[ok]] = True
            if outgoing_zero.any():
                _remove(bd, ~outgoing_zero)
                changed = True
    return boundaries


def compact(model, *, return_indices=False):
    """A copy of ``model`` with its dead neurons and filters physically removed.

    A unit (hidden neuron, convolution output channel) is removed when its
    outgoing weights in the next layer are all exactly zero, or when its
    incoming weights are all exactly zero and its constant output
    :math:`\\sigma(b)` can be folded exactly into the next layer's bias (see the
    module docstring). The result computes the same function as ``model`` up to
    floating-point rounding of the folded constants.

    Parameters
    ----------
    model : torch.nn.Sequential
        A plain (collapsed) network: ``nn.Linear`` and ``nn.Conv1d/2d/3d``
        (``groups=1``) layers, with parameter-free element-wise activations,
        dropout, pooling and ``nn.Flatten`` between them; nested
        ``nn.Sequential`` containers are flattened. Units next to anything else
        (normalization layers, ``nn.PReLU``, grouped convolutions, ...) are left
        in place, so compaction stays exact. The model's inputs (the first
        layer's input columns or channels) and outputs are never removed.

    return_indices : bool, default=False
        Also return, for every pair of consecutive weighted layers, the original
        indices of the units that survive between them.

    Returns
    -------
    compact_model : torch.nn.Sequential
        A new module (``model`` is not changed), flat, with the same layer types
        and narrower weights, in the same dtype and on the same device.
    kept : list of ndarray of int
        Only with ``return_indices=True``: one array per pair of consecutive
        weighted layers (``None`` where the units between them could not be
        analysed and were all kept).

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Sequential``.
    ValueError
        If a layer is still D-gated (call :func:`~skdgating.collapse_` first).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from skdgating.compaction import compact
    >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> with torch.no_grad():
    ...     net[2].weight[:, 1] = 0.0        # neuron 1 is never read
    >>> small, kept = compact(net, return_indices=True)
    >>> small[0].weight.shape, kept
    (torch.Size([2, 4]), [array([0, 2])])
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"compact() takes an nn.Sequential, got {type(model).__name__}; wrap the "
                        "layers of your network in nn.Sequential (or compact the Sequential parts).")
    modules = [copy.deepcopy(m) for m in _flatten(model)]
    boundaries = _compact_modules(modules)
    result = nn.Sequential(*modules)
    result.train(model.training)
    if return_indices:
        return result, [bd.kept if bd.block is not None else None for bd in boundaries]
    return result
