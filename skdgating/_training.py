"""Training plumbing of the D-gated MLPs (private): skorch net, lean training step, batches, monitor.

skorch stays the backend (initialization, optimizer and its parameter groups,
devices, the epoch loop and its callbacks, history, pickling), but nothing of
its per-batch machinery runs: :class:`DGatingNet` overrides the public
``run_single_epoch`` hook with a lean loop (slice a batch, forward, data loss,
backward, the penalty's gradient in closed form, optimizer step), and all
bookkeeping (loss curve, schedule position, support, validation) happens once
per epoch. The same net trains one :class:`~skdgating._modules.MLP` or K of them
stacked (:class:`~skdgating._modules.StackedMLP`, see :func:`train_stacked`).
"""

import contextlib
import math
import sys
import warnings

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import check_random_state

from ._modules import MLP, STACKED_UNGATED_WEIGHTS, UNGATED_WEIGHTS, StackedLoss, StackedMLP
from ._threads import thread_limits
from ._validation import _user_stacklevel, constant_columns

# Columns below this norm are dropped whatever the relative threshold: on
# standardized inputs they move no pre-activation beyond float32 rounding, and
# without a floor a network that collapsed entirely (every norm tiny) would keep
# every feature under a purely relative rule.
NORM_FLOOR = 1e-7


def cutoff(norms, threshold):
    """Largest group norm that is still dropped (see the estimators' ``threshold``)."""
    top = float(norms.max()) if norms.numel() else 0.0
    return max(threshold * top, NORM_FLOOR)


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------
# Rows per chunk of the column statistics: the float64 temporaries stay in cache
# instead of allocating (and page-faulting) full-size copies of X.
_CHUNK_ROWS = 2048


def _float64_chunks(A):
    """``(rows, A[rows] as float64)`` for consecutive chunks of rows.

    The float64 rows live in one buffer reused by every chunk (no allocation per
    chunk); the caller may modify a chunk in place until it asks for the next one.
    """
    n = len(A)
    buffer = np.empty((min(_CHUNK_ROWS, n), *A.shape[1:]))
    for start in range(0, n, _CHUNK_ROWS):
        rows = slice(start, start + _CHUNK_ROWS)
        chunk = buffer[:min(_CHUNK_ROWS, n - start)]
        np.copyto(chunk, A[rows])
        yield rows, chunk


def _weights(A, w):
    """Row weights summing to 1 (equal weights when ``w`` is None: the same
    arithmetic either way, so weights of ones give exactly the unweighted result).

    Equal weights are replaced by exactly ``1 / n``: weights already normalized by the
    caller (``check_sample_weight``) sum to 1 only up to rounding, and dividing by that
    sum made weights of ones differ from none in the last bit on some processors (AMD
    EPYC: predictions 1 ulp apart)."""
    if w is None or np.all(w == w[0]):
        return np.full(len(A), 1.0 / len(A))
    return w / w.sum()


def _mean(A, w):
    return sum(w[rows] @ chunk for rows, chunk in _float64_chunks(A))


def _std(var, mean, n_rows):
    """Standard deviations from variances, 1 for the columns that are constant.

    A constant column carries no information; scale 1 keeps it, and the values other
    rows may have in it, finite. Constant up to rounding (:func:`constant_columns`):
    such a column's std of about 1e-17 made 1 / std about 1e16, so any row with
    another value in it (a row of another fold, a row at predict time) became about
    1e16 after standardization: on digits with probe columns, a fold whose training
    rows all share one value of a permuted pixel column made the stacked models' loss
    non-finite at the first step.
    """
    return np.where(constant_columns(var, mean, n_rows), 1.0, np.sqrt(var))


def silent_columns(X, standardize):
    """Columns that carry nothing on the training rows ``X``: the constant ones when the
    inputs are standardized (they become exactly zero), the zero ones otherwise. Their
    first-layer weights get no data gradient, so an initialized weight would keep its
    random value (at ``alpha=0`` for good) and act on any other value the column takes
    on other rows (a fold's validation rows, rows at predict time: a rare one-hot column
    absent from a fold). They start, and stay, at exactly zero
    (:meth:`skdgating._modules.MLP.zero_inputs_`), and the read-out drops them."""
    same = X.min(axis=0) == X.max(axis=0)
    return same & (bool(standardize) | ~X.any(axis=0))


def weighted_mean_std(A, w=None):
    """Column means and standard deviations (1 where a column is constant), in float64."""
    w = _weights(A, w)
    mean = _mean(A, w)
    var = np.zeros(A.shape[1:])
    for rows, chunk in _float64_chunks(A):
        chunk -= mean
        var += w[rows] @ np.square(chunk, out=chunk)
    return mean, _std(var, mean, len(A))


def standardized_float32(A, mean, scale):
    """``(A - mean) / scale`` computed in float64, returned as a new float32 array."""
    out = np.empty(A.shape, dtype=np.float32)
    inv_scale = 1.0 / np.asarray(scale, dtype=np.float64)
    for rows, chunk in _float64_chunks(A):
        chunk -= mean
        chunk *= inv_scale
        out[rows] = chunk
    return out


def standardize_float32(A, w=None):
    """``(mean, std, standardized float32 A)``: weighted_mean_std and standardized_float32 in one pass.

    The centred rows are formed once in float64 (so float32 and float64 input of
    the same values give the same result), are stored in float32 and feed the
    variance; the scaling then runs on the float32 copy. One pass over X fewer
    than the two functions: the statistics are most of a short fit's fixed cost.
    """
    w = _weights(A, w)
    mean = _mean(A, w)
    out = np.empty(A.shape, dtype=np.float32)
    var = np.zeros(A.shape[1])
    for rows, chunk in _float64_chunks(A):
        chunk -= mean
        out[rows] = chunk
        var += w[rows] @ np.square(chunk, out=chunk)
    std = _std(var, mean, len(A))
    out *= (1.0 / std).astype(np.float32)
    return mean, std, out


