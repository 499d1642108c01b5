"""Torch modules behind the D-gated MLP estimators.

:class:`MLP` is a multilayer perceptron (``Linear -> activation -> ... -> Linear``)
whose first ``Linear`` has its input columns (or groups of columns) D-gated with
the shared primitive :func:`skdgating.gating.gate`; every other weight stays
plain. With ``D=None`` nothing is gated, which gives the identical ungated network
(used as the reference in the overhead benchmark).

There is deliberately no normalization layer after the gated layer: BatchNorm or
LayerNorm would make each gated column scale-invariant, so the penalty could
shrink a column's scale without removing its influence.
"""

import torch
from torch import nn

from .gating import collapse_, dgating_penalty, gate, gated_parametrizations

__all__ = ["ACTIVATIONS", "HalfSquaredError", "MLP", "UNGATED_WEIGHTS"]

# Parameter-name pattern (fnmatch, as in skorch's optimizer__param_groups) of the
# weight matrices after the first layer: "layers.1.weight", "layers.2.weight", ...
# The first layer's gated weight is "layers.0.parametrizations.weight.original".
UNGATED_WEIGHTS = "layers.[1-9]*.weight"

# The activation names of scikit-learn's MLP.
ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "identity": nn.Identity,
}


class MLP(nn.Module):
    """Fully connected network ``n_features -> *hidden_layer_sizes -> n_outputs``.

    Parameters
    ----------
    n_features : int
    hidden_layer_sizes : tuple of int
        Widths of the hidden layers; ``()`` gives a (gated) linear model.
    n_outputs : int
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
    D : int or None, default=None
        Gating depth of the first layer's input columns; ``None`` leaves the
        network ungated.
    alpha : float, default=0.0
        Strength of the D-Gating penalty (see :class:`~skdgating.gating.DGate`).
    groups : Groups, optional
        Partition of the input columns (:func:`~skdgating.groups.make_groups`);
        default: one group per column.
    gate_init : {"ones", "balanced"}, default="ones"

    Notes
    -----
    The plain L2 penalty on the ungated weight matrices that the estimators use
    is not part of :meth:`penalty`: they apply it as the equivalent coupled
    weight decay of the optimizer (see :data:`UNGATED_WEIGHTS`).
    """

    def __init__(self, n_features, hidden_layer_sizes, n_outputs, activation="relu",
                 D=None, alpha=0.0, groups=None, gate_init="ones"):
        super().__init__()
        self.standardize = False
        sizes = [int(n_features), *(int(h) for h in hidden_layer_sizes), int(n_outputs)]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activation = ACTIVATIONS[activation]()
        self.gated = D is not None
        if self.gated:
            gate(self.layers[0], "weight", dim=1, D=D, alpha=alpha, groups=groups,
                 gate_init=gate_init)

    @property
    def first_layer(self):
        return self.layers[0]

    def forward(self, X):
        if self.standardize:
            X = (X - self.x_mean) * self.x_inv_scale
        for layer in self.layers[:-1]:
            X = self.activation(layer(X))
        return self.layers[-1](X)

    @torch.no_grad()
    def standardize_inputs_(self, mean, scale):
        """From now on, feed ``(X - mean) / scale`` to the first layer.

        The estimators train on inputs they standardized once up front (in
        float64, and without a per-batch cost), then call this so the fitted
        module takes raw inputs. Stored as buffers, never trained; it comes
        before the gated layer, and nothing normalizes the gated layer's output.
        """
        device = self.layers[0].bias.device
        self.register_buffer("x_mean", torch.as_tensor(mean, dtype=torch.float32, device=device).reshape(-1))
        inv_scale = (1.0 / torch.as_tensor(scale, dtype=torch.float64)).reshape(-1)
        self.register_buffer("x_inv_scale", inv_scale.to(device=device, dtype=torch.float32))
        self.standardize = True

    def ungated_weights(self):
        """Weight matrices of every layer after the first (the first one is gated)."""
        return [layer.weight for layer in self.layers[1:]]

    def penalty(self):
        r"""The D-Gating penalty of the first layer (0 when ungated or collapsed)."""
        # Only the first layer can be gated: searching it alone keeps the per-batch cost small.
        if not self.gated:
            return self.layers[0].bias.new_zeros(())
        return dgating_penalty(self.layers[0])

    def dgate(self):
        """``(dgate, omega)`` of the gated first layer."""
        for _, _, dgate, omega in gated_parametrizations(self.layers[0]):
            return dgate, omega
        raise RuntimeError("The first layer is not gated.")

    @torch.no_grad()
    def collapse_(self, threshold):
        """Replace the gated first layer by its effective weight, in place.

        Groups whose norm is ``<= threshold`` become exactly zero. Afterwards
        the module is a plain MLP (picklable: parametrized modules are not).
        """
        collapse_(self.layers[0], threshold=threshold)
        self.gated = False

    @torch.no_grad()
    def load_effective_(self, state_dict, gate_init="balanced"):
        """Start from the layer weights of an ungated (collapsed) MLP of the same shape.

        The first layer's effective weight is assigned through the
        parametrization, so its gates start from ``gate_init`` (``"balanced"``:
        the balanced factorization of those weights, which keeps the function
        and starts directly in the sparse regime).
        """
        first_key = "layers.0.weight"
        # Layer weights only: the standardization buffers belong to the new data.
        rest = {k: v for k, v in state_dict.items() if k.startswith("layers.") and k != first_key}
        _, unexpected = self.load_state_dict(rest, strict=False)
        if unexpected:
            raise ValueError(f"Unexpected weights {unexpected} for this architecture.")
        dgate, _ = self.dgate()
        dgate.gate_init = gate_init
        # Assigning to a parametrized weight calls DGate.right_inverse.
        self.layers[0].weight = state_dict[first_key].to(self.layers[0].bias.device)


class HalfSquaredError(nn.Module):
    """``(y_pred - y)^2 / 2``, averaged (``reduction="mean"``) or per element (``"none"``)."""

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, y_pred, y):
        loss = 0.5 * (y_pred - y) ** 2
        return loss.mean() if self.reduction == "mean" else loss
