r"""D-gated multilayer perceptrons: nonlinear feature selection with scikit-learn's API.

:class:`DGatingMLPClassifier` and :class:`DGatingMLPRegressor` train an MLP whose
first layer has its input columns (or groups of columns) D-gated: column group
:math:`j` of the first weight matrix is :math:`W_{1,j} = \omega_j \prod_{d<D}\gamma_{j,d}`,
and the training objective is

.. math::

    \frac{1}{\sum_i s_i}\sum_i s_i\,\ell(y_i, f(x_i))
    \;+\; \frac{\alpha}{D}\sum_j c_j\Big(\|\omega_j\|_2^2 + \sum_{d=1}^{D-1}\gamma_{j,d}^2\Big)
    \;+\; l_2 \sum_{k\ge 2}\|W_k\|_F^2,

whose local minima are those of the objective with the non-smooth group penalty
:math:`\alpha\sum_j c_j\|W_{1,j}\|_2^{2/D}` in place of the gated term
(:math:`s_i` are the sample weights, :math:`c_j` the group weights; the inputs are
standardized internally by default). Minibatch SGD with
momentum drives the columns of uninformative features to exactly zero (for
``D>=3`` the gate product underflows to ``0.0``), so the fitted network is also a
feature selector.

With ``gate_hidden=True`` every hidden neuron is a D-gated group as well (its
outgoing column in the next weight matrix, strength ``alpha_hidden``), so whole
neurons leave the network too. After ``fit`` the dead features and neurons are
removed physically: :meth:`~DGatingMLPClassifier.compress` returns the small
network as a plain ``torch.nn.Sequential``, and ``predict`` runs through it.

Both estimators compose :mod:`skorch`: ``fit`` trains a ``skorch.NeuralNet``
(``net_``, built in :mod:`skdgating._training`) around
:class:`skdgating._modules.MLP`, then keeps the compact network as its
``module_``; only scikit-learn classes are public.
"""

import copy
import math
import warnings
from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from ._modules import ACTIVATIONS, MLP, HalfSquaredError
from ._persistence import VersionedPickleMixin
from ._threads import check_n_threads, thread_limits
from ._training import (DGatingNet, Monitor, TensorData, cutoff, forward_thread_limits, net_kwargs,
                        release_training_buffers_, resolve_device, score_classifier, score_regressor,
                        silent_columns, standardize_float32, standardized_float32, step_flops,
                        weighted_mean_std)
from ._validation import check_D, check_sample_weight, check_scalar, numeric_target
from .compaction import _compact_modules
from .exceptions import EmptyModelWarning
from .groups import make_groups

__all__ = ["DGatingMLPClassifier", "DGatingMLPRegressor"]


