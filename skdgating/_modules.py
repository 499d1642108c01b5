r"""Torch modules behind the D-gated MLP estimators.

:class:`MLP` is a multilayer perceptron (``Linear -> activation -> ... -> Linear``)
whose first ``Linear`` has its input columns (or groups of columns) D-gated with
the shared primitive :func:`skdgating.gating.gate`. With ``gate_hidden=True``
every hidden neuron is a D-gated group too: its *outgoing* column in the next
layer's weight (``dim=1``), the same rule as for the inputs (an input feature's
group is its outgoing column in the first layer). Every weight matrix then
carries exactly one gate, so no parametrizations are stacked. With ``D=None``
nothing is gated, which gives the identical ungated network (used as the
reference in the overhead benchmark).

Why the outgoing column. A neuron whose outgoing column is zero is never read:
deleting it (its row, its bias entry and the column) is exact whatever its bias
and activation. A zero *incoming* row would leave the ungated bias behind, a
constant :math:`\sigma(b_k)` that has to be folded into the next layer. And with
every matrix gated (the inputs' columns of the first one, the neurons' columns of
the others), ReLU rescaling (shrinking one layer, growing the next) moves
penalty between gated groups instead of dodging it: the problem stays
well-posed without any ungated weight decay (remedy (b) of the method notes).

There is deliberately no normalization layer after the gated layer: BatchNorm or
LayerNorm would make each gated column scale-invariant, so the penalty could
shrink a column's scale without removing its influence.
"""

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .gating import (collapse_, column_scale, column_scale_backward, dgating_penalty, factor_penalty, gate,
                     gated_parametrizations, penalty_decay)

__all__ = ["ACTIVATIONS", "HalfSquaredError", "MLP", "STACKED_UNGATED_WEIGHTS", "StackedLoss", "StackedMLP",
           "UNGATED_WEIGHTS"]

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

# The same activations as plain functions, keyed by module type: the training
# forward calls them directly (no nn.Module call per layer and batch).
_FUNCTIONS = {
    nn.ReLU: torch.relu,
    nn.Tanh: torch.tanh,
    nn.Sigmoid: torch.sigmoid,
    nn.Identity: lambda x: x,
}


# The activations' derivatives, from their outputs: the fused ATen kernels autograd
# itself uses (``None``: the identity's, the gradient passes unchanged).
_DERIVATIVES = {
    nn.ReLU: lambda grad, output: torch.ops.aten.threshold_backward(grad, output, 0),
    nn.Tanh: torch.ops.aten.tanh_backward,
    nn.Sigmoid: torch.ops.aten.sigmoid_backward,
    nn.Identity: None,
}


def row_loss_and_grad(y_pred, y, classification):
    """Per-row losses of outputs ``y_pred`` (..., B, n_outputs) and their gradients with
    respect to ``y_pred``: cross-entropy against labels ``y`` (B,), or half the squared
    error averaged over the outputs against targets ``y`` (broadcast to ``y_pred``)."""
    if classification:
        log_p = torch.log_softmax(y_pred, dim=-1)
        index = y[:, None].expand(*y_pred.shape[:-1], 1)
        losses = -log_p.gather(-1, index)[..., 0]
        return losses, torch.exp(log_p).scatter_add_(-1, index, -torch.ones_like(log_p[..., :1]))
    residual = y_pred - y
    if residual.shape[-1] == 1:  # one target: its mean over the outputs is itself, exactly
        return 0.5 * residual.square()[..., 0], residual
    return 0.5 * residual.square().mean(-1), residual / residual.shape[-1]