class TensorData(torch.utils.data.Dataset):
    """Whole-tensor dataset: inputs ``X``, targets ``y`` and per-sample weights ``w``.

    ``w`` is ``None`` (plain mean loss) or has mean 1 over the training rows, so
    the batch mean of ``w * loss`` is an unbiased estimate of the weighted mean
    loss whatever the batch. For stacked training ``w`` has one column per model.
    """

    def __init__(self, X, y=None, w=None):
        self.X, self.y, self.w = X, y, w

    def __len__(self):
        return self.X.shape[0]

    def __getitem__(self, i):
        # Row access for completeness; training and prediction go through
        # TensorBatches, which slices the whole tensors instead.
        y = None if self.y is None else (self.y[i], None if self.w is None else self.w[i])
        return self.X[i], y


class TensorBatches:
    """Minibatch iterator that slices whole tensors.

    skorch's default DataLoader fetches every row separately and collates them,
    which costs about a quarter of the training time of a small MLP; slicing
    (or gathering a shuffled index once per batch) removes that overhead.
    Shuffling uses its own seeded generator, never torch's global RNG.
    """

    def __init__(self, dataset, batch_size=200, shuffle=False, seed=None):
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(int(seed))

    def __len__(self):
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        data, n, size = self.dataset, len(self.dataset), self.batch_size
        X, y, w = data.X, data.y, data.w
        if self.shuffle:
            # The epoch's order applied once to whole tensors (index_select, a third of
            # the cost of advanced indexing); its batches are then slices, not one
            # gather per tensor and batch.
            order = torch.randperm(n, generator=self.generator).to(X.device)
            X, y, w = (None if t is None else t.index_select(0, order) for t in (X, y, w))
        if n == 0:
            return
        # The batches as views, made once per epoch (one split instead of a slice per
        # tensor and batch).
        X_batches = X.split(size)
        if y is None:
            yield from ((X_batch, None) for X_batch in X_batches)
            return
        w_batches = [None] * len(X_batches) if w is None else w.split(size)
        yield from zip(X_batches, zip(y.split(size), w_batches))


# --------------------------------------------------------------------------------------
# The net
# --------------------------------------------------------------------------------------
class CosineSchedule:
    """Learning rate ``lr/2 (1 + cos(pi t / T))`` at step ``t`` (0 after ``T`` steps)."""

    def __init__(self, lr, total_steps):
        self.lr = float(lr)
        self.total_steps = int(total_steps)

    def __call__(self, step):
        return 0.5 * self.lr * (1.0 + math.cos(math.pi * min(step, self.total_steps) / self.total_steps))


class DGatingNet(NeuralNet):
    """NeuralNet with a lean training epoch; its loss is the (weighted) mean data loss.

    The D-Gating penalty never enters the autograd graph: after ``backward`` the
    module adds its gradient in closed form (``module.add_penalty_grad_()``), so
    the step is that of "mean loss + penalty" for any optimizer. Per epoch the
    history gets ``train_loss`` (the batch-size weighted mean of the batch data
    losses plus the penalty at the end of the epoch; one value per model for a
    stacked module), ``train_rows`` and ``train_batch_count``. An epoch after which
    a network's outputs no longer depend on its inputs (dead hidden units,
    :class:`CollapseGuard`) is run again, from the last state before the collapse,
    at half the learning rate, with a ``ConvergenceWarning``.

    Parameters
    ----------
    lr_schedule : callable or None, default=None
        Learning rate as a function of the global step (from 0), set before
        every step; ``None`` keeps ``lr``.
    *args, **kwargs
        Those of :class:`skorch.NeuralNet`.
    """

    def __init__(self, *args, lr_schedule=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lr_schedule = lr_schedule

    def fit_loop(self, X, y=None, epochs=None, **kwargs):
        # The guard checks the network after the last epoch (CollapseGuard).
        self._last_epoch = len(self.history) + (self.max_epochs if epochs is None else epochs)
        return super().fit_loop(X, y, epochs, **kwargs)

    def on_train_end(self, net, **kwargs):
        # The collapse guard holds training rows, the training-time module and its copy: not kept.
        self.__dict__.pop("_collapse_guard", None)
        return super().on_train_end(net, **kwargs)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y, w = y_true
        loss = self.criterion_(y_pred, y)
        if loss.ndim == 0 and w is not None:
            raise RuntimeError("sample weights reached a criterion that averages; build the net with "
                               "criterion__reduction='none'.")
        if loss.ndim > 0:  # per-sample losses: the criterion reduces only without weights
            per_sample = loss.mean(dim=1) if loss.ndim > 1 else loss  # regression: mean over outputs
            loss = per_sample.mean() if w is None else (per_sample * w).mean()
        return loss

    def initialize_optimizer(self, *args, **kwargs):
        # The optimizer updates the parameters as one tensor where they tile one buffer
        # (FlatParameters): make them so, every time an optimizer is built (a warm start
        # loads weights and builds a new one).
        share_one_buffer_(self.module_)
        return super().initialize_optimizer(*args, **kwargs)

    def gradient_step(self, params):
        """The function ``(X, y) -> loss`` of a training step, and whether it needs autograd:
        it sets the ``.grad`` of ``params`` (every trained parameter) to the gradient of the
        batch's loss plus the penalty and returns the loss, detached. The module's
        hand-written backward pass where it has one for this criterion
        (``MLP.training_step``: no autograd engine, see ``skdgating._modules.Backprop``),
        autograd otherwise. Built once per epoch."""
        module, criterion = self.module_, self.criterion_
        if getattr(module, "supports_backprop", None) and module.supports_backprop(criterion):
            step = module.training_step(criterion)
            return (lambda X, y: step(X, y[0], y[1])), False

        def autograd_step(X, y):
            # The gradients are reset by setting them to None, which is what
            # torch.optim's zero_grad() does through torch._dynamo's "disable" wrapper
            # (about 10 us per step, against about 1 us for this loop on the default network).
            for p in params:
                p.grad = None
            loss = self.get_loss(module(X), y, X=X, training=True)
            (loss if loss.ndim == 0 else loss.sum()).backward()
            module.add_penalty_grad_()
            return loss.detach()

        return autograd_step, True

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        if not training or iterator is None:
            return super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)
        module, optimizer = self.module_, self.optimizer_
        # Training mode once per epoch, only where something left it (the monitor scores
        # in eval mode between epochs; the stacked net has no monitor).
        for part in (module, self.criterion_):
            if not part.training:
                part.train()
        # skorch opened this epoch's history row before the training pass.
        first_step = (len(self.history) - 1) * len(iterator)
        params = [p for group in optimizer.param_groups for p in group["params"]]
        guard = CollapseGuard.of(self, iterator)
        guard.start(params, optimizer)
        last = len(self.history) == getattr(self, "_last_epoch", None)
        for attempt in range(MAX_COLLAPSE_RETRIES + 1):
            losses, sizes = self._train_epoch(iterator, params, first_step)
            if not guard.collapsed(params, optimizer, len(sizes), last):
                break
            # The network's outputs stopped depending on its inputs (CollapseGuard), which
            # restored its last checked state: run this epoch again from there with half
            # the learning rate, which stays halved for the rest of this fit.
            if attempt == MAX_COLLAPSE_RETRIES:
                raise ValueError(
                    f"The network's outputs stopped depending on X during epoch {len(self.history)} even at "
                    f"1/{2**MAX_COLLAPSE_RETRIES} of the learning rate ({self.lr:g}): its hidden units died. Lower "
                    "learning_rate_init, and standardize X (e.g. with StandardScaler).")
            self.lr_factor_ = getattr(self, "lr_factor_", 1.0) * 0.5
            for group in optimizer.param_groups:
                group["lr"] *= 0.5  # a constant rate (a schedule sets it at every step)
            warnings.warn(
                f"The network's outputs stopped depending on X during training (its hidden units died at "
                f"learning rate {self.lr:g}); training went on from its last state before that with the "
                f"learning rate scaled by {self.lr_factor_:g} for the rest of the fit. Lower "
                "learning_rate_init to avoid this.", ConvergenceWarning, stacklevel=_user_stacklevel())
        with torch.no_grad():
            losses, penalty = torch.stack(losses).cpu().double().numpy(), module.penalty().cpu().double().numpy()
        # The batch-size weighted mean of the batch losses, in numpy (the torch version
        # was a sixth of the per-epoch overhead, which is a fifth of a 3-step epoch).
        epoch_loss = np.asarray(sizes, dtype=float) @ losses / sum(sizes) + penalty
        self.history.record(prefix + "_loss", float(epoch_loss) if epoch_loss.ndim == 0 else epoch_loss)
        self.history.record(prefix + "_rows", sum(sizes))
        self.history.record(prefix + "_batch_count", len(sizes))

    def _train_epoch(self, iterator, params, step):
        """The SGD steps of one pass over ``iterator``, from global step ``step``: the
        batch losses (tensors) and sizes."""
        optimizer, schedule = self.optimizer_, self.lr_schedule
        factor = getattr(self, "lr_factor_", 1.0)
        gradient_step, autograd = self.gradient_step(params)
        update = optimizer.epoch_update(autograd) if isinstance(optimizer, MomentumSGD) else optimizer.step
        losses, sizes = [], []
        # The hand-written step runs without autograd: one no_grad context per epoch.
        with contextlib.nullcontext() if autograd else torch.no_grad():
            for X, y in iterator:
                if schedule is not None:
                    lr = schedule(step) * factor
                    for group in optimizer.param_groups:
                        group["lr"] = lr
                step += 1
                loss = gradient_step(X, y)
                update()
                losses.append(loss)  # no .item(): no synchronization per batch
                sizes.append(len(X))
        return losses, sizes