# --------------------------------------------------------------------------------------
# Estimators
# --------------------------------------------------------------------------------------
_PARAMS_DOC = """
    hidden_layer_sizes : int or tuple of int, default=(64, 64)
        Widths of the hidden layers (``()`` gives a gated linear model).
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
    D : int, default=3
        Gating depth, ``D >= 2``: one vector and ``D-1`` scalar gates per group.
        ``D=2`` induces the group lasso on the first layer's columns, ``D=3, 4``
        the sparser non-convex :math:`\\|W_{1,j}\\|^{2/3}`, :math:`\\|W_{1,j}\\|^{1/2}`,
        which also drive dropped columns to exactly zero under SGD.
    alpha : "auto" or float, default="auto"
        Strength of the gated feature penalty. ``"auto"`` chooses it from the
        training rows alone: a warm-started dense-to-sparse path over a grid
        of alphas tied to the number of SGD steps, on 3 internal folds, each
        path model trained until its support settles and scored after a
        round without penalty; the alpha with the best validation loss among
        the settled models; then the same path on all rows up to that
        ``alpha_``, choosing among the columns that most folds kept and that
        raise the folds' validation loss when shuffled, and a few rounds
        without penalty on the selected columns (as many as lowered the folds'
        validation loss). A column that most folds dropped at the chosen
        alpha but that every fold clearly used one alpha denser (a
        Bonferroni-corrected permutation test) is recovered: the final
        network then trains up to that denser ``alpha_``. The path stops
        once its models are clearly worse than the best (3 paired standard
        errors, twice in a row) or its validation loss rose twice in a row past
        the best, and only the models the penalty has acted on are scored. What it did is kept in ``alpha_search_``. Its cost is
        dominated by the alphas at which most columns leave (see the user
        guide, "Choosing alpha"). With fewer than 20 rows (or a class with a
        single row), no validation is possible: ``alpha_`` is then the smallest
        alpha of the grid, which keeps the features, with a ``UserWarning``
        (``alpha_search_["fallback"]`` says why).
        When no column survives the penalty in the folds (y does not depend
        on X), or the network on all rows loses the columns the folds kept,
        the fitted model is the intercept alone, with an
        ``EmptyModelWarning`` that says which.
        A float (``>= 0``) trains one network at that strength; too large a
        value removes every feature.
    l2 : float, default=1e-4
        Plain weight decay :math:`l_2\\sum_k\\|W_k\\|_F^2` on the ungated weight
        matrices (layers 2, 3, ...; biases are never penalized). Without it
        the first layer's penalty can be dodged by shrinking the first layer and
        growing the second through the ReLU. Applied as its gradient, the
        optimizer's coupled weight decay ``2 * l2`` on those matrices (the same
        update as adding the term to the loss, at no per-batch cost).
    groups : None, int, list, array-like or dict, default=None
        Groups of input columns that enter or leave the model together (e.g.
        the one-hot columns of one categorical feature). ``None``: every column
        is its own group. See :func:`skdgating.make_groups`.
    group_weights : {"sqrt_size", "ones"} or array-like, default="sqrt_size"
        Penalty multipliers :math:`c_j`; a weight of 0 leaves a group
        unpenalized (always selected).
    optimizer : {"sgd", "adam"}, default="sgd"
        ``"sgd"``: SGD with ``momentum``, the setting the D-Gating theory
        covers and the one that separates informative from noise features.
        ``"adam"`` is allowed, but its per-coordinate scaling undoes the
        shrinkage of small columns: expect much weaker selection.
    learning_rate_init : float, default=0.05
    learning_rate : {"cosine", "constant"}, default="cosine"
        Schedule over all ``max_epochs`` epochs: cosine decay to 0 (per batch)
        or constant.
    momentum : float, default=0.9
        Momentum of SGD (ignored by Adam).
    batch_size : int, default=32
        Rows per SGD step (clipped to the number of training rows). Small
        batches give many steps per epoch, which the gates need: the gating
        imbalance decays by about ``4 * learning_rate * alpha / D`` per step,
        so selection needs ``steps * learning_rate_init * alpha / D >> 1``.
        When raising it for speed, raise ``learning_rate_init`` in proportion.
    max_epochs : int, default=200
        Number of passes over the training data.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training rows (stratified for
        classification), score them after every epoch (accuracy or R^2), stop
        after ``n_iter_no_change`` epochs without an improvement of more than
        ``tol`` and keep the best epoch's weights. Off by default: stopping
        early can freeze the network before the noise columns have collapsed.
    validation_fraction : float, default=0.1
        Used only with ``early_stopping=True``.
    n_iter_no_change : int, default=10
        Patience of early stopping; without early stopping, the window in which
        a change of the selected features triggers a ``ConvergenceWarning``.
    tol : float, default=1e-4
        Minimum improvement of the validation score for early stopping.
    threshold : float, default=1e-3
        Read-out threshold, relative, in ``[0, 1)``: a group whose first-layer
        norm :math:`\\|W_{1,j}\\|_2` is ``<= max(threshold * max_k ||W_{1,k}||_2, 1e-7)``
        is dropped; its columns are set exactly to zero, both in ``coef_`` and
        in the network used for prediction. The rule is relative because a
        ReLU network can move scale between its layers, so only ratios of
        column norms are meaningful. Columns below 1e-7 (weights on
        standardized inputs) are dropped in any case: they change no
        pre-activation beyond float32 rounding. For ``D>=3`` dropped columns
        are exactly 0.0 anyway (the gate product underflows), so any small
        threshold gives the same support. For ``D=2`` (no exact zeros under SGD)
        the threshold matters.
    standardize : bool, default=True
        Standardize the inputs inside the network, ``(X - mean) / std`` with the
        (weighted) mean and standard deviation of the training rows, before the
        gated layer. The penalty compares column norms, so columns must share
        a scale; this also keeps SGD stable on raw data. It changes nothing
        on data that is already standardized. A column that is constant on the
        training rows (with ``standardize=False``: zero on them) carries
        nothing: its weights are exactly zero from the first step, it is never
        selected, and other values in it at predict time change nothing (a
        one-hot column absent from the training rows, for example).
    device : {"cpu", "cuda", "auto"}, default="cpu"
        ``"auto"`` uses CUDA when available. Fitted models unpickle on CPU when
        CUDA is absent.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialization, the minibatch order and the validation
        split. Fitting never touches torch's global RNG; with ``None`` the seeds
        are drawn from numpy's global RNG (the scikit-learn convention).
    verbose : int, default=0
        ``0``: silent. ``1``: a progress bar (epoch, loss, number of selected
        features). ``2``: also one line per epoch.
    warm_start : bool, default=False
        Start from the previous fit's weights when the architecture is
        unchanged; the gates restart from the balanced factorization of the
        previous (gated) weights and the optimizer state is not kept.
    gate_hidden : bool, default=False
        Also D-gate every hidden neuron, for structured compaction: neuron
        :math:`k` of hidden layer :math:`l` is the group formed by its
        *outgoing* weights, column :math:`k` of :math:`W_{l+1}` (group weight
        1), penalized with ``alpha_hidden``. This is the same rule as for the
        inputs (a feature's group is its column of :math:`W_1`): a zero
        outgoing column makes a neuron irrelevant whatever its bias, so it is
        removed exactly, and with every weight matrix gated, moving scale
        between layers through the ReLU only moves penalty between groups.
        No weight matrix is left ungated, so ``l2`` has no effect. Dead neurons
        are read out with ``threshold`` applied per layer, like the features.
    alpha_hidden : float or None, default=None
        Strength of the neurons' penalty (``>= 0``) with ``gate_hidden=True``;
        ``None`` uses ``alpha`` (the same price per group for a feature and a
        neuron). Ignored without ``gate_hidden``.
    n_threads : int or None, default=None
        Threads of PyTorch's and the BLAS's pools during ``fit`` and
        ``predict``; the previous sizes are restored afterwards. ``None`` sizes
        them from the work of one minibatch step and the idle cores (from the
        load average): one thread for the small networks and batches of
        tabular data, where a pool costs more than it gives and, beside a busy
        process, slows training 10-100x; more for large layers and batches on an
        idle machine. A positive int sets the number; ``-1`` uses every core
        (``-2`` all but one, as for ``n_jobs``).
"""