class Backprop:
    """Forward and backward pass of K affine networks ``X -> W_0, b_0 -> activation -> ...
    -> W_L, b_L`` by hand (no autograd), for the training step.

    Why by hand: the networks are small, so a step is a few dozen tiny products whose
    cost is per-operation overhead, much of it autograd's engine (graph building, one
    node per operation, gradient accumulation): written out, a stacked step of the
    default network on 2,250 rows x 32 columns went from 0.76 to 0.55 ms. The network
    is fixed (affine layers, one elementwise activation), so its backward pass is the
    textbook one; tests check it against autograd for every activation, loss, group
    layout and depth.

    Why an object: what does not change from step to step (the bias rows and
    transposed weights, which are views of the parameters and so follow their in-place
    updates; the activation's function and derivative; the tensors the gradients go
    into) is prepared once per training epoch (see ``MLP.training_step``), and a step
    runs only its arithmetic, the same operations in the same order (the same fitted
    models bit for bit). Prepared every step, with the modules' attributes looked up
    every step, they cost a sixth of a stacked step of the default network on ISLR
    Wage with probes (3 folds, 2,250 rows x 32 columns: 0.47 -> 0.39 ms) and a third of
    a single network's step (0.47 -> 0.31 ms).

    Parameters
    ----------
    weights : list of Tensor of shapes (K, out, in)
        The weights of the layers after the first (the first layer's is an argument of
        every call: a gated one is formed from its factors each step).
    biases : list of Tensor of shapes (K, out)
        Every layer's.
    activation : nn.Module (one of :data:`ACTIVATIONS`)
    loss_and_grad : callable, optional
        ``(outputs (K, B, n_outputs), y) -> (per-row losses (K, B), their gradients)``;
        needed by :meth:`__call__` only.
    grad_out : (weight_outs, bias_outs), optional
        Tensors (or None) of the gradients' shapes to write them into (the
        parameters' ``.grad``, which the optimizer reads as one buffer: see
        :func:`skdgating._training.share_one_buffer_`), instead of new tensors.
    """

    def __init__(self, weights, biases, activation, loss_and_grad=None, grad_out=None):
        self.weights = tuple(weights)
        self.transposed = tuple(W.transpose(1, 2) for W in weights)
        self.bias_rows = tuple(b[:, None, :] for b in biases)
        self.function = _FUNCTIONS[type(activation)]
        self.derivative = _DERIVATIVES[type(activation)]
        self.loss_and_grad = loss_and_grad
        n_layers = len(self.bias_rows)
        self.weight_outs, self.bias_outs = grad_out or ([None] * n_layers, [None] * n_layers)

    def forward(self, X, first, inputs=None):
        """Outputs (K, B, n_outputs) for ``X`` (K, B, n_features) and the first layer's
        weight ``first`` (K, out, n_features); ``inputs``, a list, receives the input of
        every layer."""
        function, last = self.function, len(self.bias_rows) - 1
        for k, (W_t, b) in enumerate(zip((first.transpose(1, 2), *self.transposed), self.bias_rows)):
            if inputs is not None:
                inputs.append(X)
            X = torch.baddbmm(b, X, W_t)
            if k < last:
                X = function(X)
        return X

    def __call__(self, X, first, y, w=None):
        """One step's forward and backward pass (call it under ``torch.no_grad()``).

        Parameters
        ----------
        X : Tensor of shape (K, B, n_features)
        first : Tensor of shape (K, out, n_features)
            The first layer's weight.
        y : Tensor
            The batch's targets, for ``loss_and_grad``.
        w : Tensor of shape (K, B), optional
            Row weights: model k's loss is the batch mean of ``w[k] * row loss``.

        Returns
        -------
        losses : Tensor of shape (K,)
        weight_grads, bias_grads : lists of Tensor, every layer's (first included)
        """
        inputs = []  # the input of each layer
        out = self.forward(X, first, inputs)
        row_losses, grad = self.loss_and_grad(out, y)
        B = row_losses.shape[1]
        if w is None:
            losses, grad = row_losses.mean(dim=1), grad / B
        else:
            losses, grad = (row_losses * w).mean(dim=1), grad * (w / B)[:, :, None]
        n_layers, derivative = len(inputs), self.derivative
        weight_grads, bias_grads = [None] * n_layers, [None] * n_layers
        for k in range(n_layers - 1, -1, -1):
            weight_grads[k] = torch.bmm(grad.transpose(1, 2), inputs[k], out=self.weight_outs[k])
            bias_grads[k] = torch.sum(grad, dim=1, out=self.bias_outs[k])
            if k:
                grad = torch.bmm(grad, self.weights[k - 1])
                if derivative is not None:
                    grad = derivative(grad, inputs[k])
        return losses, weight_grads, bias_grads