# An epoch in which a network's outputs stop depending on its inputs is repeated with
# half the learning rate, at most this many times (then the fit stops with an error).
MAX_COLLAPSE_RETRIES = 4
# Outputs whose range over the probe rows exceeds this (logits, or standardized
# targets) depend on the inputs; see CollapseGuard.
VARIED_SPREAD = 1e-3
PROBE_ROWS = 64
# The guard checks the network after the first epoch that ends at least this many SGD
# steps after its last check, and after a fit's last epoch (see CollapseGuard).
CHECK_STEPS = 100


class CollapseGuard:
    """Stops a network's outputs from ending up independent of its inputs.

    SGD with momentum near the edge of its stable learning rate can throw a ReLU
    network into a state where every unit of some hidden layer is inactive on every
    row: the outputs are then exactly constant, no gradient reaches the weights below,
    and the fit ends as a constant predictor however long it trains. Seen on
    ``make_regression(50000, 20, n_informative=4, noise=5)`` (training R^2 0.9986 at
    other seeds): with ``random_state=6`` the default fit's final relaxation at
    ``learning_rate_init=0.05`` died in its first epoch and the fit shipped a constant
    (R^2 0.0000, without a warning); the same epoch at half the rate did not.

    The probe is the network's outputs on the first ``PROBE_ROWS`` training rows. The
    network *collapsed* when an output's range there (max - min) exceeded
    ``VARIED_SPREAD`` at the last check, every output is exactly equal on those rows
    now, and the module's ``blocked`` (:func:`~skdgating._modules.dead_units_block`)
    holds there (for a stacked network: for any of its models): some hidden layer
    outputs exactly zero on every row (every ReLU unit inactive), while the first
    layer's pre-activations without bias still range over more than
    ``VARIED_SPREAD``, so the inputs reach the network and dead units block them.
    Layers that the penalty fades out are not a collapse: at the sparse end of a
    path the gates shrink by up to half per step (alpha near ``D / (4 lr)``) and the
    outputs become exactly constant within a hundred steps, with the first layer's
    range gone and the hidden units at their biases, not all at zero. (A first version
    of this guard, which judged the outputs alone, took that for a collapse and kept
    2-3 columns alive at the sparse end of a test path.) Smooth activations never
    collapse this way, and a network whose outputs were already (nearly) constant, or
    whose probe rows are equal, is never judged.

    A check costs a forward pass of the probe rows and a copy of the parameters and
    the optimizer's state (the state a collapse goes back to), about one training step:
    once per ``CHECK_STEPS`` steps, about 1% of the training time, where every epoch
    was 10-20% on small data (3 steps per epoch).
    """

    def __init__(self, module, rows):
        self.module, self.rows = module, rows
        self.checkpoint, self.before, self.since = None, None, 0

    @classmethod
    def of(cls, net, iterator):
        """The net's guard (kept between the epochs of one module's training)."""
        guard = getattr(net, "_collapse_guard", None)
        if guard is None or guard.module is not net.module_:
            guard = net._collapse_guard = cls(net.module_, iterator.dataset.X[:PROBE_ROWS])
        return guard

    @torch.no_grad()
    def _spread(self):
        """Per model, the largest range (max - min over the probe rows) of an output: 0
        exactly when the outputs are equal on every probe row."""
        out = self.module(self.rows)
        return (out.amax(dim=-2) - out.amin(dim=-2)).amax(dim=-1)

    def _check_in(self, params, optimizer, spread):
        """Record a checked state: the one a later collapse goes back to."""
        self.before, self.since = spread, 0
        varied = len(self.rows) > 1 and bool((spread > VARIED_SPREAD).any())
        self.checkpoint = EpochCheckpoint(params, optimizer) if varied else None

    def start(self, params, optimizer):
        """At an epoch's start: check in the state a fresh (or warm-started) network starts from."""
        if self.before is None:
            self._check_in(params, optimizer, self._spread())

    def collapsed(self, params, optimizer, steps, last):
        """After an epoch of ``steps`` steps (``last``: the fit's last): whether the network
        collapsed since the last check, in which case its checked state is restored."""
        self.since += steps
        if self.since < CHECK_STEPS and not last:
            return False
        spread = self._spread()
        constant = (spread == 0) & (self.before > VARIED_SPREAD)
        # Dead units, not layers the penalty faded out (checked only then: it costs a forward pass).
        if (self.checkpoint is not None and bool(constant.any())
                and bool((constant & self.module.blocked(self.rows, VARIED_SPREAD)).any())):
            self.checkpoint.restore_(params, optimizer)
            self.since = 0
            return True
        self._check_in(params, optimizer, spread)
        return False