_ATTRS_DOC = """
    coef_ : ndarray of shape (n_hidden_1, n_features)
        Effective first-layer weights (the collapsed gated weights, the matrix
        the penalty acts on), applied to the standardized inputs when
        ``standardize=True``. Columns of dropped features are exactly zero.
    intercept_ : ndarray of shape (n_hidden_1,)
        First-layer bias (ungated, unpenalized).
    feature_importances_ : ndarray of shape (n_features,)
        Euclidean norm of each column of ``coef_`` (scale-free with
        ``standardize=True``); exactly 0 for dropped features.
    support_ : ndarray of bool, shape (n_features,)
        Selected features.
    selected_features_ : ndarray of int
        Sorted indices of the selected features.
    group_norms_ : ndarray of shape (n_groups,)
        Norm of each group's columns of ``coef_`` (0 for dropped groups).
    groups_ : list of ndarray
        Column indices of each group, as parsed from ``groups``.
    loss_curve_ : ndarray of shape (`n_iter_`,)
        Per epoch: the mean over its batches of the training loss, plus the
        D-Gating penalty at the end of the epoch (the penalty acts through its
        closed-form gradient and the ``l2`` term through weight decay; ``l2``
        is not included).
    n_selected_curve_ : ndarray of shape (`n_iter_`,)
        Number of selected features after each epoch.
    validation_scores_ : ndarray of shape (`n_iter_`,) or None
        Validation score after each epoch with ``early_stopping=True``, else None.
    best_validation_score_ : float or None
    n_iter_ : int
        Number of epochs run.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when X has string column names.
    alpha_ : float
        The penalty strength of the fitted network: ``alpha``, or the value
        chosen with ``alpha="auto"`` (the penalty that chose the support; the
        final network then trains without penalty on that support for as many
        rounds as lowered the folds' validation loss).
    alpha_search_ : dict or None
        With ``alpha="auto"``: the search, as numpy arrays over the alphas
        tried (increasing): ``alphas``, ``mean_valid_loss``,
        ``se_valid_loss_diff`` (the standard error of the 1-SE rule),
        ``mean_test_score``/``std_test_score`` (accuracy or R^2 over folds),
        ``n_selected`` (folds x alphas), ``selection_frequency`` (alphas x
        features: the fraction of folds that kept each feature),
        ``consensus_support`` (kept by at least two thirds of the folds at
        ``alpha_``: 2 of 3), ``permutation_importance`` and
        ``permutation_importance_se`` (the rise of the folds' validation loss
        when a column is shuffled), ``screened_support`` (the consensus columns
        whose importance exceeds one standard error, and the recovered ones:
        the columns the final network may use), ``recovered_support`` (the
        columns recovered at the denser neighbour of the rule's choice
        ``alpha_chosen``; when there are any, ``alpha`` is that neighbour),
        ``settled`` and ``n_epochs`` (folds x alphas),
        ``relaxed_lengths`` and ``relaxed_valid_loss`` (the folds' validation
        loss after one cycle of 1, 2, 4, ... rounds at ``alpha=0`` on their
        support) with ``relaxed_rounds`` (the length the final network
        trained), and the chosen ``alpha``, ``alpha_min``, ``alpha_1se``.
        ``None`` for a float ``alpha``.
    n_neurons_ : ndarray of int, shape (n_hidden_layers,)
        Surviving neurons per hidden layer: the widths of the network returned
        by :meth:`compress`. A neuron is removed when its outgoing weights are
        all zero, or when all of its inputs were removed (it then outputs a
        constant, which is folded into the next layer's bias); the second case
        also happens without ``gate_hidden``.
    neuron_support_ : list of ndarray of bool
        Which neurons of each hidden layer survive, one mask per hidden layer.
    net_ : skorch.NeuralNet
        The training run: its ``history`` (per epoch ``train_loss``,
        ``train_rows``, ``n_selected``, ``valid_score``) and, as ``module_``, the
        one fitted network: the compact ``torch.nn.Sequential`` that ``predict``
        runs (removed features and neurons physically absent, inputs the
        selected columns after the internal standardization; :meth:`compress`
        returns a copy with the standardization folded in). The optimizer state
        is released after fitting (``optimizer_`` is None); ``warm_start``
        rebuilds the full-size weights from this network.

    Notes
    -----
    Standardize the features (e.g. ``make_pipeline(StandardScaler(), est)``): the
    penalty compares column norms, so features on different scales are
    penalized unequally.

    With :class:`~sklearn.feature_selection.SelectFromModel`, pass
    ``threshold=1e-8``: ``SelectFromModel(est, threshold=1e-8)`` selects exactly
    ``support_``. Its default threshold for these class names is ``"mean"``,
    which is not the estimator's selection. ``SelectFromModel`` scores a feature
    by the L1 norm of its column of ``coef_``. Dropped columns are exactly 0.0,
    and a kept group has norm above 1e-7 (see ``threshold``). So any absolute
    threshold in ``(0, 1e-7]`` selects ``support_``. With multi-column groups,
    ``SelectFromModel(est, importance_getter="support_", threshold=0.5)`` is
    exact by construction.
"""


# Rows per forward call in predict (bounds the memory of the hidden activations).
_PREDICT_BATCH = 65536


def _compact_layers(module):
    """The collapsed ``module`` as compacted plain layers, on the CPU.

    Returns ``(layers, kept)``: the modules ``[Linear, act, ..., Linear]`` (on
    standardized inputs) with dead neurons removed by the rules of
    :func:`skdgating.compaction.compact` (every input column is kept here) and,
    per hidden layer, the sorted indices of the surviving neurons. The layers
    are ``module``'s own, compacted in place: ``module`` is used up.
    """
    layers = [m.cpu() for m in module.take_plain_layers()]
    boundaries = _compact_modules(layers)
    return layers, [bd.kept for bd in boundaries]