@torch.no_grad()
def dead_units_block(backprop, X, first, min_range):
    """Per model, whether dead units block the inputs ``X`` (K, B, p) of the networks
    that ``backprop`` (a :class:`Backprop`) and the first-layer weight ``first``
    (K, out, p) make: some hidden layer outputs exactly zero on every row (every ReLU
    unit inactive), while the first layer's pre-activations without bias range
    (max - min over the rows) over more than ``min_range``, so the inputs do reach
    the network. Shape (K,), bool."""
    Z = torch.bmm(X, first.transpose(1, 2))
    reach = (Z.amax(dim=-2) - Z.amin(dim=-2)).amax(dim=-1) > min_range
    inputs = []  # of every layer: the hidden layers' outputs from the second on
    backprop.forward(X, first, inputs)
    dead = torch.zeros_like(reach)
    for hidden in inputs[1:]:
        dead |= hidden.eq(0).flatten(-2).all(dim=-1)
    return reach & dead


class GatedFactors:
    """The gated first layer ``W = omega * scale`` of a training step, one network's or
    K stacked ones': its factors, the tensors their gradients go into and the penalty's
    closed-form decays, taken once per epoch (see ``MLP.training_step``).

    ``scale`` is :func:`~skdgating.gating.column_scale` of the gates, one entry per
    column (per model); the caller broadcasts it over the weight's rows."""

    def __init__(self, omega, gates, penalized, feature_group, one_slice_groups, omega_decay, gate_decay):
        self.omega, self.gates = omega, gates
        self.penalized, self.feature_group, self.one_slice_groups = penalized, feature_group, one_slice_groups
        self.omega_decay, self.gate_decay = omega_decay, gate_decay

    def scale(self):
        return column_scale(self.gates, self.penalized, self.feature_group, self.one_slice_groups)

    def backward_(self, weight_grad, scale):
        """Set ``omega.grad`` and ``gates.grad`` (in place) from the gradient of ``W``:
        the chain rule through the product, plus the penalty's gradient (what
        ``DGate.add_penalty_grad_`` adds)."""
        omega, gates = self.omega, self.gates
        torch.mul(weight_grad, scale, out=omega.grad).addcmul_(omega, self.omega_decay)
        column_scale_backward(gates, (weight_grad * omega).sum(dim=-2), self.penalized, self.feature_group,
                              self.one_slice_groups, out=gates.grad).addcmul_(gates, self.gate_decay)


def _ensure_grads_(module):
    """Give every parameter of ``module`` a ``.grad`` (zeros) where it has none: the
    training step writes the gradients into them in place."""
    for p in module.parameters():
        if p.grad is None:
            p.grad = torch.zeros_like(p)