class EpochCheckpoint:
    """A copy of the parameters and the optimizer's state at an epoch's boundary, to go
    back to (:class:`CollapseGuard`)."""

    @torch.no_grad()
    def __init__(self, params, optimizer):
        self.params = [p.detach().clone() for p in params]
        self.state = [None if p not in optimizer.state else
                      {k: v.clone() if torch.is_tensor(v) else v for k, v in optimizer.state[p].items()}
                      for p in params]

    @torch.no_grad()
    def restore_(self, params, optimizer):
        for p, value, state in zip(params, self.params, self.state):
            p.copy_(value)
            if state is None:
                optimizer.state.pop(p, None)
                continue
            current = optimizer.state[p]
            for k, v in state.items():
                if torch.is_tensor(v) and torch.is_tensor(current.get(k)):
                    current[k].copy_(v)  # in place: the optimizer's flat buffers hold views
                else:
                    current[k] = v
        flat = getattr(optimizer, "_flat", None)
        if flat is not None and all(state is None for state in self.state):
            flat.buffer = None  # no momentum yet at the epoch's start


class MomentumSGD(torch.optim.Optimizer):
    """SGD with momentum and coupled weight decay: the update of ``torch.optim.SGD``, lean.

    Per parameter, with ``g`` its gradient: ``g += weight_decay * p``; the momentum
    buffer ``b`` is ``g`` at the first step, then ``b = momentum * b + g``;
    ``p -= lr * b``. That is ``torch.optim.SGD`` with ``dampening=0`` and
    ``nesterov=False``, operation for operation its CPU path, so a fit gives the
    same model with either.

    Why not ``torch.optim.SGD`` itself: its constructor imports ``torch._dynamo``
    (``Optimizer.add_param_group`` is wrapped in ``torch._disable_dynamo``), about
    1 s on the project machine once per process, most of a first short fit; no
    constructor option (``foreach``, ``fused``) avoids it. Its ``zero_grad`` goes
    through the same wrapper (about 10 us a call) and its ``step`` through
    ``torch._dynamo`` graph breaks. This subclass overrides exactly those three
    methods; skorch handles it as any ``torch.optim.Optimizer`` (parameter groups
    from ``optimizer__param_groups``, devices, ``param_groups[i]["lr"]``).

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters, or parameter groups (dicts with ``"params"`` and overrides).
    lr : float
    momentum : float, default=0.0
    weight_decay : float, default=0.0
    """

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    def add_param_group(self, param_group):
        # torch's version without its dynamo wrapper and its checks (skorch builds
        # disjoint groups of leaf tensors).
        params = param_group["params"]
        params = [params] if isinstance(params, torch.Tensor) else list(params)
        self.param_groups.append({**self.defaults, **param_group, "params": params})

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self, closure=None):
        if closure is not None:
            raise ValueError("MomentumSGD.step takes no closure.")
        self.update_()

    @torch.no_grad()
    def update_(self):
        """The step without the wrapper ``torch.optim.Optimizer`` puts around ``step``
        (profiler record and hooks: about 25 us a step, some 5% of a stacked step); the
        training epoch calls this. (``torch._foreach_*`` updates were measured too: on
        CPU they cost the same as this loop.)

        When the parameters tile one buffer (the estimators' networks do, see
        :func:`share_one_buffer_` and :class:`FlatParameters`) and share one learning
        rate, the update runs on that buffer: three operations a step in all instead of three
        per parameter, element for element the same arithmetic.
        """
        flat = self._flat_parameters()
        if flat is not None and flat.update_(self):
            return
        for group in self.param_groups:
            lr, momentum, decay = group["lr"], group["momentum"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad if decay == 0 else p.grad.add(p, alpha=decay)
                if momentum != 0:
                    state = self.state[p]
                    buffer = state.get("momentum_buffer")
                    if buffer is None:
                        buffer = state["momentum_buffer"] = grad.detach().clone()
                    else:
                        buffer.mul_(momentum).add_(grad)
                    grad = buffer
                p.add_(grad, alpha=-lr)

    def epoch_update(self, autograd):
        """The update of one training epoch's steps: :meth:`update_`, or where the
        parameters and the gradients the hand-written backward pass writes tile buffers
        (``autograd=False``), the same arithmetic with its checks made once per epoch
        (:meth:`FlatParameters.epoch_update`)."""
        flat = None if autograd else self._flat_parameters()
        return (flat is not None and flat.epoch_update(self)) or self.update_

    def _flat_parameters(self):
        # Found once per optimizer (skorch builds one per fit); not pickled.
        if not hasattr(self, "_flat"):
            self._flat = FlatParameters.find(self.param_groups)
        return self._flat


@torch.no_grad()
def share_one_buffer_(module):
    """Make the parameters of ``module`` consecutive views of one new buffer (their values
    unchanged; the Parameter objects stay the same), and their ``.grad`` the same views of
    a second one: :class:`MomentumSGD` then updates them as one tensor
    (:class:`FlatParameters`), from gradients the hand-written backward pass writes in
    place (``_modules.Backprop``'s ``grad_out``). An autograd step replaces the ``.grad``
    (the optimizer then gathers them)."""
    params = [p for p in module.parameters() if p.dtype.is_floating_point]
    if not params or any(p.dtype != params[0].dtype or p.device != params[0].device for p in params):
        return
    flat = torch.cat([p.reshape(-1) for p in params])
    grads = torch.zeros_like(flat)
    sizes = [p.numel() for p in params]
    for p, view, grad in zip(params, flat.split(sizes), grads.split(sizes)):
        p.data = view.view_as(p)
        p.grad = grad.view_as(p)


@torch.no_grad()
def release_training_buffers_(module):
    """Undo :func:`share_one_buffer_` once training is over: every parameter gets memory
    of its own and no gradient. A fitted network that kept views of the training buffer
    kept all of it alive (and pickled it once per parameter: 3x the pickle of a default
    network) and its gradients with it."""
    for p in module.parameters():
        p.grad = None
        p.data = p.data.clone()


def _tiled_buffer(tensors):
    """The 1-D tensor over the storage that ``tensors`` tile, in this order, contiguous
    and back to back from its start to its end (as :func:`share_one_buffer_` lays
    them out), or None."""
    if not tensors or any(not t.is_contiguous() or t.dtype != tensors[0].dtype for t in tensors):
        return None
    storage = tensors[0].untyped_storage()
    end = 0
    for t in tensors:
        if t.untyped_storage().data_ptr() != storage.data_ptr() or t.storage_offset() != end:
            return None
        end += t.numel()
    if end * tensors[0].element_size() != storage.nbytes():
        return None
    return tensors[0].new_empty(0).set_(storage, 0, (end,))


class FlatParameters:
    """The parameters of an optimizer, when they tile one contiguous buffer.

    The training step of a small network is a few dozen tiny operations, and the
    optimizer's loop paid three of them per parameter (on the stacked network of the
    default architecture, 21 of about 70 operations in a step). On one buffer the
    update ``g += decay * p; b = momentum * b + g; p -= lr * b`` is three operations
    on the gradients' buffer, which the hand-written backward pass fills in place
    (else the gradients are gathered into one first), with the same values: each
    element sees the same operations as in the loop. The momentum buffer is one
    buffer too; the optimizer's per-parameter state holds views of it. Measured on a
    Wage-sized stacked step: 0.40 -> 0.32 ms with the items of the same change.
    """

    def __init__(self, data, params, decay, grad_data=None):
        self.data, self.params, self.decay = data, params, decay
        # The gradients' own buffer when the .grad tile one (share_one_buffer_): used as
        # long as every .grad is still the view it was (an autograd step replaces them).
        self.grad_data = grad_data
        self.grad_views = [p.grad for p in params]
        self.buffer = None

    @classmethod
    def find(cls, param_groups):
        """A FlatParameters of these groups' parameters, or None (any other layout)."""
        params = [p for group in param_groups for p in group["params"]]
        decays = {id(p): group["weight_decay"] for group in param_groups for p in group["params"]}
        params = sorted(params, key=lambda p: p.storage_offset())
        data = _tiled_buffer(params)
        if data is None:
            return None
        decay = None
        if any(decays[id(p)] for p in params):
            decay = torch.cat([torch.full((p.numel(),), float(decays[id(p)]), dtype=p.dtype, device=p.device)
                               for p in params])
        # The gradients' buffer, when their .grad tile one in the same order.
        grads = [p.grad for p in params]
        grad_data = None if any(g is None for g in grads) else _tiled_buffer(grads)
        return cls(data, params, decay, grad_data)

    def epoch_update(self, optimizer):
        """:meth:`update_` as a function ``() -> None`` for an epoch whose gradients stay
        the views the backward pass writes into (the hand-written step never replaces
        them): the checks of :meth:`update_` made here once, the learning rate read at
        every step (a schedule sets it). Where the learning rates of the groups differ,
        a step is the optimizer's ``update_``. None where the gradients are not those
        views."""
        groups = optimizer.param_groups
        first, others, momentum = groups[0], groups[1:], groups[0]["momentum"]
        if (self.grad_data is None or any(g["momentum"] != momentum for g in others)
                or any(p.grad is not view for p, view in zip(self.params, self.grad_views))):
            return None
        grad = self.grad_data

        def update():
            lr = first["lr"]
            if any(g["lr"] != lr for g in others) or not self.step_(optimizer, grad, lr, momentum):
                optimizer.update_()

        return update

    def update_(self, optimizer):
        """One step on the buffer; False (nothing done) where the loop must run instead:
        a parameter without gradient, or groups with different settings."""
        groups = optimizer.param_groups
        lr, momentum = groups[0]["lr"], groups[0]["momentum"]
        if any(g["lr"] != lr or g["momentum"] != momentum for g in groups[1:]):
            return False
        grads = [p.grad for p in self.params]
        if any(g is None for g in grads):
            return False
        if self.grad_data is not None and all(g is view for g, view in zip(grads, self.grad_views)):
            # Written in place by the backward pass (and decayed in place below: the
            # next backward pass overwrites it).
            grad = self.grad_data
        else:
            grad = torch.cat([g.reshape(-1) for g in grads])
        return self.step_(optimizer, grad, lr, momentum)

    def step_(self, optimizer, grad, lr, momentum):
        """The arithmetic of one step from the gradients' buffer ``grad`` (decayed in
        place); False (nothing done) where the per-parameter loop has been stepping
        (its momentum buffers are the state)."""
        if momentum != 0 and self.buffer is None and any("momentum_buffer" in optimizer.state[p]
                                                         for p in self.params):
            return False
        if self.decay is not None:
            grad.addcmul_(self.data, self.decay)
        if momentum != 0:
            if self.buffer is None:
                self.buffer = grad.clone()
                offset = 0
                for p in self.params:  # views, so state_dict() keeps its meaning
                    optimizer.state[p]["momentum_buffer"] = self.buffer[offset:offset + p.numel()].view_as(p)
                    offset += p.numel()
            else:
                self.buffer.mul_(momentum).add_(grad)
            grad = self.buffer
        self.data.add_(grad, alpha=-lr)
        return True


# skorch's default callbacks that the lean epoch replaces (its loss is recorded by
# the epoch itself, there is no skorch validation pass, the estimator prints its
# own progress), switched off through skorch's public parameters.
NO_DEFAULT_CALLBACKS = {"callbacks__train_loss": None, "callbacks__valid_loss": None,
                        "callbacks__print_log": None}


def resolve_device(device):
    """The torch device of the ``device`` parameter ("auto": CUDA when available)."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if isinstance(device, str) and device.split(":")[0] == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested, but CUDA is not available; use "
                         "device='cpu' or 'auto'.")
    return device


def net_kwargs(params, n_batches, device, ungated_weights=UNGATED_WEIGHTS):
    """Keyword arguments of :class:`DGatingNet` shared by every MLP fit.

    ``params`` are the estimator's parameters (learning rate, schedule,
    optimizer, momentum, ``l2``, ``max_epochs``); ``ungated_weights`` is the
    name pattern of the weight matrices that ``l2`` decays.
    """
    if params["optimizer"] == "sgd":
        optimizer, kwargs = MomentumSGD, {"optimizer__momentum": params["momentum"]}
    else:
        optimizer, kwargs = torch.optim.Adam, {}
    # l2 * ||W||^2 on the ungated weight matrices, applied as its gradient
    # 2 * l2 * W through the optimizer's coupled weight decay (added to the
    # gradient before momentum / Adam's moments, so the same update as adding
    # the term to the loss, without computing it every batch).
    kwargs["optimizer__param_groups"] = [(ungated_weights, {"weight_decay": 2.0 * float(params["l2"])})]
    lr = float(params["learning_rate_init"])
    schedule = None
    if params["learning_rate"] == "cosine":
        schedule = CosineSchedule(lr, int(params["max_epochs"]) * n_batches)
    return dict(optimizer=optimizer, lr=lr, lr_schedule=schedule, max_epochs=int(params["max_epochs"]),
                iterator_train=TensorBatches, iterator_train__shuffle=True, iterator_valid=TensorBatches,
                # Prediction batches only bound memory; make them large.
                iterator_valid__batch_size=4096, train_split=None, device=device, verbose=0,
                **NO_DEFAULT_CALLBACKS, **kwargs)


# --------------------------------------------------------------------------------------
# Per-epoch monitoring and scores
# --------------------------------------------------------------------------------------
class Monitor(Callback):
    """Per-epoch divergence check, support, validation score, early stopping and progress output."""

    def __init__(self, threshold, group_sizes, penalized, lr, alpha, verbose=0, max_epochs=1,
                 valid=None, scorer=None, patience=10, tol=0.0):
        self.threshold = threshold
        self.group_sizes = group_sizes
        self.penalized = penalized
        self.lr, self.alpha = lr, alpha
        self.verbose = verbose
        self.max_epochs = max_epochs
        self.valid = valid
        self.scorer = scorer
        self.patience = patience
        self.tol = tol

    def on_train_begin(self, net, **kwargs):
        self.epoch_ = 0
        self.supports_ = []
        self.n_selected_ = []
        self.scores_ = []
        self.best_score_ = -np.inf
        self.best_state_ = None
        self.best_epoch_ = 0
        self.stopped_early_ = False
        self.bar_ = None
        if self.verbose > 0:
            from tqdm.auto import tqdm

            self.bar_ = tqdm(total=self.max_epochs, desc="D-Gating MLP", unit="epoch",
                             file=sys.stderr, leave=True)

    def current_support(self, module):
        dgate, omega = module.dgate()
        with torch.no_grad():
            norms = dgate.group_norms(omega)
            keep = norms > cutoff(norms, self.threshold)
        return keep.cpu().numpy() | ~self.penalized

    def on_epoch_end(self, net, **kwargs):
        self.epoch_ += 1
        loss = net.history[-1, "train_loss"]
        # Checked once per epoch: a diverged loss stays non-finite once it is.
        if not math.isfinite(loss):
            raise ValueError(
                f"The training loss became {loss} in epoch {self.epoch_}: the "
                f"optimization diverged. Lower learning_rate_init (now {self.lr:g}) or alpha "
                f"(now {self.alpha:g}), and standardize X (e.g. with StandardScaler)."
            )
        support = self.current_support(net.module_)
        self.supports_.append(support)
        n_selected = int(self.group_sizes[support].sum())
        self.n_selected_.append(n_selected)
        net.history.record("n_selected", n_selected)
        score = None
        if self.valid is not None:
            score = self.scorer(net.module_, *self.valid)
            self.scores_.append(score)
            net.history.record("valid_score", score)
            if score > self.best_score_ + self.tol:
                self.best_epoch_ = self.epoch_
                self.best_state_ = {k: v.detach().clone() for k, v in net.module_.state_dict().items()}
            # Track the best score itself (sklearn's rule: stop after `patience`
            # epochs without an improvement of more than tol over the best).
            self.best_score_ = max(self.best_score_, score)
        if self.bar_ is not None:
            postfix = {"loss": f"{loss:.4g}", "n_selected": n_selected}
            if score is not None:
                postfix["val_score"] = f"{score:.4g}"
            self.bar_.set_postfix(postfix, refresh=False)
            self.bar_.update(1)
            if self.verbose > 1:
                self.bar_.write(f"epoch {self.epoch_:4d}  loss {loss:.6g}  n_selected {n_selected}"
                                + ("" if score is None else f"  validation score {score:.6g}"),
                                file=sys.stderr)
        if self.valid is not None and self.epoch_ - self.best_epoch_ >= self.patience:
            self.stopped_early_ = True
            # skorch's own EarlyStopping stops training the same way.
            raise KeyboardInterrupt

    def on_train_end(self, net, **kwargs):
        if self.best_state_ is not None:
            net.module_.load_state_dict(self.best_state_)
        self.close()

    def close(self):
        """Release the progress bar and the data (so the fitted net pickles small)."""
        if getattr(self, "bar_", None) is not None:
            self.bar_.close()
        self.bar_ = None
        self.valid = None
        self.best_state_ = None


def score_classifier(module, X, y, w):
    with torch.no_grad():
        module.eval()
        pred = module(X).argmax(dim=1).cpu().numpy()
    return accuracy_score(y.cpu().numpy(), pred, sample_weight=None if w is None else w.cpu().numpy())


def score_regressor(module, X, y, w):
    with torch.no_grad():
        module.eval()
        pred = module(X).cpu().numpy()
    return r2_score(y.cpu().numpy(), pred, sample_weight=None if w is None else w.cpu().numpy())


# --------------------------------------------------------------------------------------
# Stacked training: K models (the folds of a CV, the alphas of a grid) in one net
# --------------------------------------------------------------------------------------
class StackedNet(DGatingNet):
    """DGatingNet over a :class:`~skdgating._modules.StackedMLP`: the loss is one value per model.

    The batch weights have one column per model (its 0/1 training mask times
    the sample weights, normalized to mean 1 over all rows), so the batch mean
    of weight * loss estimates each model's own weighted mean loss whatever
    rows the batch holds; the models share batches but not parameters, so the
    gradient of the summed loss is each model's own gradient.
    """

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y, w = y_true
        return (self.criterion_(y_pred, y) * w.T).mean(dim=1)

    def gradient_step(self, params):
        # The stacked network's backward pass is written out (StackedMLP.training_step).
        step = self.module_.training_step(self.criterion_)
        return (lambda X, y: step(X, y[0], y[1])), False


class StackedFit:
    """One model of :func:`train_stacked`: its collapsed weights, support and a predictor.

    Attributes
    ----------
    alpha : float
    coef : ndarray of shape (n_hidden_1, n_features)
        Effective first-layer weights on standardized inputs, dropped groups
        exactly zero (as the estimators' ``coef_``).
    group_norms : ndarray of shape (n_groups,)
    support : ndarray of bool, shape (n_features,)
    loss_curve : ndarray of shape (n_epochs,)
        Per epoch: mean weighted data loss over the model's rows plus its penalty.
    module : MLP
        The ungated network (dropped columns zero) on raw inputs, float32, CPU.
    y_mean, y_scale : ndarray or None
        The regression target standardization (None for classification).
    """

    def __init__(self, alpha, coef, group_norms, support, loss_curve, module, y_mean=None, y_scale=None):
        self.alpha = alpha
        self.coef = coef
        self.group_norms = group_norms
        self.support = support
        self.loss_curve = loss_curve
        self.module = module
        self.y_mean, self.y_scale = y_mean, y_scale

    def decision(self, X):
        """Network outputs for raw ``X``: logits (classification) or targets (regression), float64."""
        with torch.no_grad():
            out = self.module(torch.as_tensor(np.asarray(X), dtype=torch.float32)).double().numpy()
        return out if self.y_mean is None else out * self.y_scale + self.y_mean


def step_flops(n_features, hidden, n_outputs, batch_size):
    """Floating-point operations of the largest layer's forward and backward products
    on one batch (what sizes the thread pools, see :mod:`skdgating._threads`)."""
    sizes = [int(n_features), *hidden, int(n_outputs)]
    return 6.0 * batch_size * max(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def forward_thread_limits(n_threads, n_features, hidden, n_outputs, n_rows):
    """The thread pools for a forward pass over ``n_rows`` rows (predict, validation
    scoring): a forward pass is a third of a training step's products."""
    return thread_limits(n_threads, step_flops(n_features, hidden, n_outputs, n_rows) / 3)


def train_stacked(X, y, train_masks, alphas, params, *, classification, sample_weight=None,
                  feature_names=None, warm_start_from=None):
    """Train K independent D-gated MLPs at once, model ``k`` on rows ``train_masks[k]`` at ``alphas[k]``.

    The K folds of a cross-validation (one mask per fold, one alpha) or the
    alphas of a grid (one mask, K alphas), or both, train as one stacked
    network in one skorch net: every step runs all K models on a shared batch,
    each weighting only its own rows. Each model's objective is exactly the
    estimators' (its weighted mean loss over its rows plus its penalty; inputs,
    and regression targets, standardized on its rows). Seeds follow the
    estimators: ``params["random_state"]`` gives the initialization (the same for
    every model, as K separate fits with that random_state would have) and the
    batch order.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Validated float data.
    y : ndarray
        Encoded class labels 0..n_classes-1 (``classification=True``) or
        float targets of shape (n_samples,) or (n_samples, n_targets).
    train_masks : array-like of bool, shape (K, n_samples)
    alphas : array-like of shape (K,)
    params : dict
        The estimator's parameters (``get_params()``); ``early_stopping`` and
        ``gate_hidden`` are not supported.
    classification : bool
    sample_weight : array-like of shape (n_samples,), optional
    feature_names : array-like of str, optional
        Resolve column names in ``params["groups"]``.
    warm_start_from : list of StackedFit, optional
        Start model ``k`` from ``warm_start_from[k]`` (balanced gates, dropped
        groups kept at zero), as the estimators' ``warm_start``.

    Returns
    -------
    list of StackedFit
        One per model, in the order of ``train_masks``.
    """
    from .groups import make_groups

    if params.get("early_stopping") or params.get("gate_hidden"):
        raise ValueError("train_stacked supports neither early_stopping nor gate_hidden.")
    masks = np.asarray(train_masks, dtype=bool)
    alphas = np.asarray(alphas, dtype=np.float64).reshape(-1)
    n_samples, n_features = X.shape
    if masks.ndim != 2 or masks.shape[1] != n_samples or len(masks) != len(alphas):
        raise ValueError(f"train_masks must have shape (len(alphas), n_samples) = ({len(alphas)}, {n_samples}), "
                         f"got {masks.shape}.")
    if not masks.any(axis=1).all():
        raise ValueError("Every model needs at least one training row.")
    K = len(alphas)
    groups = make_groups(params["groups"], n_features, params["group_weights"], feature_names)
    sw = np.ones(n_samples) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    rng = check_random_state(params["random_state"])
    init_seed, shuffle_seed, _ = rng.randint(0, np.iinfo(np.int32).max, size=3)  # as the estimators
    device = resolve_device(params["device"])

    # Inputs: standardized once by the statistics of all rows (float64), then per
    # model to its own rows' statistics inside the network (an affine map per model).
    x_shift = x_inv = None
    silent, stats = [], []  # per model: its silent columns and, standardized, its rows' statistics
    for m in masks:
        rows = X[m]  # one copy of the model's rows for both
        silent.append(silent_columns(rows, params["standardize"]))
        if params["standardize"]:
            stats.append(weighted_mean_std(rows, sw[m]))
    silent = np.array(silent)  # (K, p)
    if params["standardize"]:
        g_mean, g_scale = weighted_mean_std(X)
        x_inv = np.array([g_scale / s for _, s in stats])
        x_inv[silent] = 0.0  # a model's constant columns: exactly zero inputs, as in the estimators
        x_shift = np.array([(g_mean - m) / s for m, s in stats])
        X32 = standardized_float32(X, g_mean, g_scale)
    else:
        X32 = np.asarray(X, dtype=np.float32)
    if classification:
        n_outputs = int(y.max()) + 1
        y_t, criterion, y_stats = torch.as_tensor(np.asarray(y, dtype=np.int64)), StackedLoss(), [(None, None)] * K
    else:
        y2 = np.asarray(y, dtype=np.float64).reshape(n_samples, -1)
        n_outputs = y2.shape[1]
        y_stats = [weighted_mean_std(y2[m], sw[m]) for m in masks]
        y_t = torch.as_tensor(y2, dtype=torch.float32)
        criterion = StackedLoss(np.array([m for m, _ in y_stats]), np.array([1.0 / s for _, s in y_stats]))
    w = masks.T * sw[:, None]
    w = w / w.mean(axis=0)  # mean 1 over all rows: each model's batch loss is unbiased for its own mean

    hidden = params["hidden_layer_sizes"]
    hidden = (hidden,) if isinstance(hidden, (int, np.integer)) else tuple(hidden)
    architecture = dict(n_features=n_features, hidden_layer_sizes=hidden, n_outputs=n_outputs,
                        activation=params["activation"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(init_seed))
        template = MLP(**architecture, D=params["D"], alpha=0.0, groups=groups)
    # Every model starts from the template's initialization (StackedMLP copies it K
    # times), or from its previous fit, loaded into the template one after the other.
    stacked = StackedMLP([template] * K, alphas, x_shift, x_inv)
    if warm_start_from is not None:
        for k, previous in enumerate(warm_start_from):
            template.load_effective_(previous.module.state_dict())
            stacked.load_model_(k, template)
    elif silent.any():
        stacked.zero_inputs_(silent)

    batch_size = min(int(params["batch_size"]), n_samples)
    n_batches = math.ceil(n_samples / batch_size)
    net = StackedNet(module=stacked, criterion=criterion, batch_size=batch_size,
                     iterator_train__seed=int(shuffle_seed),
                     **net_kwargs(params, n_batches, device, STACKED_UNGATED_WEIGHTS))
    net.initialize()
    # The K models' products are one batched product each: the pools are sized for K
    # times a single network's step and restored afterwards (skdgating._threads).
    with thread_limits(params.get("n_threads"), K * step_flops(n_features, hidden, n_outputs, batch_size)):
        net.partial_fit(TensorData(torch.as_tensor(X32).to(device), y_t.to(device),
                                   torch.as_tensor(w, dtype=torch.float32).to(device)))
    losses = np.array(net.history[:, "train_loss"], dtype=float).reshape(-1, K)
    if not np.isfinite(losses).all():
        bad = np.unique(alphas[~np.isfinite(losses).all(axis=0)])
        # Only searches stack their models, on alphas of their own: the setting to change
        # is the learning rate (and the scale of X when the estimator does not standardize it).
        raise ValueError(f"The training loss diverged in the alpha search (alpha={', '.join(f'{a:.3g}' for a in bad)})."
                         f" Lower learning_rate_init (now {params['learning_rate_init']:g})"
                         + ("." if params["standardize"] else ", or standardize X (standardize=True)."))
    return _stacked_read_out(net.module_.cpu(), architecture, groups, alphas, losses, params["threshold"],
                             stats if params["standardize"] else None, y_stats)


@torch.no_grad()
def _stacked_read_out(stacked, architecture, groups, alphas, losses, threshold, x_stats, y_stats):
    """Per model: threshold the groups (the estimators' rule) and build its ungated MLP."""
    fits = []
    first = stacked.first_weight()
    feature_group = torch.as_tensor(groups.feature_group)
    for k, alpha in enumerate(alphas):
        W = first[k]
        norms = torch.zeros(groups.n_groups, dtype=W.dtype).index_add(0, feature_group, (W**2).sum(0)).sqrt()
        keep = (norms > cutoff(norms, threshold)) | torch.as_tensor(~groups.penalized)
        W = W * keep[feature_group].to(W.dtype)
        with torch.random.fork_rng(devices=[]):  # its initial weights are replaced below
            module = MLP(**architecture)
        for j, layer in enumerate(module.layers):
            layer.weight.copy_(W if j == 0 else stacked.weights[j - 1][k])
            layer.bias.copy_(stacked.biases[j][k])
        if x_stats is not None:
            module.standardize_inputs_(*x_stats[k])
        coef = W.double().numpy()
        norms = groups.group_norms(coef)
        support = ((norms > 0) | ~groups.penalized)[groups.feature_group]
        y_mean, y_scale = y_stats[k]
        fits.append(StackedFit(float(alpha), coef, norms, support, losses[:, k], module.eval(), y_mean, y_scale))
    return fits