@torch.no_grad()
def _zero_padded_layers(linears, kept, columns, sizes):
    """Full-size ``(weight, bias)`` of every layer, zero-padded from the compact ``linears``.

    ``kept`` holds the surviving neurons of each hidden layer, ``columns`` the
    input columns of the first compact layer, ``sizes`` the full widths
    ``[n_features, *hidden, n_outputs]``. A removed neuron gets a zero row, bias
    and outgoing column: it is never read, so the full network computes exactly
    what the compact one does.
    """
    rows = [*kept, np.arange(sizes[-1])]  # the output layer keeps every row
    inputs = [columns, *kept]
    padded = []
    for k, linear in enumerate(linears):
        out_idx = torch.as_tensor(np.asarray(rows[k], dtype=np.int64))
        in_idx = torch.as_tensor(np.asarray(inputs[k], dtype=np.int64))
        W = torch.zeros(sizes[k + 1], sizes[k], dtype=linear.weight.dtype)
        W[out_idx[:, None], in_idx[None, :]] = linear.weight.detach().cpu()
        b = torch.zeros(sizes[k + 1], dtype=linear.bias.dtype)
        b[out_idx] = linear.bias.detach().cpu()
        padded.append((W, b))
    return padded


def _select_inputs(layers, selected):
    """``nn.Sequential`` of the compact layers, its first layer cut to the selected columns.

    The other columns are zero in every surviving row (a feature is selected
    when its group has a nonzero column), so dropping them is exact. The layers
    are taken over, not copied.
    """
    first = layers[0]
    cols = torch.as_tensor(np.asarray(selected, dtype=np.int64))
    first.weight = torch.nn.Parameter(first.weight.detach()[:, cols].contiguous())
    first.in_features = len(cols)
    return torch.nn.Sequential(*layers).eval()


def _check_two_classes(classes, y, w):
    """A classifier needs two classes with positive weight among its training rows
    (``y`` encoded as 0 .. len(classes) - 1)."""
    present = np.flatnonzero(np.bincount(y if w is None else y[w > 0], minlength=len(classes)))
    if len(present) < 2:
        only = classes[present[0]] if len(present) else None
        raise ValueError(
            f"Only one class ({only!r}) has samples with positive sample_weight among the "
            "training rows; a classifier needs at least 2 classes.")


