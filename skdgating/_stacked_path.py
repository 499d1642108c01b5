"""The per-split warm paths of the MLP path core, trained as one stacked network.

:func:`stacked_paths` is :func:`skdgating._mlp_path._warm_path` run for every split
at once: at each alpha the splits' models train together in
:func:`skdgating._training.train_stacked` (K gated MLPs as one vectorized network,
each weighting only its own training rows), which costs about as much as one
path instead of one path per split.

What is the same as the sequential paths
----------------------------------------
The grid order, the dense start at the first alpha, the rounds at every later
alpha until :func:`~skdgating._mlp_path._support_settled` or the budget, the
empty-model shortcut, the relaxed scoring (a copy trained one more round at
``alpha=0``), and the records (:class:`~skdgating._mlp_path.PathModel`, validation
losses per row computed by the same function as ``_per_row_losses``). A split whose
model has settled is *frozen* for the rest of that alpha (it leaves the stack), as
its sequential path stops training it.

What differs, and why
---------------------
The stacked models share minibatches of *all* rows, so an epoch has
``ceil(n_rows / batch_size)`` steps instead of ``ceil(n_train / batch_size)``. The
penalty acts per SGD step (the gating imbalance contracts by ``4 lr alpha / D`` per
step), so every budget is converted to the same number of steps per model (as
:func:`~skdgating._mlp_path.fit_final` converts it to all rows): the epochs of a
round are ``round_epochs * fold_steps / stacked_steps``, rounded. ``n_epochs`` is
reported in the budget's (fold) epochs, ``exposure`` from the steps actually taken.
Each step sees only the split's rows in the shared batch (about
``batch_size * n_train / n_rows`` of them), so the data gradient is noisier per
step than the sequential fit's; the selections agree on planted problems
(tests/test_stacked_path.py) but are not bit-identical.
"""

import warnings
from types import SimpleNamespace

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score

from ._mlp_path import (PathModel, _path_losses, _row_losses, _support_settled, exposure_per_epoch, is_candidate,
                        needs_score, path_is_done, steps_per_epoch, target_scale)
from ._training import forward_thread_limits, train_stacked
from .exceptions import EmptyModelWarning
from .groups import make_groups


def stackable(template, y, splits):
    """Whether :func:`stacked_paths` can train these splits (else the sequential paths run).

    Not with ``gate_hidden`` (``train_stacked`` refuses it), not without validation
    rows or with one split (nothing to stack), and, for classifiers, not when a
    split's training rows miss a class (the sequential fit then has fewer outputs).
    """
    if template.gate_hidden or len(splits) < 2 or any(t is None or v is None for t, v in splits):
        return False
    if is_classifier(template):
        n_classes = len(np.unique(y))
        return all(len(np.unique(y[train])) == n_classes for train, _ in splits)
    return True


class _Stack:
    """The splits of a search as one stacked network: their rows, the stacked batch, the
    budget in stacked epochs, the validation scoring, and :meth:`train`."""

    def __init__(self, template, X, y, sample_weight, splits, budget):
        # The parameter checks the sequential paths get from the estimators' fit.
        template._check_params()
        self.X, self.sample_weight = X, sample_weight
        self.classification = is_classifier(template)
        n_rows = len(y)
        classes = None
        if self.classification:
            classes, self.y_fit = np.unique(y, return_inverse=True)
        else:
            self.y_fit = y
        self.masks = np.zeros((len(splits), n_rows), bool)
        for k, (train, _) in enumerate(splits):
            self.masks[k, train] = True
        self.penalized = make_groups(template.groups, X.shape[1], template.group_weights, None).penalized
        self.scoring = [_Scoring(template, X, y, sample_weight, train, valid, classes) for train, valid in splits]

        # The same SGD steps per model as on the split's own rows (the penalty acts per
        # step), and about as many of its rows per step: a stacked batch of batch_size *
        # n_rows / fold_rows rows holds about batch_size rows of each split, so one stacked
        # epoch is one epoch of each split. (With the splits' batch size, a stacked epoch
        # had n_rows / fold_rows times a split's steps, and the rounds, rounded to whole
        # stacked epochs, up to 25% more steps than the sequential paths: 2 epochs of 1,600
        # fold rows at batch 32 are 100 steps, 2 stacked epochs of 2,000 rows were 126.)
        fold_rows = int(self.masks.sum(axis=1).min())
        stack_batch = max(1, round(template.batch_size * n_rows / fold_rows))
        per_fold = steps_per_epoch(fold_rows, template.batch_size)
        per_stack = steps_per_epoch(n_rows, stack_batch)
        ratio = per_fold / per_stack
        self.first_epochs = max(1, round(budget.first_epochs * ratio))
        self.round_epochs = max(1, round(budget.round_epochs * ratio))
        self.per_epoch = exposure_per_epoch(template, per_stack)
        self.params = {**template.get_params(), "early_stopping": False, "verbose": 0, "warm_start": True,
                       "batch_size": stack_batch}

    def train(self, active, alpha, epochs, start):
        """Train the splits ``active`` at ``alpha`` (one value, or one per split) for
        ``epochs`` (stacked) epochs from ``start`` (a split may appear twice, at two alphas)."""
        alphas_k = np.array(np.broadcast_to(np.asarray(alpha, float), (len(active),)))
        return train_stacked(self.X, self.y_fit, self.masks[active], alphas_k, {**self.params, "max_epochs": epochs},
                             classification=self.classification,
                             sample_weight=self.sample_weight,
                             warm_start_from=None if start is None else [start[k] for k in active])