def _dead_groups(columns, feature_group, penalized):
    """The penalized groups all of whose columns are in ``columns`` (bool tensor)."""
    live = torch.zeros(len(penalized), dtype=torch.long, device=columns.device)
    live = live.index_add(0, feature_group, (~columns).long())
    return (live == 0) & penalized


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
    gate_hidden : bool, default=False
        Also D-gate every hidden neuron: its outgoing column in the next
        layer's weight is one group (group weight 1), with strength
        ``alpha_hidden``. Ignored when ``D`` is None.
    alpha_hidden : float or None, default=None
        Strength of the neurons' penalty; ``None`` uses ``alpha``.

    Notes
    -----
    The plain L2 penalty on the ungated weight matrices that the estimators use
    is not part of :meth:`penalty`: they apply it as the equivalent coupled
    weight decay of the optimizer (see :data:`UNGATED_WEIGHTS`). With
    ``gate_hidden=True`` no weight matrix is ungated.
    """

    def __init__(self, n_features, hidden_layer_sizes, n_outputs, activation="relu",
                 D=None, alpha=0.0, groups=None, gate_init="ones", gate_hidden=False,
                 alpha_hidden=None):
        super().__init__()
        self.standardize = False
        sizes = [int(n_features), *(int(h) for h in hidden_layer_sizes), int(n_outputs)]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activation = ACTIVATIONS[activation]()
        self.gated = D is not None
        # Indices of the layers whose weight is D-gated (inputs: 0; neurons: 1, 2, ...).
        self.gated_layers = []
        if self.gated:
            gate(self.layers[0], "weight", dim=1, D=D, alpha=alpha, groups=groups,
                 gate_init=gate_init)
            self.gated_layers.append(0)
            if gate_hidden:
                strength = alpha if alpha_hidden is None else alpha_hidden
                for k in range(1, len(self.layers)):
                    # One group per neuron of layer k-1: its outgoing column here.
                    gate(self.layers[k], "weight", dim=1, D=D, alpha=strength, groups=None,
                         group_weights="ones", gate_init=gate_init)
                    self.gated_layers.append(k)

    @property
    def first_layer(self):
        return self.layers[0]

    def forward(self, X):
        if self.standardize:
            X = (X - self.x_mean) * self.x_inv_scale
        activation = _FUNCTIONS[type(self.activation)]
        last = len(self.layers) - 1
        for k, layer in enumerate(self.layers):
            X = F.linear(X, self._weight(k, layer), layer.bias)
            if k < last:
                X = activation(X)
        return X

    @torch.no_grad()
    def blocked(self, X, min_range):
        """:func:`dead_units_block` for this network (a batch of one model): a bool tensor."""
        if self.standardize:
            X = (X - self.x_mean) * self.x_inv_scale
        layers = tuple(self.layers)
        backprop = Backprop([layer.weight[None] for layer in layers[1:]], [layer.bias[None] for layer in layers],
                            self.activation)
        return dead_units_block(backprop, X[None], self._weight(0, layers[0])[None], min_range)[0]

    def _weight(self, k, layer):
        """Weight of ``layer`` (layer ``k``); a gated one is computed once, straight from its factors.

        The same tensor as ``layer.weight``, without the parametrization's
        per-access machinery (the training step's largest fixed cost).
        """
        if k not in self.gated_layers:
            return layer.weight
        parametrization = layer.parametrizations["weight"]
        return parametrization[0](parametrization.original)

    def add_penalty_grad_(self):
        """Add the gradient of :meth:`penalty` to the factors' ``.grad``, in closed form."""
        for k in self.gated_layers:
            parametrization = self.layers[k].parametrizations["weight"]
            parametrization[0].add_penalty_grad_(parametrization.original)

    def supports_backprop(self, criterion):
        """Whether :meth:`backprop_` can train this network with ``criterion``: only the
        input columns gated (or nothing), and the estimators' criteria."""
        if self.gated_layers not in ([], [0]):
            return False
        if isinstance(criterion, nn.CrossEntropyLoss):
            return criterion.weight is None and criterion.label_smoothing == 0.0
        return isinstance(criterion, HalfSquaredError)

    @torch.no_grad()
    def backprop_(self, X, y, w, criterion):
        """One training step's gradients without autograd (only where
        :meth:`supports_backprop`): set every parameter's ``.grad`` to the gradient of the
        batch's mean loss (weighted by ``w`` when given) plus :meth:`penalty`, as
        ``backward()`` then :meth:`add_penalty_grad_` do, and return that loss (without
        the penalty). The training epoch calls :meth:`training_step` once instead."""
        return self.training_step(criterion)(X, y, w)

    def training_step(self, criterion):
        """The function ``(X, y, w) -> loss`` of :meth:`backprop_`, prepared once (see
        :class:`Backprop`) for the parameters and gradients the network has now: build it
        once per training epoch and call it under ``torch.no_grad()``."""
        _ensure_grads_(self)
        classification = isinstance(criterion, nn.CrossEntropyLoss)
        standardize = self.standardize
        x_mean, x_inv_scale = (self.x_mean, self.x_inv_scale) if standardize else (None, None)
        layers = tuple(self.layers)  # (slicing a ModuleList builds a new one)
        gated = self.gated
        if gated:  # the gated layer's weight gradient is an intermediate (W is not a parameter)
            parametrization = layers[0].parametrizations["weight"]
            dgate, omega = parametrization[0], parametrization.original
            factors = GatedFactors(omega, dgate.gates, dgate.penalized, dgate.feature_group, dgate._one_slice_groups,
                                   dgate._broadcast(dgate._omega_decay, omega.ndim), dgate._gate_decay)
        else:
            first = layers[0].weight[None]
        # A single network is a batch of one model: views of the same memory.
        backprop = Backprop(
            [layer.weight[None] for layer in layers[1:]], [layer.bias[None] for layer in layers], self.activation,
            lambda out, y: row_loss_and_grad(out, y, classification),
            ([None if gated else layers[0].weight.grad[None], *(layer.weight.grad[None] for layer in layers[1:])],
             [layer.bias.grad[None] for layer in layers]))

        def step(X, y, w):
            if standardize:
                X = (X - x_mean) * x_inv_scale
            if not gated:
                return backprop(X[None], first, y, None if w is None else w[None])[0][0]
            scale = factors.scale()
            losses, grads, _ = backprop(X[None], (omega * scale)[None], y, None if w is None else w[None])
            factors.backward_(grads[0][0], scale)
            return losses[0]

        return step

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
        """Weight matrices of the layers that carry no gate."""
        return [layer.weight for k, layer in enumerate(self.layers) if k not in self.gated_layers]

    def penalty(self):
        r"""The D-Gating penalty of every gated layer (0 when ungated or collapsed)."""
        if not self.gated:
            return self.layers[0].bias.new_zeros(())
        # Only the gated layers are searched: that keeps the per-batch cost small.
        total = dgating_penalty(self.layers[0])
        for k in self.gated_layers[1:]:
            total = total + dgating_penalty(self.layers[k])
        return total

    def dgate(self, layer=0):
        """``(dgate, omega)`` of a gated layer (default: the first, the input features)."""
        for _, _, dgate, omega in gated_parametrizations(self.layers[layer]):
            return dgate, omega
        raise RuntimeError(f"Layer {layer} is not gated.")

    @torch.no_grad()
    def collapse_(self, threshold, hidden_thresholds=None):
        """Replace every gated layer by its effective weight, in place.

        Groups of the first layer whose norm is ``<= threshold`` become exactly
        zero, and so do the neurons' groups of gated layer ``k >= 1`` whose norm
        is ``<= hidden_thresholds[k - 1]`` (default: ``threshold``). Afterwards the
        module is a plain MLP (picklable: parametrized modules are not).
        """
        for k in self.gated_layers:
            cutoff = threshold if k == 0 or hidden_thresholds is None else hidden_thresholds[k - 1]
            collapse_(self.layers[k], threshold=cutoff)
        self.gated = False
        self.gated_layers = []

    @torch.no_grad()
    def zero_inputs_(self, columns):
        """Set the first-layer weights of the input ``columns`` (bool, one per input) to
        exactly zero, and the gates of the penalized groups made only of them: inputs that
        are zero on every training row (:func:`skdgating._training.silent_columns`). They
        get no data gradient, and zero is a critical point of the factors: they stay zero."""
        dgate, omega = self.dgate()
        columns = torch.as_tensor(np.asarray(columns, dtype=bool), device=omega.device)
        omega[:, columns] = 0.0
        dgate.gates[_dead_groups(columns, dgate.feature_group, dgate.penalized)] = 0.0

    @torch.no_grad()
    def load_effective_(self, state_dict, gate_init="balanced"):
        """Start from the layer weights of an ungated (collapsed) MLP of the same shape.

        The effective weight of every gated layer is assigned through its
        parametrization, so its gates start from ``gate_init`` (``"balanced"``:
        the balanced factorization of those weights, which keeps the function
        and starts directly in the sparse regime).
        """
        gated_keys = {f"layers.{k}.weight": k for k in self.gated_layers}
        # Layer weights only: the standardization buffers belong to the new data.
        rest = {k: v for k, v in state_dict.items() if k.startswith("layers.") and k not in gated_keys}
        missing, unexpected = self.load_state_dict(rest, strict=False)
        missing = [k for k in missing if k.startswith("layers.") and "parametrizations" not in k]
        if unexpected or missing:
            raise ValueError(f"Weights {unexpected or missing} do not fit this architecture.")
        for key, k in gated_keys.items():
            dgate, _ = self.dgate(k)
            dgate.gate_init = gate_init
            # Assigning to a parametrized weight calls DGate.right_inverse.
            self.layers[k].weight = state_dict[key].to(self.layers[k].bias.device)
            # right_inverse gives exactly-zero groups gates 1 (right for a fresh start,
            # where 0 would be a critical point). A warm start must keep a dropped group
            # at that critical point: with gates 1 it would regrow from the first step
            # and need about D ln2 / (4 lr alpha) steps to die again, so a warm-started
            # path would re-admit noise features at every alpha. Zero gates (the
            # balanced factorization of a zero group) keep it exactly zero.
            dgate, omega = self.dgate(k)
            dead = (dgate.group_norms(omega) == 0) & dgate.penalized
            dgate.gates[dead] = 0.0

    def take_plain_layers(self):
        """The network as a list of plain modules ``[Linear, act, Linear, ..., Linear]``.

        The ``Linear`` modules are this network's own, not copies (a deep copy of
        every layer was a millisecond of each fit): the caller takes the network
        over, and this MLP must not be used afterwards. Without the input
        standardization; raises if still gated.
        """
        if self.gated:
            raise RuntimeError("Collapse the gated layers first (MLP.collapse_).")
        modules = []
        for k, layer in enumerate(self.layers):
            if k:
                modules.append(type(self.activation)())
            modules.append(layer)
        return modules


class HalfSquaredError(nn.Module):
    """``(y_pred - y)^2 / 2``, averaged (``reduction="mean"``) or per element (``"none"``)."""

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, y_pred, y):
        loss = 0.5 * (y_pred - y) ** 2
        return loss.mean() if self.reduction == "mean" else loss