class _DGatingMLPBase(VersionedPickleMixin, BaseEstimator):
    """Shared fit logic of the two estimators; subclasses handle the targets."""

    def __init__(self, hidden_layer_sizes=(64, 64), activation="relu", D=3, alpha="auto", l2=1e-4,
                 groups=None, group_weights="sqrt_size", optimizer="sgd", learning_rate_init=0.05,
                 learning_rate="cosine", momentum=0.9, batch_size=32, max_epochs=200,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=10, tol=1e-4,
                 threshold=1e-3, standardize=True, device="cpu", random_state=None, verbose=0,
                 warm_start=False, gate_hidden=False, alpha_hidden=None, n_threads=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.D = D
        self.alpha = alpha
        self.l2 = l2
        self.groups = groups
        self.group_weights = group_weights
        self.optimizer = optimizer
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.threshold = threshold
        self.standardize = standardize
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.gate_hidden = gate_hidden
        self.alpha_hidden = alpha_hidden
        self.n_threads = n_threads

    # ---------------------------------------------------------------- validation
    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, Integral) and not isinstance(sizes, (bool, np.bool_)):
            sizes = (sizes,)
        try:
            sizes = tuple(sizes)
        except TypeError:
            raise TypeError(f"hidden_layer_sizes must be an int or a tuple of ints, got "
                            f"{self.hidden_layer_sizes!r}.") from None
        for h in sizes:
            if isinstance(h, (bool, np.bool_)) or not isinstance(h, Integral) or h < 1:
                raise ValueError(f"hidden_layer_sizes must hold positive integers, got "
                                 f"{self.hidden_layer_sizes!r}.")
        return tuple(int(h) for h in sizes)

    def _check_params(self):
        hidden = self._hidden_sizes()
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}.")
        check_D(self.D)
        if not (isinstance(self.alpha, str) and self.alpha == "auto"):
            if isinstance(self.alpha, str):
                raise ValueError(f"alpha must be 'auto' or a real number >= 0, got {self.alpha!r}.")
            check_scalar(self.alpha, "alpha", low=0.0)
        check_scalar(self.l2, "l2", low=0.0)
        if self.alpha_hidden is not None:
            check_scalar(self.alpha_hidden, "alpha_hidden", low=0.0)
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}.")
        check_scalar(self.learning_rate_init, "learning_rate_init", low=0.0, low_inclusive=False)
        if self.learning_rate not in ("cosine", "constant"):
            raise ValueError(f"learning_rate must be 'cosine' or 'constant', got {self.learning_rate!r}.")
        check_scalar(self.momentum, "momentum", low=0.0, high=1.0)
        if self.momentum == 1.0:
            raise ValueError("momentum must be < 1, got 1.0.")
        check_scalar(self.batch_size, "batch_size", low=1, integer=True)
        check_scalar(self.max_epochs, "max_epochs", low=1, integer=True)
        for name in ("early_stopping", "warm_start", "standardize", "gate_hidden"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}.")
        check_scalar(self.validation_fraction, "validation_fraction", low=0.0, high=1.0,
                     low_inclusive=False)
        if self.validation_fraction == 1.0:
            raise ValueError("validation_fraction must be < 1, got 1.0.")
        check_scalar(self.n_iter_no_change, "n_iter_no_change", low=1, integer=True)
        check_scalar(self.tol, "tol", low=0.0)
        check_scalar(self.threshold, "threshold", low=0.0, high=1.0)
        if self.threshold == 1.0:
            raise ValueError("threshold is relative to the largest group norm and must be < 1, got 1.0.")
        check_scalar(self.verbose, "verbose", low=0, integer=True)
        check_n_threads(self.n_threads)
        if not (isinstance(self.device, str) and (self.device in ("cpu", "cuda", "auto")
                                                   or self.device.startswith("cuda:"))):
            raise ValueError(f"device must be 'cpu', 'cuda' (or 'cuda:<i>') or 'auto', got {self.device!r}.")
        return hidden

    # ---------------------------------------------------------------- fitting
    def _fit(self, X, y_train, sample_weight, n_outputs, criterion, scorer, classes=None):
        """Train on validated X and prepared targets (encoded labels or standardized floats)."""
        hidden = self._check_params()
        n_samples, n_features = X.shape
        groups = make_groups(self.groups, n_features, self.group_weights,
                             getattr(self, "feature_names_in_", None))
        sw = None if sample_weight is None else check_sample_weight(sample_weight, n_samples)
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        init_seed, shuffle_seed, split_seed = rng.randint(0, np.iinfo(np.int32).max, size=3)

        train = np.arange(n_samples)
        valid_idx = None
        if self.early_stopping:
            # Stratified for classifiers, as in scikit-learn's MLP.
            train, valid_idx = train_test_split(train, test_size=self.validation_fraction,
                                                random_state=split_seed,
                                                stratify=None if classes is None else y_train)
            if len(valid_idx) < 1 or len(train) < 1:
                raise ValueError(f"validation_fraction={self.validation_fraction} leaves an empty "
                                 f"training or validation set with {n_samples} samples.")
        if classes is not None:
            _check_two_classes(classes, y_train[train], None if sw is None else sw[train])

        # Columns that carry nothing on the training rows: zero inputs, and weights that
        # start, and stay, at exactly zero (silent_columns).
        silent = silent_columns(X if valid_idx is None else X[train], self.standardize)
        x_mean = x_scale = None
        if self.standardize:
            # Standardized once here in float64; predict applies the same map to the
            # selected raw columns afterwards (_forward).
            if valid_idx is None:  # statistics of every row: one pass
                x_mean, x_scale, X = standardize_float32(X, sw)
            else:
                x_mean, x_scale = weighted_mean_std(X[train], None if sw is None else sw[train])
                X = standardized_float32(X, x_mean, x_scale)
        else:
            X = X.astype(np.float32)  # always a copy: the tensors below share its memory

        X[:, silent] = 0.0  # standardized constants are zero up to rounding

        def tensors(rows):
            # No fancy-index copy when every row trains (the common case).
            full = valid_idx is None
            X_t = torch.from_numpy(X if full else X[rows]).to(device)
            y_t = torch.from_numpy(np.ascontiguousarray(y_train if full else y_train[rows])).to(device)
            w_t = None
            if sw is not None:
                w = sw[rows]
                # Mean 1 over the rows used: the batch mean of w * loss is then an
                # unbiased estimate of the weighted mean loss.
                w_t = torch.tensor(w / w.mean(), dtype=torch.float32, device=device)
            return X_t, y_t, w_t

        train_data = TensorData(*tensors(train))
        valid = tensors(valid_idx) if valid_idx is not None else None
        n_train = len(train)
        batch_size = min(int(self.batch_size), n_train)
        n_batches = math.ceil(n_train / batch_size)

        monitor = Monitor(self.threshold, groups.sizes, groups.penalized, self.learning_rate_init,
                          self.alpha, verbose=self.verbose, max_epochs=self.max_epochs, valid=valid,
                          scorer=scorer, patience=self.n_iter_no_change, tol=self.tol)

        warm_state = None
        if (self.warm_start and hasattr(self, "net_")
                and self._warm_compatible(n_features, hidden, n_outputs, classes)):
            warm_state = self._full_size_state()

        net = DGatingNet(
            module=MLP,
            module__n_features=n_features,
            module__hidden_layer_sizes=hidden,
            module__n_outputs=n_outputs,
            module__activation=self.activation,
            module__D=check_D(self.D),
            module__alpha=float(self.alpha),
            module__groups=groups,
            module__gate_hidden=bool(self.gate_hidden),
            module__alpha_hidden=None if self.alpha_hidden is None else float(self.alpha_hidden),
            # Per-sample losses only when there are sample weights to apply.
            criterion=criterion,
            criterion__reduction="mean" if sw is None else "none",
            batch_size=batch_size,
            iterator_train__seed=int(shuffle_seed),
            callbacks=[("monitor", monitor)],
            **net_kwargs(self.get_params(), n_batches, device),
        )
        cuda_devices = [torch.device(device).index or 0] if device.startswith("cuda") else []
        try:
            # All of the fit's randomness comes from the seeds drawn above; the
            # user's global torch RNG is restored on exit. The thread pools are
            # sized for one minibatch step and restored on exit too.
            with (torch.random.fork_rng(devices=cuda_devices),
                  thread_limits(self.n_threads, step_flops(n_features, hidden, n_outputs, batch_size))):
                torch.manual_seed(int(init_seed))
                net.initialize()
                if warm_state is not None:
                    net.module_.load_effective_(warm_state)
                    net.initialize_optimizer()
                elif silent.any():
                    net.module_.zero_inputs_(silent)
                net.partial_fit(train_data, None)
        finally:
            monitor.close()
        # The fitted network keeps its own memory, not views of the training buffers.
        release_training_buffers_(net.module_)
        if x_mean is not None:  # the trained module takes raw inputs from here on
            net.module_.standardize_inputs_(x_mean, x_scale)

        if monitor.epoch_ == 0:
            # partial_fit swallows KeyboardInterrupt: nothing was trained.
            raise KeyboardInterrupt("Training was interrupted before the first epoch ended.")
        self._read_out(net, monitor, groups, silent)
        self._x_standardization = None
        if x_mean is not None:  # float64, of the selected columns (see _forward)
            sel = self.selected_features_
            self._x_standardization = (x_mean[sel], 1.0 / x_scale[sel])
        return self

    def _auto_alpha(self):
        return isinstance(self.alpha, str)

    def _fit_auto(self, X, y, sample_weight):
        """``alpha="auto"``: the MLP path core chooses alpha and fits the final model;
        this estimator takes over that model's fitted state."""
        from ._mlp_path import fit_auto

        final, search = fit_auto(self, X, y, sample_weight)
        params = self.get_params(deep=False)
        self.__dict__.update({k: v for k, v in vars(final).items() if k not in params})
        self.alpha_, self.alpha_search_ = float(final.alpha), search
        return self

    def _warm_compatible(self, n_features, hidden, n_outputs, classes):
        if classes is not None and not np.array_equal(getattr(self, "classes_", None), classes):
            return False
        compact = self._compact()
        widths = tuple(len(mask) for mask in self.neuron_support_)
        same_activation = not widths or type(compact[1]) is ACTIVATIONS[self.activation]
        return (self.coef_.shape[1] == n_features and widths == hidden
                and compact[-1].out_features == n_outputs and same_activation)

    def _full_size_state(self):
        """The fitted weights at full size (``MLP`` layer state), rebuilt from the compact network.

        Dropped features and removed neurons are exact zeros; this is what a warm
        start continues from.
        """
        compact = self._compact()
        sizes = [self.coef_.shape[1], *(len(mask) for mask in self.neuron_support_), compact[-1].out_features]
        kept = [np.flatnonzero(mask) for mask in self.neuron_support_]
        padded = _zero_padded_layers(list(compact)[::2], kept, self.selected_features_, sizes)
        return {f"layers.{k}.{name}": tensor for k, (W, b) in enumerate(padded)
                for name, tensor in (("weight", W), ("bias", b))}

    def _read_out(self, net, monitor, groups, silent):
        module = net.module_
        dgate, omega = module.dgate()
        with torch.no_grad():
            norms = dgate.group_norms(omega)
            first_cutoff = cutoff(norms, self.threshold)
            # The neurons of each gated hidden layer: the same relative rule, per layer.
            hidden_cutoffs = [cutoff(d.group_norms(o), self.threshold)
                              for d, o in (module.dgate(k) for k in module.gated_layers[1:])]
        # Dropped groups become exact zeros in the network itself, so predictions,
        # coef_ and support_ agree; the collapsed module is a plain (picklable) MLP.
        module.collapse_(first_cutoff, hidden_cutoffs)
        # The loss is checked every epoch, but it can explode while staying finite
        # (2 * learning_rate * alpha / D > 1 makes the decay of the factors overshoot),
        # and the last updates can leave weights too large to collapse.
        losses = np.asarray(net.history[:, "train_loss"], dtype=float)
        exploded = losses[-1] > 1e4 * max(losses[0], 1.0)
        if exploded or not all(bool(torch.isfinite(p).all()) for p in module.parameters()):
            raise ValueError(
                f"The training loss grew from {losses[0]:.3g} to {losses[-1]:.3g}: the optimization "
                f"diverged. Lower learning_rate_init (now {self.learning_rate_init:g}) or alpha "
                f"(now {self.alpha:g}), and standardize X (e.g. with StandardScaler).")
        # Dead neurons leave the compact network (exact; constant outputs are folded);
        # coef_ and intercept_ are its first layer zero-padded to full size.
        widths = [layer.out_features for layer in module.layers[:-1]]
        sizes = [module.layers[0].in_features, *widths, module.layers[-1].out_features]
        layers, kept = _compact_layers(module)  # uses up the training-time module
        first_weight, first_bias = _zero_padded_layers(layers[:1], kept, np.arange(sizes[0]), sizes)[0]
        coef = first_weight.double().numpy()
        self.coef_ = coef
        self.intercept_ = first_bias.double().numpy()
        self.group_norms_ = groups.group_norms(coef)
        keep = (self.group_norms_ > 0) | ~groups.penalized
        self.support_ = keep[groups.feature_group]
        self.selected_features_ = np.flatnonzero(self.support_)
        self.feature_importances_ = np.sqrt((coef**2).sum(axis=0))
        self.groups_ = [idx.copy() for idx in groups.indices]
        self.neuron_support_ = [np.isin(np.arange(h), k) for h, k in zip(widths, kept)]
        self.n_neurons_ = np.array([len(k) for k in kept], dtype=int)
        # One fitted network: the compact one that predict runs is the net's module;
        # the training-time module and its optimizer state are released.
        net.module_ = _select_inputs(layers, self.selected_features_)
        net.optimizer_ = None
        self.net_ = net
        history = net.history
        self.loss_curve_ = np.asarray(history[:, "train_loss"], dtype=float)
        self.n_selected_curve_ = np.asarray(monitor.n_selected_, dtype=int)
        self.n_iter_ = len(history)
        if self.early_stopping:
            self.validation_scores_ = np.asarray(monitor.scores_, dtype=float)
            self.best_validation_score_ = float(monitor.best_score_)
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None

        if groups.penalized.any() and not keep[groups.penalized].any():
            if silent[groups.penalized[groups.feature_group]].all():  # every penalized group is silent
                warnings.warn("Every penalized feature is constant on the training rows; predictions "
                              "ignore X.", EmptyModelWarning)
            else:
                warnings.warn(f"alpha={self.alpha:g} removed every feature; predictions ignore X. "
                              "Decrease alpha.", EmptyModelWarning)
        window = min(self.n_iter_no_change, self.n_iter_)
        supports = monitor.supports_
        changed = any(not np.array_equal(s, supports[-1]) for s in supports[-window - 1:-1])
        if not monitor.stopped_early_ and self.n_iter_ >= self.max_epochs and changed:
            warnings.warn(
                f"The selected features were still changing during the last {window} epochs "
                f"when max_epochs={self.max_epochs} was reached; increase max_epochs (or "
                "learning_rate_init) for a stable selection.", ConvergenceWarning)

    def _compact(self):
        """The compact network ``predict`` runs through (selected, standardized inputs)."""
        return self.net_.module_

    def _standardization(self):
        """float64 ``(mean, inv_scale)`` of the selected columns, or None (no standardization)."""
        return self._x_standardization

    def _forward(self, X):
        """Network outputs for validated float X, as a float64 array.

        Runs the compact network (dead features and neurons removed, see
        :meth:`compress`) on the selected columns, standardized in float64, on
        the CPU.
        """
        module = self._compact()
        X_sel = np.asarray(X)[:, self.selected_features_].astype(np.float64)
        standardization = self._standardization()
        if standardization is not None:
            X_sel -= standardization[0]
            X_sel *= standardization[1]
        X_sel = X_sel.astype(np.float32)
        widths = [layer.in_features for layer in module if isinstance(layer, torch.nn.Linear)]
        with torch.no_grad(), forward_thread_limits(self.n_threads, widths[0], widths[1:],
                                                     module[-1].out_features, min(len(X_sel), _PREDICT_BATCH)):
            out = [module(torch.from_numpy(X_sel[start:start + _PREDICT_BATCH]))
                   for start in range(0, len(X_sel), _PREDICT_BATCH)]
        return torch.cat(out).double().numpy()

    @torch.no_grad()
    def compress(self):
        """The fitted network with dead features and neurons physically removed.

        Returns a new plain ``torch.nn.Sequential`` (``Linear``, activation, ...,
        ``Linear``; float32, on the CPU, in eval mode) that takes the **selected
        columns only**, raw: ``X[:, selected_features_]`` (the internal
        standardization is folded into the first layer). Its hidden widths are
        ``n_neurons_``. It computes what the estimator predicts with, up to
        float32 rounding: the logits for a classifier (``predict_proba`` is
        their softmax, ``predict`` takes ``classes_`` at their argmax), the
        predictions in the target's units for a regressor (the internal target
        standardization is folded into the last layer). It depends on nothing
        but PyTorch: save it with ``torch.save``, trace it with
        ``torch.jit.trace`` or ``torch.export.export``, or export it to ONNX.
        Every call returns an independent copy (fine-tune it freely).

        Folding happens in float64, but the result runs in float32: with inputs
        whose mean is large against their spread (or, for a regressor, a target
        mean large against its spread), expect differences from ``predict`` of
        order 1e-7 times that ratio.

        Returns
        -------
        torch.nn.Sequential
        """
        check_is_fitted(self)
        module = copy.deepcopy(self._compact())
        standardization = self._standardization()
        if standardization is not None:
            first = module[0]
            mean, inv_scale = (torch.from_numpy(a) for a in standardization)
            W = first.weight.double() * inv_scale
            b = first.bias.double() - W @ mean
            first.weight = torch.nn.Parameter(W.to(first.weight.dtype))
            first.bias = torch.nn.Parameter(b.to(first.bias.dtype))
        return self._to_output_scale(module).eval()

    def _to_output_scale(self, module):
        return module

    def _validate_X_predict(self, X):
        check_is_fitted(self)
        return validate_data(self, X, dtype=[np.float64, np.float32], accept_sparse=False, reset=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


class DGatingMLPClassifier(ClassifierMixin, _DGatingMLPBase):
    __doc__ = r"""MLP classifier with D-gated input features (nonlinear feature selection).

    Minimizes, by minibatch SGD with momentum,

    .. math::

        \frac{1}{\sum_i s_i}\sum_i s_i\big(-\log p_{y_i}(x_i)\big)
        + \frac{\alpha}{D}\sum_j c_j\Big(\|\omega_j\|_2^2 + \sum_{d=1}^{D-1}\gamma_{j,d}^2\Big)
        + l_2\sum_{k\ge2}\|W_k\|_F^2,

    where :math:`p(x)` is the softmax of the network's logits (one per class, two
    for binary problems), :math:`s_i` the sample weights and the first layer's
    column group :math:`j` is :math:`W_{1,j} = \omega_j\prod_d\gamma_{j,d}`. At
    balance the gated term equals :math:`\alpha\sum_j c_j\|W_{1,j}\|_2^{2/D}`, so
    uninformative features leave the network. Biases are ungated and
    unpenalized.

    Parameters
    ----------""" + _PARAMS_DOC + r"""
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)""" + _ATTRS_DOC + r"""
    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skdgating.mlp import DGatingMLPClassifier
    >>> X, y = make_classification(n_samples=300, n_features=12, n_informative=3,
    ...                            n_redundant=0, shuffle=False, random_state=0)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = DGatingMLPClassifier(alpha=0.02, random_state=0).fit(X, y)
    >>> clf.selected_features_  # doctest: +SKIP
    array([0, 1, 2])
    """

    def fit(self, X, y, sample_weight=None):
        """Fit the network and select features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (float32 or float64; a pandas DataFrame keeps its
            column names in ``feature_names_in_``). Sparse matrices are refused.
        y : array-like of shape (n_samples,)
            Class labels of any type.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the per-sample loss.

        Returns
        -------
        self
        """
        self._check_params()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], accept_sparse=False)
        y_type = type_of_target(y, input_name="y")
        if y_type not in ("binary", "multiclass"):
            check_classification_targets(y)  # scikit-learn's message for continuous targets
            raise ValueError(f"y must hold one class label per sample, got target type {y_type!r}.")
        encoder = LabelEncoder()
        y_enc = encoder.fit_transform(y).astype(np.int64, copy=False)  # one sort of y
        classes = encoder.classes_
        if len(classes) < 2:
            raise ValueError(f"The target has only one class ('{classes[0]}'); a classifier "
                             "needs samples of at least 2 classes.")
        if self._auto_alpha():
            return self._fit_auto(X, y, sample_weight)
        self._fit(X, y_enc, sample_weight, len(classes), torch.nn.CrossEntropyLoss,
                  score_classifier, classes=classes)
        self.classes_ = classes
        self.alpha_, self.alpha_search_ = float(self.alpha), None
        return self

    def predict_proba(self, X):
        """Class probabilities, float64 array of shape (n_samples, n_classes); rows sum to 1."""
        X = self._validate_X_predict(X)
        logits = self._forward(X)
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        X = self._validate_X_predict(X)
        logits = self._forward(X)
        logits -= logits.max(axis=1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

    def predict(self, X):
        """Predicted class labels, shape (n_samples,)."""
        X = self._validate_X_predict(X)
        return self.classes_[self._forward(X).argmax(axis=1)]


class DGatingMLPRegressor(RegressorMixin, _DGatingMLPBase):
    __doc__ = r"""MLP regressor with D-gated input features (nonlinear feature selection).

    Minimizes, by minibatch SGD with momentum,

    .. math::

        \frac{1}{\sum_i s_i}\sum_i s_i\,\frac{1}{2K}\big\|\tilde y_i - f(x_i)\big\|_2^2
        + \frac{\alpha}{D}\sum_j c_j\Big(\|\omega_j\|_2^2 + \sum_{d=1}^{D-1}\gamma_{j,d}^2\Big)
        + l_2\sum_{k\ge2}\|W_k\|_F^2,

    with :math:`K` targets, :math:`\tilde y` the targets standardized internally
    (weighted mean 0 and standard deviation 1 per target, undone in
    :meth:`predict`, so the defaults work for any target scale) and the first
    layer's column group :math:`j` written :math:`W_{1,j} = \omega_j\prod_d\gamma_{j,d}`.
    At balance the gated term equals :math:`\alpha\sum_j c_j\|W_{1,j}\|_2^{2/D}`.
    Biases are ungated and unpenalized.

    Parameters
    ----------""" + _PARAMS_DOC + r"""
    Attributes
    ----------""" + _ATTRS_DOC + r"""
    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skdgating.mlp import DGatingMLPRegressor
    >>> X, y = make_friedman1(n_samples=300, n_features=10, random_state=0)
    >>> X = StandardScaler().fit_transform(X)
    >>> reg = DGatingMLPRegressor(alpha=0.01, random_state=0).fit(X, y)
    >>> reg.selected_features_  # doctest: +SKIP
    array([0, 1, 2, 3, 4])
    """

    def fit(self, X, y, sample_weight=None):
        """Fit the network and select features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (float32 or float64; a pandas DataFrame keeps its
            column names in ``feature_names_in_``). Sparse matrices are refused.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the per-sample loss.

        Returns
        -------
        self
        """
        self._check_params()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], accept_sparse=False,
                             multi_output=True, y_numeric=True)
        y = numeric_target(y, "DGatingMLPClassifier")
        if self._auto_alpha():
            return self._fit_auto(X, y, sample_weight)
        y_2d = y.reshape(len(y), -1)
        mean, scale = weighted_mean_std(
            y_2d, None if sample_weight is None else check_sample_weight(sample_weight, len(y)))
        self._fit(X, ((y_2d - mean) / scale).astype(np.float32), sample_weight,
                  y_2d.shape[1], HalfSquaredError, score_regressor)
        self._y_mean, self._y_scale, self._y_ndim = mean, scale, y.ndim
        self.alpha_, self.alpha_search_ = float(self.alpha), None
        return self

    def predict(self, X):
        """Predicted targets: shape (n_samples,) if y was 1-D, else (n_samples, n_targets)."""
        X = self._validate_X_predict(X)
        pred = self._forward(X) * self._y_scale + self._y_mean
        return pred[:, 0] if self._y_ndim == 1 else pred

    @torch.no_grad()
    def _to_output_scale(self, module):
        # The network predicts standardized targets: fold y = out * scale + mean
        # into the last layer (computed in float64, stored in float32).
        last = module[-1]
        scale = torch.as_tensor(self._y_scale, dtype=torch.float64).reshape(-1)
        mean = torch.as_tensor(self._y_mean, dtype=torch.float64).reshape(-1)
        dtype = last.weight.dtype
        last.weight = torch.nn.Parameter((last.weight.double() * scale[:, None]).to(dtype))
        last.bias = torch.nn.Parameter((last.bias.double() * scale + mean).to(dtype))
        return module

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