def stacked_relaxation(template, X, y, sample_weight, splits, starts, budget):
    """A function of ``rounds`` that trains the splits' penalized models ``starts``
    (StackedFit) one cosine cycle of ``rounds`` rounds at ``alpha=0``, as one stacked
    network, and returns the per-row validation losses pooled over the splits (the
    order of :func:`skdgating._mlp_path._path_losses`)."""
    stack = _Stack(template, X, y, sample_weight, splits, budget)
    everyone = list(range(len(splits)))

    def relax(rounds):
        fits = stack.train(everyone, 0.0, rounds * stack.round_epochs, starts)
        return np.concatenate([stack.scoring[k](fit)[0] for k, fit in enumerate(fits)])

    return relax


def stacked_paths(template, X, y, sample_weight, splits, alphas, budget, lean=False):
    """One warm-started dense-to-sparse path per split, all splits trained as one stacked network.

    Parameters and returned records as :func:`skdgating._mlp_path.train_paths` with
    ``keep_estimators=False`` (see :func:`stackable` for what it accepts). A ``lean``
    path stops for every split at once, on the validation rows of all of them.

    Returns
    -------
    list (one per split) of list (one per alpha) of PathModel
    """
    stack = _Stack(template, X, y, sample_weight, splits, budget)
    scoring, penalized, train = stack.scoring, stack.penalized, stack.train
    first_epochs, round_epochs, per_epoch = stack.first_epochs, stack.round_epochs, stack.per_epoch

    def record(k, alpha, fit, relaxed, epochs, settled, exposure):
        model = PathModel(alpha=float(alpha), support=fit.support.copy(), group_norms=fit.group_norms.copy(),
                          n_selected=int(fit.support.sum()), n_epochs=int(epochs), settled=bool(settled),
                          exposure=float(exposure))
        if relaxed is None:  # not scored (lean)
            model.valid_losses = np.full(len(scoring[k].y), np.nan)
        else:
            model.valid_losses, model.valid_score = scoring[k](relaxed)
            model.relaxed, model.start = relaxed, fit
        return model

    def scored(alpha, fit, settled, exposure):
        """Whether a split's model ``fit`` gets a relaxed copy and a score."""
        return not lean or needs_score(settled, exposure, not np.any(fit.group_norms[penalized] > 0),
                                       first=alpha == alphas[0])

    def relax_and_round(waiting, alive, alpha):
        """The relaxed copies (one round at alpha=0) of the ``waiting`` models that are
        scored, and one round at ``alpha`` of the splits ``alive``, from ``fits``: one
        stacked network, so the two pay the per-step overhead once (the relaxed copies
        used to take a call of their own, about a fifth of a search's time).

        The path's models come first in the stack: a model's float32 results depend in
        the last bits on its place in the stacked network, so with the relaxed copies
        first a lean search (fewer copies) trained other path models than the full one
        and, on digits with probes, chose another alpha (0.016 instead of 0.027)."""
        ks = [k for k, (alpha_k, fit, _, settled, exposure) in waiting.items()
              if scored(alpha_k, fit, settled, exposure)]
        out = train(alive + ks, [alpha] * len(alive) + [0.0] * len(ks), round_epochs, fits) if ks or alive else []
        return dict(zip(ks, out[len(alive):])), out[:len(alive)]

    def finish(waiting, relaxed):
        """Record the ``waiting`` models (split -> (alpha, fit, epochs, settled, exposure))."""
        for k, (alpha, fit, epochs, settled, exposure) in waiting.items():
            paths[k].append(record(k, alpha, fit, relaxed.get(k), epochs, settled, exposure))

    weights = None if sample_weight is None else np.concatenate([sample_weight[valid] for _, valid in splits])

    K = len(splits)
    everyone = list(range(K))
    paths = [[] for _ in range(K)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", EmptyModelWarning)
        fits = train(everyone, alphas[0], first_epochs, None)
        exposure = [per_epoch * alphas[0] * first_epochs] * K
        # Each split's model at the last alpha, waiting for its relaxed copy, which is
        # trained in the same call as the next alpha's first round.
        waiting = {k: (alphas[0], fits[k], budget.first_epochs, True, exposure[k]) for k in everyone}
        for alpha in alphas[1:]:
            alive = [k for k in everyone if np.any(fits[k].group_norms[penalized] > 0)]
            relaxed, first_round = relax_and_round(waiting, alive, alpha)
            finish(waiting, relaxed)
            waiting = {}
            # (a lean path that stops here has trained one round of this alpha for nothing)
            if lean and path_is_done(_path_losses(paths), weights,
                                     is_candidate([[m.settled for m in p] for p in paths],
                                                  [[m.exposure for m in p] for p in paths])):
                break
            # Every feature gone: zero columns are absorbing, so every larger alpha gives
            # this same constant network (and the same relaxed copy).
            for k in set(everyone) - set(alive):
                empty = paths[k][-1]
                paths[k].append(PathModel(alpha=float(alpha), support=empty.support, group_norms=empty.group_norms,
                                          n_selected=empty.n_selected, n_epochs=0, settled=True,
                                          exposure=np.inf, valid_losses=empty.valid_losses,
                                          valid_score=empty.valid_score))
            if not alive:
                continue
            epochs = dict.fromkeys(alive, 0)
            settled = dict.fromkeys(alive, False)
            active, trained = list(alive), first_round
            while active:
                before = {k: (fits[k].support.copy(), fits[k].group_norms.copy()) for k in active}
                for k, fit in zip(active, trained):
                    fits[k] = fit
                    epochs[k] += budget.round_epochs
                    settled[k] = _support_settled(before[k], _as_fitted(fit), penalized)
                # A settled split is frozen (its sequential path stops training it too).
                active = [k for k in active if not settled[k] and epochs[k] < budget.max_epochs]
                trained = train(active, alpha, round_epochs, fits) if active else []
            for k in alive:
                rounds = epochs[k] // budget.round_epochs
                exposure[k] += per_epoch * alpha * rounds * round_epochs
                waiting[k] = (alpha, fits[k], epochs[k], settled[k], exposure[k])
        relaxed, _ = relax_and_round(waiting, [], None)
        finish(waiting, relaxed)
    return paths


def _as_fitted(fit):
    """A StackedFit under the fitted attributes' names that ``_support_settled`` reads."""
    return SimpleNamespace(support_=fit.support, group_norms_=fit.group_norms)


class _Scoring:
    """The validation rows of one split, scored as ``_record`` scores an estimator."""

    def __init__(self, template, X, y, sample_weight, train, valid, classes):
        self.classes = classes
        self.n_threads = template.n_threads
        self.X, self.y = X[valid], y[valid]
        self.sw = None if sample_weight is None else sample_weight[valid]
        self.y_scale = None
        if classes is None:
            self.y_scale = target_scale(y[train])

    def predict(self, fit, X):
        """Class probabilities or predicted targets of a StackedFit for the validation rows
        ``X`` (the estimators' ``predict_proba`` / ``predict``)."""
        layers = fit.module.layers
        # The pools of the estimators' predict.
        with forward_thread_limits(self.n_threads, layers[0].in_features,
                                   [layer.out_features for layer in layers[:-1]], layers[-1].out_features,
                                   len(X)):
            out = fit.decision(X)
        if self.classes is not None:
            # The estimators' predict_proba: the softmax of the logits.
            out = np.exp(out - out.max(axis=1, keepdims=True))
            return out / out.sum(axis=1, keepdims=True)
        return out[:, 0] if np.ndim(self.y) == 1 else out

    def row_losses(self, fit, X):
        """Validation loss per row of a StackedFit on the validation rows ``X`` (as given,
        or with columns shuffled)."""
        return _row_losses(self.classes, self.predict(fit, X), self.y, self.y_scale)

    def __call__(self, fit):
        """(validation loss per row, accuracy or R^2) of a StackedFit."""
        out = self.predict(fit, self.X)
        losses = _row_losses(self.classes, out, self.y, self.y_scale)
        if self.classes is not None:
            score = accuracy_score(self.y, self.classes[out.argmax(axis=1)], sample_weight=self.sw)
        else:
            score = r2_score(self.y, out, sample_weight=self.sw)
        return losses, float(score)