# Parameter-name pattern of the stacked networks' ungated weight matrices
# (layers 2, 3, ... of every model): "weights.0", "weights.1", ...
STACKED_UNGATED_WEIGHTS = "weights.*"


class StackedMLP(nn.Module):
    """K independent D-gated MLPs of one architecture, evaluated as batched matmuls.

    Model ``k`` is the :class:`MLP` ``modules[k]`` (input columns D-gated, hidden
    neurons not), with its own penalty strength ``alphas[k]`` and its own input
    standardization. One forward pass takes a batch ``X`` of shape ``(B, p)``
    and returns every model's outputs, shape ``(K, B, n_outputs)``: the
    per-step overhead (Python, autograd, optimizer) is paid once for all K.

    Parameters
    ----------
    modules : list of MLP
        Gated, not collapsed, ``gate_hidden=False``; their current weights and
        gates are copied.
    alphas : array-like of shape (K,)
    x_shift, x_inv_scale : array-like of shape (K, p), optional
        Model ``k`` sees ``X * x_inv_scale[k] + x_shift[k]``; default: ``X``.
    """

    def __init__(self, modules, alphas, x_shift=None, x_inv_scale=None):
        super().__init__()
        if any(not m.gated or m.gated_layers != [0] for m in modules):
            raise ValueError("StackedMLP stacks MLPs with gated inputs only (no gate_hidden).")
        first = [m.dgate(0) for m in modules]
        dgate = first[0][0]
        self.D = dgate.D
        self.one_slice_groups = dgate._one_slice_groups
        self.register_buffer("feature_group", dgate.feature_group.clone())
        self.register_buffer("penalized", dgate.penalized.clone())
        self.register_buffer("group_weights", dgate.weights.clone())
        self.activation = copy.deepcopy(modules[0].activation)
        self.omega = nn.Parameter(torch.stack([omega.detach().clone() for _, omega in first]))
        self.gates = nn.Parameter(torch.stack([d.gates.detach().clone() for d, _ in first]))
        self.weights = nn.ParameterList(
            torch.stack([m.layers[k].weight.detach().clone() for m in modules])
            for k in range(1, len(modules[0].layers)))
        self.biases = nn.ParameterList(
            torch.stack([m.layers[k].bias.detach().clone() for m in modules])
            for k in range(len(modules[0].layers)))
        # The same Parameters as plain tuples: iterating a ParameterList costs about 6 us
        # an element, a tenth of a training step for the six of the default network.
        self._weight_list, self._bias_list = tuple(self.weights), tuple(self.biases)
        alphas = torch.as_tensor(alphas, dtype=self.omega.dtype).reshape(-1)
        if len(alphas) != len(modules):
            raise ValueError(f"{len(modules)} models but {len(alphas)} alphas.")
        self.register_buffer("alphas", alphas)
        # Closed-form penalty gradients (see DGate.add_penalty_grad_), per model.
        per_group = penalty_decay(self.group_weights.to(alphas.dtype), alphas[:, None], self.D)
        self.register_buffer("gate_decay", per_group[:, :, None])
        self.register_buffer("omega_decay", per_group[:, self.feature_group][:, None, :])
        self.standardize = x_shift is not None
        if self.standardize:
            self.register_buffer("x_shift", torch.as_tensor(x_shift, dtype=self.omega.dtype)[:, None, :])
            self.register_buffer("x_inv_scale",
                                 torch.as_tensor(x_inv_scale, dtype=self.omega.dtype)[:, None, :])

    @torch.no_grad()
    def load_model_(self, k, module):
        """Copy the gated factors and the other layers of the MLP ``module`` into model ``k``."""
        dgate, omega = module.dgate(0)
        self.omega[k].copy_(omega)
        self.gates[k].copy_(dgate.gates)
        for j, layer in enumerate(module.layers):
            if j:
                self._weight_list[j - 1][k].copy_(layer.weight)
            self._bias_list[j][k].copy_(layer.bias)

    @torch.no_grad()
    def zero_inputs_(self, columns):
        """:meth:`MLP.zero_inputs_` for every model: ``columns`` is bool, shape (K, p)."""
        columns = torch.as_tensor(np.asarray(columns, dtype=bool), device=self.omega.device)
        for k in range(len(columns)):
            self.omega[k][:, columns[k]] = 0.0
            self.gates[k][_dead_groups(columns[k], self.feature_group, self.penalized)] = 0.0

    def gate_scale(self):
        """Per-column multiplier of every model, shape (K, p)."""
        return column_scale(self.gates, self.penalized, self.feature_group, self.one_slice_groups)

    def first_weight(self):
        """The gated first-layer weights, shape (K, n_hidden_1, p)."""
        return self.omega * self.gate_scale()[:, None, :]

    def _inputs(self, X):
        """Every model's (standardized) inputs, shape (K, B, p)."""
        if self.standardize:
            return torch.addcmul(self.x_shift, X, self.x_inv_scale)
        return X.expand(self.omega.shape[0], -1, -1)

    def forward(self, X):
        return Backprop(self._weight_list, self._bias_list, self.activation).forward(self._inputs(X),
                                                                                     self.first_weight())

    @torch.no_grad()
    def blocked(self, X, min_range):
        """:func:`dead_units_block` for every model, shape (K,)."""
        backprop = Backprop(self._weight_list, self._bias_list, self.activation)
        return dead_units_block(backprop, self._inputs(X), self.first_weight(), min_range)

    @torch.no_grad()
    def backprop_(self, X, y, w, criterion):
        """One training step's gradients without autograd: set every parameter's
        ``.grad`` to the gradient of ``sum_k (mean over the batch of w[:, k] * loss_k) +
        penalty_k`` (what ``loss.sum().backward()`` then :meth:`add_penalty_grad_` give,
        up to float rounding) and return the K batch losses (without the penalty). The
        training epoch calls :meth:`training_step` once instead."""
        return self.training_step(criterion)(X, y, w)

    def training_step(self, criterion):
        """The function ``(X, y, w) -> losses`` of :meth:`backprop_`, prepared once (see
        :class:`Backprop`) for the parameters and gradients the network has now: build it
        once per training epoch and call it under ``torch.no_grad()``."""
        _ensure_grads_(self)
        K, omega = self.omega.shape[0], self.omega
        factors = GatedFactors(omega, self.gates, self.penalized, self.feature_group, self.one_slice_groups,
                               self.omega_decay, self.gate_decay)
        standardize = self.standardize
        x_shift, x_inv_scale = (self.x_shift, self.x_inv_scale) if standardize else (None, None)
        backprop = Backprop(self._weight_list, self._bias_list, self.activation, criterion.loss_and_grad,
                            ([None, *(p.grad for p in self._weight_list)], [p.grad for p in self._bias_list]))

        def step(X, y, w):
            X = torch.addcmul(x_shift, X, x_inv_scale) if standardize else X.expand(K, -1, -1)
            scale = factors.scale()[:, None, :]  # (K, 1, p)
            losses, grads, _ = backprop(X, omega * scale, y, w.T)
            factors.backward_(grads[0], scale)
            return losses

        return step

    def add_penalty_grad_(self):
        """Add each model's penalty gradient to the factors' ``.grad``, in closed form."""
        self.omega.grad.addcmul_(self.omega.detach(), self.omega_decay)
        self.gates.grad.addcmul_(self.gates.detach(), self.gate_decay)

    def penalty(self):
        r"""Each model's D-Gating penalty, shape (K,)."""
        K, G = self.gates.shape[:2]
        omega_sq = torch.zeros(K, G, dtype=self.omega.dtype, device=self.omega.device)
        omega_sq = omega_sq.index_add(1, self.feature_group, (self.omega**2).sum(1))
        return factor_penalty(omega_sq, self.gates, self.group_weights, self.alphas, self.D)


class StackedLoss(nn.Module):
    """Per-row losses of K stacked models, shape (K, B).

    Cross-entropy on labels (``y_mean=None``), or half the squared error
    averaged over the targets, each model's targets standardized with its own
    ``(y_mean[k], y_inv_scale[k])`` (shape (K, n_targets)).
    """

    def __init__(self, y_mean=None, y_inv_scale=None):
        super().__init__()
        self.classification = y_mean is None
        if not self.classification:
            inv = torch.as_tensor(y_inv_scale, dtype=torch.float32)
            self.register_buffer("y_inv_scale", inv[:, None, :])
            self.register_buffer("y_shift", (-torch.as_tensor(y_mean, dtype=torch.float32) * inv)[:, None, :])

    def forward(self, y_pred, y):
        if self.classification:
            # (B, C, K) against (B, K): one cross-entropy call for every model.
            return F.cross_entropy(y_pred.permute(1, 2, 0), y[:, None].expand(-1, y_pred.shape[0]),
                                   reduction="none").T
        target = torch.addcmul(self.y_shift, y, self.y_inv_scale)
        return 0.5 * (y_pred - target).square().mean(-1)

    def loss_and_grad(self, y_pred, y):
        """The per-row losses (K, B) of :meth:`forward` and their gradients with respect
        to ``y_pred`` (K, B, n_outputs)."""
        if self.classification:
            return row_loss_and_grad(y_pred, y, classification=True)
        return row_loss_and_grad(y_pred, torch.addcmul(self.y_shift, y, self.y_inv_scale), classification=False)
