r"""The MLP path core: warm-started dense-to-sparse paths, the choice rule and ``alpha="auto"``.

One core serves three callers, as ``enet_path`` serves ``Lasso``, ``LassoCV`` and
``lasso_path`` in scikit-learn:

* ``DGatingMLPClassifier/Regressor(alpha="auto").fit`` -> :func:`choose_alpha` with
  ``cv=3`` and the best mean validation loss, then a final model on all rows;
* ``DGatingMLPClassifierCV/RegressorCV.fit`` -> :func:`choose_alpha` with the user's
  ``cv``, ``alphas`` and ``selection``;
* :func:`skdgating.dgating_path` (MLP estimators) -> :func:`train_paths` on one split.

Every (split x alpha) model is trained by :func:`train_paths`, and by nothing else. In a
search (no estimators kept) it trains the K folds as one stacked, vectorized network
(:mod:`skdgating._stacked_path`, on :func:`skdgating._training.train_stacked`), which pays
the per-step overhead once instead of K times; otherwise, and where the stacked trainer
cannot (``gate_hidden``), one path per split through the estimators' public API
(``clone``, ``set_params``, ``fit`` with ``warm_start``, ``predict``/``predict_proba``,
the fitted attributes).

Why a path, and why each model trains "until settled"
-----------------------------------------------------
In a network trained by SGD a column at exactly zero is a critical point of its
factorization, so a feature that left never returns: the path runs from small to
large alpha (dense to sparse), each model continuing from the previous one. The
imbalance between a column's factors decays by about ``4 * lr * alpha / D`` per SGD
step, so how far a model has moved towards its sparse limit depends on how many
steps it had, not on its epochs. A fixed number of epochs per alpha left mid-path
models still shedding columns whose norms were about 10x below the real ones but
above the read-out threshold (METHOD.md section 9). Here each path model trains in
rounds of a few epochs until a round removes no feature and shrinks no kept feature
by more than half (relative to the largest), within a budget; a model that
exhausts its budget is reported (``settled`` False and a ``ConvergenceWarning``
naming the parameter that sets the budget).
"""

import copy
import functools
import math
import warnings
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, StratifiedKFold, check_cv
from sklearn.utils import check_random_state

from ._validation import _user_stacklevel
from .exceptions import EmptyModelWarning
from .groups import make_groups

# A kept feature whose norm falls below this fraction of its value at the start of
# a round is still collapsing: the model has not settled.
_SHRINK = 0.5
# alpha="auto": folds, grid size and the smallest number of validation rows per
# fold for which a validation score means anything.
AUTO_CV = 3
# 12 alphas (ratio 1.68 between neighbours). 18 (ratio 1.40) were measured on full
# searches of the panel of benchmarks/bench_selection.py (planted problems x 3 seeds, 5
# real data sets with as many probes as real columns x 3 splits; with the consensus
# scoring described below): one more informative column on one make_classification
# seed, 1 and 4 noise columns on two madelon-like seeds where 12 kept none, one probe
# fewer in 15 real fits, at about 1.3x the time (issue 12's note of 2026-12-06).
AUTO_N_ALPHAS = 12
# The best mean (relaxed) validation loss among the candidates. The 1-SE rule was
# measured too: with relaxed scoring the sparser models lose little loss, and it
# dropped weak real columns (make_classification, 8 of 100 informative, 1,000 rows:
# 5 of 8 kept at alpha_1se against 7 of 8 and no probe in the consensus at the
# best). Noise columns are kept out by the consensus over folds instead. Also measured
# on the whole panel (issue 12's note of 2026-12-06), neither better than this default:
# scoring each path model on the consensus columns only (what the final network would
# train on) with this rule let a probe in on 4 of 5 real data sets (one split each, full
# searches replayed); with the 1-SE rule (the benchmark, same machine, against this
# default at b842b4a) it kept no probe on digits where this default kept 0.33 per fit,
# the same on the others, 7, 7, 7 of 8 informative columns (this default 7, 7, 8), and
# lost test accuracy (wine 0.956 against 0.985, digits 0.964 against 0.973).
AUTO_SELECTION = "min"
MIN_VALID_ROWS = 10
# Fewest SGD steps of the dense start and of one round (see Budget.for_data).
MIN_FIRST_STEPS = 1000
MIN_ROUND_STEPS = 100
# The search's budgets count an epoch as at most this many SGD steps (1,600 fold rows at
# batch 32); see Budget.for_data. Every problem of benchmarks/bench_selection.py has at
# most 47 steps per fold epoch, so its budgets are those of plain epochs.
MAX_EPOCH_STEPS = 50
# Mean validation losses (per row: nats, or squared error in units of the target's
# spread) closer than this are a tie: below what float32 networks resolve.
TIE = 1e-9
# A path model is a candidate only once the penalty has contracted the gating
# imbalance by about e (cumulative 4 * lr * alpha * steps / D >= 1).
MIN_EXPOSURE = 1.0
# A lean search (alpha="auto") stops its path once the models are clearly worse than the
# best so far and getting worse: the last STOP_PATIENCE alphas are candidates past the best
# candidate and either each worse than it by more than STOP_SE paired standard errors
# (one_se_rule's SE), or each worse than the alpha before it (the mean validation loss
# rose twice in a row). On a path the validation loss rises steadily past the best (the
# sparse end only removes signal), so the rest of the grid cannot win; it used to cost a
# round and a scoring round per alpha and fold. The rise alone is needed on small data,
# where a few badly predicted rows make the SE large: wine with probes (133 rows) never
# met the SE test and trained all 12 alphas. Replayed on the records of 26 default fits
# (the panel of benchmarks/bench_selection.py: 5 real data sets with probes x 3 splits,
# 4 planted problems x 3 seeds, one madelon fit missing), the rise stops 17 of them
# earlier and changes no choice (the models up to a stop are the same as without it).
# It is a heuristic: the loss also rises by training noise between models that keep the
# same columns. On an 18-value grid (the lean-search test of tests/test_auto.py, 200
# rows) it rose twice after the 4th alpha (0.056 -> 0.057 -> 0.061) while the folds kept
# the same 3 columns up to the best, the 9th (0.051), and the search stopped at the 6th.
# Counting a rise only where the folds kept fewer columns fixes that case; replayed on 27
# full searches of the panel with this grid it changed no choice and trained up to 4 more
# alphas per search, so it was not adopted.
STOP_SE = 3.0
STOP_PATIENCE = 2
# The permutation screen of the consensus columns (see permutation_screen): a column
# stays only if shuffling it on the folds' validation rows raises the chosen models'
# loss by more than SCREEN_SE standard errors (one, as in the one-standard-error rule),
# averaged over SCREEN_REPEATS shuffles per fold.
SCREEN_SE = 1.0
SCREEN_REPEATS = 5
# The recovery of columns at the chosen alpha's denser neighbour (see recovered_columns):
# the family-wise error level of its permutation test, Bonferroni-corrected over the
# penalized groups. 0.01, not 0.05: at 0.05 a 300-row problem with a 2-row class let two
# noise columns in (z 2.9 and 2.65 against 2.5); on the benchmark panel both levels added
# no noise column, and 0.05 added 3 more real ones in 66 real fits (replayed records).
RECOVERY_LEVEL = 0.01
# train_paths trains the splits of a search (no estimators kept) as one stacked network
# (skdgating._stacked_path) where it can; False: one sequential path per split.
STACK_SPLITS = True


@dataclass
class PathModel:
    """One model of a path (numpy only, unless the path keeps its estimators)."""

    alpha: float
    support: np.ndarray          # bool, (n_features,)
    group_norms: np.ndarray      # (n_groups,)
    n_selected: int
    n_epochs: int                # epochs trained at this alpha
    settled: bool
    exposure: float = np.inf     # cumulative 4 * lr * alpha * steps / D up to this model
    valid_losses: np.ndarray = None   # per validation row
    valid_score: float = np.nan       # accuracy or R^2 on the validation rows
    estimator: object = None
    relaxed: object = None            # the scored relaxed copy (estimator or StackedFit)
    start: object = None              # the penalized model it was relaxed from (same kind), when scored


@dataclass
class Budget:
    """Epochs of a path: the first (dense) model, then rounds of ``round_epochs`` up to
    ``max_epochs`` per later alpha. ``name`` is the parameter that sets them (for messages)."""

    first_epochs: int
    round_epochs: int
    max_epochs: int
    name: str

    @classmethod
    def for_data(cls, max_epochs, steps_per_epoch, name="max_epochs", all_rows_steps_per_epoch=None):
        """The budget of an automatic search, from the single-fit ``max_epochs``.

        Epochs are the wrong unit on small data: the gates move per SGD *step*, and
        300 rows at batch 32 give 10 steps per epoch. So the dense start trains a
        quarter of ``max_epochs`` but at least ``MIN_FIRST_STEPS`` steps, each later
        alpha may train (until it settles) half of ``max_epochs`` but at least as many
        steps as the dense start, and each round at least ``MIN_ROUND_STEPS``.

        Why a later alpha gets the dense start's steps: the grid's reference alpha
        (:func:`alpha_grid_for`) is the one whose exposure over the dense start's steps
        is 1, so with as many steps every alpha from there up can contract the gating
        imbalance by e on its own budget. With half of ``max_epochs`` only (wine, 89
        rows per fold: 3 steps per epoch, 300 steps per alpha) the mid-path models
        were still losing features in some fold at 5-6 of the 8 alphas the penalty had
        acted on, so only the sparse end qualified (2-3 of 13 real columns, test
        accuracy 0.89-0.93); with the dense start's steps, at 0, 0 and 1 of 6-9 (3
        splits; 7-8 real columns, test accuracy 0.978).

        On large data an epoch counts as at most ``MAX_EPOCH_STEPS`` steps: the gates
        move per step, and an epoch of thousands of rows holds more steps than the
        path needs. With plain epochs the search's time grew with the rows (folds of
        5,333 rows: 167 steps per epoch, a dense start of 8,350 steps), and the default
        fit took 1.49x LassoNet's whole path on make_classification with 8,000 rows
        (69.6 s against 46.7 s). Counted this way, on 8,000-row versions of the four
        planted problems of benchmarks/bench_selection.py (3 seeds each) it kept the
        same planted columns (friedman1 and make_classification exactly, the madelon-like
        problem 6-8 columns of rank 5 either way) at test scores within 0.001, 2.2-3.4x
        faster, and the same on 10,000 rows of AER CPS1988 with probes (6-7 real
        columns, no probe, test R^2 within 0.002, 2.7-3.5x faster). On AER DoctorVisits
        with probes (3,892 training rows, a noisy count) one split of three differed:
        plain epochs found no model that settled and kept every column and probe (test
        R^2 0.212), this budget 5 real columns without ``reduced`` (0.087).

        These floors stop at the SGD steps of a single fit of ``max_epochs`` epochs on
        all the rows (``all_rows_steps_per_epoch`` steps per epoch; default: as many
        as ``steps_per_epoch``), beyond which only the two rounds every later alpha
        gets may go; this also keeps tiny budgets, as in the estimator checks, tiny.
        A settled alpha costs one or two rounds, so a path of n alphas costs about
        1/4 + n/20 single fits per fold, plus the extra rounds of the alphas where
        features leave.
        """
        all_rows = steps_per_epoch if all_rows_steps_per_epoch is None else all_rows_steps_per_epoch
        cap = max(max_epochs, math.floor(max_epochs * all_rows / steps_per_epoch))
        scale = capped_epoch_scale(steps_per_epoch)

        def epochs(fraction, min_steps):
            wanted = max(round(max_epochs // fraction * scale), math.ceil(min_steps / steps_per_epoch))
            return max(1, min(cap, wanted))

        round_epochs = epochs(20, MIN_ROUND_STEPS)
        first_epochs = epochs(4, MIN_FIRST_STEPS)
        # at least two rounds per alpha: one that may remove features, one to see that it settled
        per_alpha = max(min(cap, max(round(max_epochs // 2 * scale), first_epochs)), 2 * round_epochs)
        return cls(first_epochs, round_epochs, per_alpha, name)


def steps_per_epoch(n_rows, batch_size):
    return math.ceil(n_rows / min(int(batch_size), n_rows))


def capped_epoch_scale(steps):
    """The share of an epoch of ``steps`` SGD steps that the search's budgets count as
    one epoch: at most ``MAX_EPOCH_STEPS`` steps (see :meth:`Budget.for_data`)."""
    return min(1.0, MAX_EPOCH_STEPS / steps)


def alpha_grid_for(template, n_rows, n_alphas=AUTO_N_ALPHAS, budget=None):
    r"""Increasing geometric grid of alphas tied to the SGD steps a path model gets.

    The gating imbalance contracts by about ``4 * lr * alpha / D`` per step (METHOD.md
    section 5.5), so over ``T`` steps a penalty below ``D / (4 * lr * T)`` barely acts.
    With ``T`` the steps of the dense start (a quarter of ``max_epochs``), the grid
    runs from a third of that value to 100 times it: its low end keeps every feature
    and its high end removes every feature on the problems we measured (the path
    stops fitting once a model is empty, so a generous high end costs little).
    """
    params = template.get_params()
    per_epoch = steps_per_epoch(n_rows, params["batch_size"])
    budget = budget or Budget.for_data(params["max_epochs"], per_epoch)
    T = budget.first_epochs * per_epoch
    reference = params["D"] / (4.0 * params["learning_rate_init"] * T)
    # Above D / (4 lr) one step shrinks each factor by half or more: SGD overshoots
    # (and every feature is gone long before). Few steps (tiny data) would reach it.
    high = min(100 * reference, params["D"] / (4.0 * params["learning_rate_init"]))
    return np.geomspace(min(reference / 3, high / 300), high, n_alphas)


def relaxed_copy(est, X, y, sample_weight, rounds):
    """A copy of the penalized path estimator ``est`` trained at ``alpha=0`` for one cosine
    cycle of ``rounds`` rounds (``est.max_epochs`` is one round on a path): how the folds
    score a support, and how :func:`relaxed_rounds` judges the final network's relaxation.
    Dropped columns stay exactly zero on the warm start."""
    copied = copy.deepcopy(est).set_params(alpha=0.0, max_epochs=rounds * est.max_epochs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the caller judges the length
        return copied.fit(X, y, sample_weight=sample_weight)


def _per_row_losses(est, X, y, y_scale):
    """Validation loss of every row: log-loss (classifier) or squared error (regressor,
    averaged over outputs, in units of ``y_scale``, the targets' spread on the training rows)."""
    if is_classifier(est):
        return _row_losses(est.classes_, est.predict_proba(X), y, None)
    return _row_losses(None, est.predict(X), y, y_scale)


def _row_losses(classes, output, y, y_scale):
    """:func:`_per_row_losses` from a model's output: class probabilities (``classes``
    given) or predicted targets."""
    if classes is not None:
        col = np.searchsorted(classes, y)
        col = np.minimum(col, len(classes) - 1)
        p = output[np.arange(len(y)), col]
        p = np.where(classes[col] == y, p, 0.0)  # a class unseen in training
        return -np.log(np.clip(p, 1e-15, None))
    err = (output - y).reshape(len(y), -1) / y_scale
    return (err**2).mean(axis=1)


def _support_settled(before, after, penalized):
    """No feature left, and no kept group's norm fell below ``_SHRINK`` of its value.

    ``before`` is ``(support_, group_norms_)`` at the start of the round. Absolute
    norms: at a large alpha every column collapses at once, which relative norms
    would not show.
    """
    if np.any(before[0] != after.support_):
        return False
    kept = (after.group_norms_ > 0) & penalized
    return bool(np.all(after.group_norms_[kept] >= _SHRINK * before[1][kept]))


def _record(est, alpha, epochs, settled, exposure, valid, keep, lean=False, first=False):
    model = PathModel(alpha=float(alpha), support=est.support_.copy(), group_norms=est.group_norms_.copy(),
                      n_selected=int(est.support_.sum()), n_epochs=int(epochs), settled=bool(settled),
                      exposure=float(exposure))
    if valid is not None:
        X_val, y_val, sw_val, y_scale, relax = valid
        if lean and not needs_score(settled, exposure, model.n_selected == 0, first):
            model.valid_losses = np.full(len(y_val), np.nan)
        else:
            judged = relax(est)
            model.start = copy.deepcopy(est)
            model.valid_losses = _per_row_losses(judged, X_val, y_val, y_scale)
            model.valid_score = float(judged.score(X_val, y_val, sample_weight=sw_val))
            model.relaxed = judged
    if keep:
        model.estimator = copy.deepcopy(est)
    return model


def _warm_path(template, X, y, sample_weight, train, valid, alphas, budget, keep, lean=False, min_epochs=None):
    """One dense-to-sparse path (increasing ``alphas``) on the rows ``train`` (None: all,
    X and y as given), scored on the rows ``valid`` (None: not scored). ``lean``: score
    only the candidates and stop once clearly worse (:func:`path_is_done`, on this
    split's validation rows). ``min_epochs`` (one per alpha): epochs each later alpha
    trains before the settle rule may stop it."""
    if train is None:
        Xt, yt, swt = X, y, sample_weight
    else:
        Xt, yt = X[train], y[train]
        swt = None if sample_weight is None else sample_weight[train]
    scored = None
    if valid is not None:
        y_scale = None if is_classifier(template) else target_scale(yt)

        def relax(est):
            # Judge the support, not the shrinkage: a copy trained one more round at
            # alpha=0 (dropped columns stay exactly zero on a warm start). Without it
            # the penalty's bias on the kept columns made the densest models look best
            # (validation loss 0.069 dense vs 0.083 on the exact planted support).
            return relaxed_copy(est, Xt, yt, swt, rounds=1)

        scored = (X[valid], y[valid], None if sample_weight is None else sample_weight[valid], y_scale, relax)
    # Path models never stop early (the rounds decide when a model is done) and
    # train silently.
    est = clone(template).set_params(warm_start=True, alpha=float(alphas[0]), max_epochs=budget.first_epochs,
                                     early_stopping=False, verbose=0)
    # How far the penalty has acted: the imbalance contracts by about
    # exp(-4 * lr * alpha * steps / D) (METHOD.md 5.5; the cosine schedule halves the mean lr).
    per_epoch = exposure_per_epoch(template, steps_per_epoch(len(yt), template.batch_size))
    exposure = per_epoch * alphas[0] * budget.first_epochs
    path = []
    with warnings.catch_warnings():
        # Rounds are short by design: the core judges convergence itself (below), and
        # empty models are expected at the sparse end.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", EmptyModelWarning)
        est.fit(Xt, yt, sample_weight=swt)
        penalized = _penalized(est)
        est.set_params(max_epochs=budget.round_epochs)
        path.append(_record(est, alphas[0], budget.first_epochs, True, exposure, scored, keep, lean, first=True))
        for i, alpha in enumerate(alphas[1:], start=1):
            if lean and scored is not None and path_is_done(
                    _path_losses([path]), scored[2], [is_candidate([m.settled], [m.exposure]) for m in path]):
                break
            if not np.any(est.group_norms_[penalized] > 0):
                # Every feature is gone; zero columns are absorbing, so every larger
                # alpha gives this same constant network.
                path.append(_record(est, alpha, 0, True, np.inf, scored, keep, lean))
                if keep:
                    path[-1].estimator.set_params(alpha=float(alpha))
                continue
            est.set_params(alpha=float(alpha))
            epochs, settled = 0, False
            floor = 0 if min_epochs is None else min_epochs[i]
            while epochs < floor or (epochs < budget.max_epochs and not settled):
                before = (est.support_.copy(), est.group_norms_.copy())
                est.fit(Xt, yt, sample_weight=swt)
                epochs += budget.round_epochs
                settled = _support_settled(before, est, penalized)
            exposure += per_epoch * alpha * epochs
            path.append(_record(est, alpha, epochs, settled, exposure, scored, keep, lean))
    if keep:
        for model in path:
            model.estimator.set_params(warm_start=template.warm_start, max_epochs=template.max_epochs)
    return path


def target_scale(y_train):
    """Standard deviation of each training target (1 where constant): validation
    losses of regressors are in these units, comparable across folds."""
    scale = np.reshape(y_train, (len(y_train), -1)).std(axis=0)
    return np.where(scale > 0, scale, 1.0)


def exposure_per_epoch(template, steps):
    """How far the penalty acts per unit alpha in an epoch of ``steps`` SGD steps: the
    gating imbalance contracts by about exp(-4 * lr * alpha * steps / D) (METHOD.md 5.5;
    the cosine schedule halves the mean learning rate)."""
    lr = template.learning_rate_init * (0.5 if template.learning_rate == "cosine" else 1.0)
    return 4.0 * lr * steps / template.D


def is_candidate(settled, exposure):
    """Whether a path model may be chosen: it settled, after the penalty had time to act
    (a model whose support did not change because the penalty has barely started is
    dense by lack of steps, not by choice; on wine with probes those dense models kept
    every probe and won on log-loss). Arrays: per split along axis 0, all must qualify.

    Measured and not adopted (issue 12's note of 2026-12-07): an alpha whose folds'
    consensus did not change in their last round, settled or not (the final network
    uses only the consensus). Replayed on the 39 full searches of the panel of
    benchmarks/bench_selection.py (6 seeds per planted problem): the same choice on
    make_classification, 1-3 noise columns on 3 of 6 madelon-like seeds and 1-2 probes
    on 2 of 3 digits splits where this rule kept 0 and 1. On make_classification seeds
    0 and 1 the alpha before the chosen one has exactly the 8 informative columns in
    its consensus, but a higher mean validation loss than the chosen 7-column models:
    its fold models still held 1-6 noise columns each.

    Also measured and not adopted (issue 12's note of 2026-12-07, ninth session): the
    models of an alpha that beat the best candidate by more than one paired SE while
    some fold was still losing features trained on, from where their path left them,
    for up to 4x the per-alpha budget until they settled, and were then scored and
    chosen among again. On the madelon-like problem of benchmarks/bench_selection.py
    (draw 0, random_state 0-2) it chose the alpha before, 5-6 columns spanning the
    planted ones (span F1 0.75-0.89 -> 0.91-1.00, test accuracy 0.809 -> 0.897; draws 1
    and 2: the same selections). On the 11 real data sets with probes, 6 splits each
    (66 fits), it changed the chosen alpha in 6 fits and the selection in 5, and kept 7
    more probes, none fewer (digits 1 and 2 on two splits, ISLR Hitters 4 on one, where
    the settled dense models held 8 probes in their consensus), at mean test scores
    within 0.004 per data set. The challengers' paired z-scores (1.0 to 3.8) did not
    separate the fits it helped from those it hurt. A stricter permutation screen, 2 SEs
    instead of one, replayed on those 66 searches' records, removed 13 of the 16 probes
    the screen let through, and 43 of 468 real columns with them (wine 7 of 38)."""
    return np.all(settled, axis=0) & (np.min(exposure, axis=0) >= MIN_EXPOSURE)


def needs_score(settled, exposure, empty, first=False):
    """A lean search scores (relaxed copy, validation rows) only the models the penalty
    has acted on (exposure >= MIN_EXPOSURE, settled or not), the empty ones (their
    score stands for every larger alpha) and the dense start (``first``). Unsettled
    models are scored although they are not candidates: when no alpha settled in every
    fold (small data), the fallback of :func:`choose_alpha` chooses among them (wine
    with probes, 133 rows: the smallest alpha instead, with every probe, when they were
    not scored). The dense start is what that fallback compares the empty models with
    when no other model with features was scored."""
    return bool(empty or first or np.min(exposure) >= MIN_EXPOSURE)


def path_is_done(losses, weights, candidate):
    """Whether a lean path may stop (see ``STOP_SE``): ``losses`` has one row per
    validation row (pooled over the splits) and one column per alpha trained so far,
    ``candidate`` one bool per alpha."""
    candidate = np.asarray(candidate, bool)
    if len(candidate) <= STOP_PATIENCE or not candidate[-STOP_PATIENCE:].all():
        return False
    best, _, mean, se = one_se_rule(losses, weights, eligible=candidate)
    last = np.arange(len(candidate) - STOP_PATIENCE, len(candidate))
    if best >= last[0]:
        return False
    clearly_worse = np.all(mean[last] - mean[best] > STOP_SE * se[last])
    # (an unscored alpha before them has a NaN mean: no rise)
    rising = np.all(np.diff(mean[last[0] - 1:]) > 0)
    return bool(clearly_worse or rising)


def _path_losses(paths):
    """(validation rows pooled over the splits, alphas) losses of equally long paths."""
    return np.concatenate([np.array([m.valid_losses for m in path]).T for path in paths])


def _penalized(est):
    return make_groups(est.groups, est.n_features_in_, est.group_weights,
                       getattr(est, "feature_names_in_", None)).penalized


def train_paths(template, X, y, sample_weight, splits, alphas, budget, *, keep_estimators=False,
                n_jobs=None, lean=False, min_epochs=None):
    """Train one warm-started dense-to-sparse path per split: the only (split x alpha) trainer.

    Parameters
    ----------
    template : DGatingMLPClassifier or DGatingMLPRegressor
        Cloned; its ``alpha``, ``warm_start`` and ``max_epochs`` are overridden.
    X, y, sample_weight : validated arrays (``sample_weight`` may be None)
    splits : list of (train_rows or None, valid_rows or None)
        ``None`` train rows: every row, X and y passed to ``fit`` as given.
    alphas : increasing 1-D array
    budget : Budget
    keep_estimators : bool
        Keep a fitted copy of every model (``dgating_path``); otherwise numpy records only.
    n_jobs : int or None
        Splits run in parallel with joblib (sequential paths only).
    lean : bool
        ``alpha="auto"``'s economy: only the models that can be chosen are scored
        (:func:`needs_score`; the others get NaN losses), and the paths stop once their
        last models are clearly worse than the best (:func:`path_is_done`). The paths
        returned may then be shorter than ``alphas`` (the same length when stacked).
    min_epochs : array of int, one per alpha, optional
        Epochs each alpha after the first trains at least, before the settle rule may
        stop it (the final network of a search, :func:`fit_final`; sequential paths).

    Notes
    -----
    Without ``keep_estimators`` (the cross-validated searches) the splits train as one
    stacked network (:func:`skdgating._stacked_path.stacked_paths`, same grid, rounds
    and records, the same SGD steps per model) when ``STACK_SPLITS`` is set and the
    trainer supports the template (:func:`skdgating._stacked_path.stackable`).

    Returns
    -------
    list (one per split) of list (one per alpha) of PathModel
    """
    alphas = np.asarray(alphas, dtype=float)
    if STACK_SPLITS and not keep_estimators and min_epochs is None:
        from ._stacked_path import stackable, stacked_paths

        if stackable(template, y, splits):
            return stacked_paths(template, X, y, sample_weight, splits, alphas, budget, lean=lean)
    return Parallel(n_jobs=n_jobs)(
        delayed(_warm_path)(template, X, y, sample_weight, train, valid, alphas, budget, keep_estimators, lean,
                            min_epochs)
        for train, valid in splits)


def warn_unsettled(models, budget):
    """ConvergenceWarning naming the alphas whose models had not settled, and the budget's parameter."""
    unsettled = sorted({m.alpha for m in models if not m.settled})
    if unsettled:
        warnings.warn(
            f"{len(unsettled)} path model(s) (alpha={', '.join(f'{a:.3g}' for a in unsettled[:4])}"
            f"{', ...' if len(unsettled) > 4 else ''}) were still losing features after "
            f"{budget.max_epochs} epochs (set by {budget.name}); increase {budget.name} "
            "for a settled selection.", ConvergenceWarning, stacklevel=3)


# --------------------------------------------------------------------------------------
# The choice rule
# --------------------------------------------------------------------------------------
def one_se_rule(losses, weights=None, eligible=None):
    """Index of the chosen alpha (increasing grid) by the paired one-standard-error rule.

    ``losses`` has one row per validation row (each scored by the fold model that did
    not see it) and one column per alpha. The best alpha has the smallest mean loss;
    the rule takes the largest alpha whose mean loss exceeds the best by at most one
    standard error of the *paired* per-row differences. Pairing removes the rows'
    common difficulty, so the SE measures only how much the two models disagree, and
    scales with the validation noise of the data at hand (unlike a fixed tolerance).
    Only the ``eligible`` alphas (default: all) can be the best or the chosen one:
    the caller passes the alphas whose models settled in every fold, since a model
    still losing features is not the model its alpha leads to (mid-collapse models
    keep noise columns and were often the "best" by a small margin).

    Returns
    -------
    best, chosen : int
    mean, se : ndarray of shape (n_alphas,)
        Mean loss and SE of the paired difference against the best (0 at the best).
    """
    losses = np.asarray(losses, dtype=float)
    mean, _ = paired_mean_se(losses, weights)
    eligible = np.ones(losses.shape[1], bool) if eligible is None or not np.any(eligible) else eligible
    # Numerical ties go to the larger alpha (the sparser model): the empty models past the
    # last feature score alike, and on a constant target every model predicts it to
    # float precision (mean losses 3.8e-11 and 3.9e-11: the densest model won by noise).
    ties = np.flatnonzero(eligible & (mean <= np.min(mean[eligible]) + TIE))
    best = int(ties.max())
    excess, se = paired_mean_se(losses - losses[:, [best]], weights)
    ok = np.flatnonzero((excess <= se) & eligible)
    return best, int(ok.max()), mean, se


def paired_mean_se(diff, weights=None):
    """Weighted mean of each column of ``diff`` (one row per validation row, e.g. the
    per-row differences of two models' losses) and its standard error, with the
    effective number of rows ``1 / sum(w**2)`` of the normalized weights."""
    w = np.ones(len(diff)) if weights is None else np.asarray(weights, dtype=float)
    w = w / w.sum()
    n_eff = 1.0 / np.sum(w**2)
    mean = w @ diff
    var = w @ (diff - mean) ** 2 * n_eff / max(n_eff - 1.0, 1.0)
    return mean, np.sqrt(var / n_eff)


def relaxed_rounds(template, X, y, sample_weight, splits, models, budget, weights=None):
    """How many rounds at ``alpha=0`` the final network should train on its support.

    The final network relaxes in one cosine cycle of ``rounds * round_epochs`` epochs
    from its penalized path model (:func:`fit_final`), so the folds judge exactly that:
    each chosen model's penalized state (``models[k].start``) trains one cycle of 1, 2,
    4, ... rounds at ``alpha=0`` (up to ``max_epochs`` fold epochs of at most
    ``MAX_EPOCH_STEPS`` steps; one round is the relaxed copy the folds already
    scored), and the length with the lowest pooled validation loss is what the final
    network trains; the doubling stops at the first length that does not lower it.

    Why one cycle of each length, not rounds continued one after the other: each round
    restarts the cosine schedule at the full learning rate, and the folds' loss after
    such restarts said nothing about one long cycle (AER CreditCard with probes, 3
    splits: the restarted rounds' loss rose after one or two rounds, so the final network
    trained one or two, test accuracy 0.955-0.961; judged by single cycles, the folds
    chose 8-16 rounds on every split, 0.967-0.982). A fixed long refit overfits noisy
    targets instead (ISLR Wage: test R^2 0.308-0.352 after one round, 0.135-0.314 after
    200 epochs), and there the folds' loss rises from the first or second doubling on.

    Measured and not adopted (issue 12's note of 2026-12-08, twelfth session): length 0, the
    penalized model itself (glmnet's relaxed fit includes the unrelaxed one), as a candidate
    judged the same way. The folds preferred it on most real data sets, and on wine with
    probes the final network scored higher (6 splits: 0.974 against 0.970; College 0.937
    against 0.932), but on ISLR Wage the folds chose it on all 6 splits and the test R^2 fell
    on 5 (mean 0.337 against 0.347; Boston 0.829 against 0.832 when 0 competes with the best
    doubled length, 0.821 when it stops the doubling). The folds' comparison is biased towards
    it: their penalized models still carry the columns the consensus and the screen remove,
    which a relaxation at alpha=0 lets grow, while the final network relaxes on the screened
    columns alone.

    Measured and not adopted either (same session, same panel: 4 planted problems x 3 draws
    x 3 seeds, 11 real data sets with probes x 6 splits): removing that bias, i.e. relaxing
    the folds' models on the screened columns only (the others set to 0, as fit_final does,
    and length 1 trained again on them). The selections are unchanged by construction; 20 of
    the 102 final networks changed, 15 scoring higher: the madelon-like problem on all 3
    draws (0.897 -> 0.905, 0.893 -> 0.897, 0.885 -> 0.898; the folds chose 4-16 rounds where
    a fold's extra columns had made longer relaxations look worse), AER CreditCard 0.964 ->
    0.967, Boston 0.832 -> 0.834; Hitters and Pima one split each 0.015-0.016 lower. But the
    longer relaxations cost time: the madelon-like fits +26-52% (9.5 -> 14.4 s), wine +10%
    (3.0 -> 3.4 s over 10 splits), where the default fit's time is at issue 12's bound of half
    of stg's grid (5.7-6.6 s between runs). With length 0 competing as well (the final
    networks of those searches relaxed for every length), Wage still lost 0.007 (0.340) and
    wine gained 0.010 (0.981, 6 splits).

    Returns
    -------
    rounds : int
    curve : ndarray
        Pooled mean validation loss of each length tried (empty when the chosen models
        are empty or were not scored; ``rounds`` is then 1).
    lengths : ndarray of int
        The lengths tried, in rounds: 1, 2, 4, ...
    """
    starts = [m.start for m in models]  # set exactly for the scored models
    if any(s is None for s in starts) or any(m.n_selected == 0 for m in models):
        return 1, np.array([]), np.array([], dtype=int)
    from ._stacked_path import stacked_relaxation
    from ._training import StackedFit

    w = np.ones(sum(len(m.valid_losses) for m in models)) if weights is None else np.asarray(weights, float)
    w = w / w.sum()
    if isinstance(starts[0], StackedFit):
        relax = stacked_relaxation(template, X, y, sample_weight, splits, starts, budget)
    else:
        relax = functools.partial(_relaxed_estimators, X, y, sample_weight, splits, starts, template)
    lengths = [1]
    curve = [float(w @ np.concatenate([m.valid_losses for m in models]))]
    # Up to max_epochs fold epochs, counted as the search's budgets count them: at most
    # MAX_EPOCH_STEPS steps each (Budget.for_data). In plain epochs, 50,000 rows of
    # make_regression (1,042 steps per fold epoch, one epoch per round) doubled up to 64
    # rounds, 66,000 steps per fold, for a validation loss that moved by 1e-6 (0.1%) from
    # 8 rounds on: a fit of 78 s where other seeds took 11-22 s.
    fold_steps = steps_per_epoch(min(len(train) for train, _ in splits), template.batch_size)
    max_epochs = math.floor(template.max_epochs * capped_epoch_scale(fold_steps))
    max_rounds = max(1, max_epochs // budget.round_epochs)
    while 2 * lengths[-1] <= max_rounds:
        lengths.append(2 * lengths[-1])
        curve.append(float(w @ relax(lengths[-1])))
        if curve[-1] >= min(curve[:-1]):
            break
    best = int(np.argmin(curve))
    return lengths[best], np.array(curve), np.array(lengths)


def _relaxed_estimators(X, y, sample_weight, splits, starts, template, rounds):
    """:func:`skdgating._stacked_path.stacked_relaxation` for penalized estimator copies
    (the sequential paths): each trained one cycle of ``rounds`` rounds at ``alpha=0``
    (:func:`relaxed_copy`); the per-row validation losses pooled over the splits."""
    losses = []
    for start, (train, valid) in zip(starts, splits):
        est = relaxed_copy(start, X[train], y[train], None if sample_weight is None else sample_weight[train], rounds)
        y_scale = None if is_classifier(template) else target_scale(y[train])
        losses.append(_per_row_losses(est, X[valid], y[valid], y_scale))
    return np.concatenate(losses)


def make_splits(estimator, X, y, cv, random_state):
    """Folds of the training rows (stratified for classifiers), shuffled with ``random_state``."""
    if isinstance(cv, int):
        splitter = (StratifiedKFold if is_classifier(estimator) else KFold)(
            cv, shuffle=True, random_state=random_state)
        return list(splitter.split(X, y))
    return list(check_cv(cv, y, classifier=is_classifier(estimator)).split(X, y))


def auto_cv(estimator, y):
    """Number of folds for ``alpha="auto"``, or 0 when the data is too small to validate on.

    ``AUTO_CV`` folds, fewer when the rows cannot fill them with ``MIN_VALID_ROWS``
    validation rows, or, for a classifier, when the smallest class has fewer rows than
    folds (the stratified folds then give every class a row in each fold's training and
    validation part); below 2 folds there is nothing to validate on. A rare class does
    not stop the search while it has 2 rows: it used to need 2 per fold (297 rows with a
    class of 3 fell back and kept every column).
    """
    n = len(y)
    k = min(AUTO_CV, n // MIN_VALID_ROWS)
    if is_classifier(estimator):
        _, counts = np.unique(y, return_counts=True)
        k = min(k, int(counts.min()))
    return k if k >= 2 else 0


def _too_few_rows(y):
    """Why ``alpha="auto"`` cannot validate a selection on these rows (:func:`auto_cv` is 0)."""
    if len(y) // MIN_VALID_ROWS < 2:
        return f"{len(y)} rows are too few to validate a selection (it needs {2 * MIN_VALID_ROWS})"
    _, counts = np.unique(y, return_counts=True)
    return f"a class with {int(counts.min())} row cannot be in both a training and a validation fold"


def consensus(supports):
    """The columns kept by at least two thirds of the folds' models (``supports``: bool,
    (n_splits, n_features)).

    A column that survives in some folds only is a probe far more often than a signal
    (METHOD.md section 9). With the 3 folds of ``alpha="auto"`` this is 2 of 3, the
    majority. With 5 folds the majority (3 of 5) let more probes through than the
    default's 2 of 3: on the benchmark panel (as many probes as real columns, 3 splits
    each) the CV estimators kept 0.33-1 probe per fit on 4 of 5 data sets where the
    default kept 0-0.33; two thirds is the same evidence whatever the number of folds.
    """
    needed = -(-2 * len(supports) // 3)  # ceil(2 n / 3), in integers
    return np.sum(supports, axis=0) >= needed


def permutation_screen(template, groups, X, y, splits, models, weights=None, random_state=None, only=None):
    """Permutation importance of every feature group to the chosen models, on the folds'
    validation rows: how much a model's loss rises when the group's columns are shuffled
    (one permutation of the rows for all of its columns).

    Each split's relaxed model (``models[k].relaxed``, the copy that was scored) is
    judged on its own validation rows, ``SCREEN_REPEATS`` shuffles per penalized group
    (``groups``, a :class:`~skdgating.groups.Groups` of the columns) averaged per row; a
    group the model dropped, and every group of an empty model, contributes exactly 0.
    The rows of all splits are pooled, as in the choice rule, and the standard error
    comes from the per-row differences (:func:`paired_mean_se`). ``only`` (bool, one per
    group): shuffle these groups alone (the others get 0).

    Why: a column independent of y (a probe) has the same joint distribution with the
    other columns whether shuffled or not, so its importance on held-out rows is 0 in
    expectation whatever a model learned from it on its training rows; a column that
    carries signal the models use raises the loss. Some probes survive the penalty in
    two folds of three by chance, and the network on all rows can keep them.

    Returns
    -------
    importance, se : ndarray of shape (n_features,)
        The group's values for each of its columns.
    """
    from ._training import StackedFit

    rng = check_random_state(random_state)
    classes = np.unique(y) if is_classifier(template) else None
    diffs = []
    for (train, valid), model in zip(splits, models):
        diff = np.zeros((len(valid), groups.n_groups))
        if model.n_selected == 0:  # predictions that ignore X (such a model has no relaxed copy)
            diffs.append(diff)
            continue
        X_valid = X[valid]
        if isinstance(model.relaxed, StackedFit):
            from ._stacked_path import _Scoring

            scoring = _Scoring(template, X, y, None, train, valid, classes)
            row_losses = lambda Xq, fit=model.relaxed, scoring=scoring: scoring.row_losses(fit, Xq)  # noqa: E731
        else:
            y_scale = None if classes is not None else target_scale(y[train])
            row_losses = lambda Xq, est=model.relaxed, y_scale=y_scale: _per_row_losses(  # noqa: E731
                est, Xq, y[valid], y_scale)
        base = row_losses(X_valid)
        shuffled = X_valid.copy()
        tested = (model.group_norms > 0) & groups.penalized
        if only is not None:
            tested &= only
        for g in np.flatnonzero(tested):
            columns = groups.indices[g]
            for _ in range(SCREEN_REPEATS):
                shuffled[:, columns] = X_valid[rng.permutation(len(valid))[:, None], columns]
                diff[:, g] += row_losses(shuffled) - base
            shuffled[:, columns] = X_valid[:, columns]
        diffs.append(diff / SCREEN_REPEATS)
    importance, se = paired_mean_se(np.concatenate(diffs), weights)
    return importance[groups.feature_group], se[groups.feature_group]


def recovered_columns(template, groups, X, y, splits, denser_models, screened, weights=None, random_state=None):
    """Columns that the chosen alpha's folds dropped but that its denser neighbour's models
    agree on and clearly use: the consensus (:func:`consensus`) of ``denser_models`` (one
    per split, the grid's alpha just below the chosen one) outside ``screened``, whose
    permutation importance on the folds' validation rows (:func:`permutation_screen`)
    exceeds ``z`` standard errors, with ``z`` the Bonferroni bound of a one-sided test at
    family-wise level ``RECOVERY_LEVEL`` over the penalized groups (z = 3.72 for 100
    groups, 3.0 for 8). Empty when the neighbour's models were not scored (in a lean
    search, the penalty had not acted on them yet). Only the candidate columns are
    shuffled.

    Why: the rule picks the alpha with the best mean validation loss, and the models
    just denser than it often lose to it only because some fold still carries a few
    noise columns. A real column that is weak, or partly redundant with others (collinear
    columns share the penalty), can be dropped by most folds at the chosen alpha while
    every fold at the neighbour uses it. The strict bound keeps probes out: a column
    independent of y has importance 0 in expectation on held-out rows whatever the model
    learned from it on its training rows.

    Measured (issue 12's note of 2026-12-07, tenth session) with
    benchmarks/bench_selection.py, default fit, against the same code without it: on
    the planted problems (3 draws x 3 seeds) make_classification's informative column 2
    came back on draw 0, seeds 0 and 1 (7 -> 8 of 8, the same support on all 3 seeds),
    and column 5 on draw 2, seed 1; the madelon-like problem of draw 0 kept 5-6 columns
    spanning the planted ones instead of 3-4 (span F1 0.75-0.89 -> 1.00, test accuracy
    0.809 -> 0.901); no noise column was added. On 11 real data sets with as many probes
    as real columns, 6 splits each (66 fits), 7 fits gained one real column and none a
    probe (ISLR Hitters split 4: test R^2 0.260 -> 0.505; 5 of the 7 scored higher, AER
    CreditCard and ISLR College one split each lower, by 0.012 and 0.005). At level 0.05
    a 300-row problem with a 2-row class (2 folds) recovered two noise columns (z 2.9 and
    2.65 against a bound of 2.5 for 8 columns); on 48 smaller planted fits (300-600
    rows, 8-30 columns) neither level recovered anything.

    Returns
    -------
    recovered : ndarray of bool, shape (n_features,)
    """
    from scipy.stats import norm

    penalized = groups.penalized[groups.feature_group]
    extra = consensus(np.array([m.support for m in denser_models])) & ~screened & penalized
    scored = all(m.relaxed is not None or m.n_selected == 0 for m in denser_models)
    if not (extra.any() and scored):
        return np.zeros(X.shape[1], bool)
    only = np.zeros(groups.n_groups, bool)
    only[groups.feature_group[extra]] = True
    importance, se = permutation_screen(template, groups, X, y, splits, denser_models, weights, random_state, only)
    z = norm.isf(RECOVERY_LEVEL / max(1, int(groups.penalized.sum())))
    return extra & (importance > z * se)


def candidate_alphas(losses, candidate, n_selected):
    """The alphas the rule may choose: the ``candidate`` ones (:func:`is_candidate`) whose
    models kept features in every split (``n_selected``: splits x alphas).

    When no model with features qualifies (a budget too small for them to settle, or
    features that all left as soon as the penalty had acted), every scored alpha whose
    models kept features (in a lean search, the exposed ones and the dense start) and
    the qualified empty models: the validation loss then decides between "too few
    steps" (a model with features wins) and "no column carries signal" (the empty
    model, the intercept alone, wins). (ISLR Smarket with as many probes as real
    columns: all 14 columns left at the first alpha whose exposure reached 1; without
    the empty models as candidates the densest alpha was chosen, with every probe.)

    Returns
    -------
    eligible : ndarray of bool, one per alpha
    fallback : bool
        Whether no model with features qualified (the caller names the budget to raise).
    """
    has_features = np.asarray(n_selected).min(axis=0) > 0
    eligible = candidate & has_features
    fallback = not eligible.any()
    if fallback:
        eligible = np.isfinite(losses).all(axis=0) & (has_features | candidate)
    return eligible, fallback


def choose_alpha(template, X, y, sample_weight, *, cv, alphas, selection, random_state, n_jobs=None,
                 budget=None, lean=False):
    """Cross-validate a warm path over ``alphas`` and pick one (``selection`` "1se" or "min").

    ``lean`` (``alpha="auto"``): score only the candidates and stop the paths once
    clearly worse than the best (:func:`train_paths`); the record then holds the
    alphas trained (``"n_alphas_grid"`` the grid's size) and NaN losses and scores
    for the models that were not candidates.

    Returns a dict of numpy arrays (by decreasing alpha) and the chosen values: the
    record kept as ``alpha_search_`` / ``cv_results_``.
    """
    splits = make_splits(template, X, y, cv, random_state)
    n_train = min(len(train) for train, _ in splits)
    budget = budget or Budget.for_data(template.max_epochs, steps_per_epoch(n_train, template.batch_size),
                                       all_rows_steps_per_epoch=steps_per_epoch(len(y), template.batch_size))
    if alphas is None or isinstance(alphas, (int, np.integer)):
        grid = alpha_grid_for(template, n_train, AUTO_N_ALPHAS if alphas is None else int(alphas), budget)
    else:
        grid = np.sort(np.asarray(alphas, dtype=float))
    n_grid = len(grid)
    paths = train_paths(template, X, y, sample_weight, splits, grid, budget, n_jobs=n_jobs, lean=lean)
    # A lean path may stop early (each sequential split on its own rows): the alphas all trained.
    n_trained = min(len(path) for path in paths)
    paths, grid = [path[:n_trained] for path in paths], grid[:n_trained]
    order = np.concatenate([valid for _, valid in splits])
    losses = _path_losses(paths)
    weights = None if sample_weight is None else sample_weight[order]
    settled = np.array([[m.settled for m in path] for path in paths])
    exposure = np.array([[m.exposure for m in path] for path in paths])
    n_selected = np.array([[m.n_selected for m in path] for path in paths])
    candidate = is_candidate(settled, exposure)
    eligible, fallback = candidate_alphas(losses, candidate, n_selected)
    if eligible.any():
        best, one_se, mean, se = one_se_rule(losses, weights, eligible=eligible)
    else:
        best = one_se = 0
        mean = se = np.full(len(grid), np.nan)
    chosen = one_se if selection == "1se" else best
    if fallback and not candidate[chosen]:
        # The chosen models are not what their alpha leads to: say which budget to raise.
        # (A settled empty model chosen in the fallback is: a constant target, whose
        # columns all leave at once while some fold is still shrinking them, used to warn.)
        warn_unsettled([m for path in paths for m in path], budget)
    chosen_models = [path[chosen] for path in paths]
    scores = np.array([[m.valid_score for m in path] for path in paths])  # (n_splits, n_alphas)
    supports = np.array([[m.support for m in path] for path in paths])    # (n_splits, n_alphas, p)
    frequency = supports.mean(axis=0)
    fold_losses = np.array([[np.mean(m.valid_losses) for m in path] for path in paths])
    agreed = consensus(supports[:, chosen])
    importance = importance_se = np.full(X.shape[1], np.nan)
    screened = agreed
    groups = make_groups(template.groups, X.shape[1], template.group_weights, None)
    if agreed.any():
        importance, importance_se = permutation_screen(template, groups, X, y, splits, chosen_models, weights,
                                                       random_state)
        # Unpenalized columns have no gate to close: they stay.
        screened = agreed & ((importance > SCREEN_SE * importance_se) | ~groups.penalized[groups.feature_group])
    # The final network trains up to the chosen alpha, or to its denser neighbour when
    # columns are recovered there (see recovered_columns).
    final = chosen
    recovered = np.zeros(X.shape[1], bool)
    if chosen > 0:
        recovered = recovered_columns(template, groups, X, y, splits, [path[chosen - 1] for path in paths],
                                      screened, weights, random_state)
        if recovered.any():
            final = chosen - 1
            screened = screened | recovered
    rounds, relaxed_curve, relaxed_lengths = relaxed_rounds(template, X, y, sample_weight, splits,
                                                            [path[final] for path in paths], budget, weights)
    # Reported by decreasing alpha, like every path in skdgating (sparse end first):
    # alpha is the last axis of every array but selection_frequency (its first).
    down = lambda a: np.flip(a, axis=-1)  # noqa: E731
    return {
        "alphas": down(grid),
        "alpha": float(grid[final]),
        "alpha_chosen": float(grid[chosen]),
        "alpha_min": float(grid[best]),
        "alpha_1se": float(grid[one_se]),
        "index": len(grid) - 1 - final,
        "mean_valid_loss": down(mean),
        "se_valid_loss_diff": down(se),
        "fold_valid_loss": down(fold_losses),
        "se_valid_loss_folds": down(fold_losses.std(axis=0) / np.sqrt(len(paths))),
        "mean_test_score": down(scores.mean(axis=0)),
        "std_test_score": down(scores.std(axis=0)),
        "split_test_scores": down(scores),
        "n_selected": down(n_selected),
        "mean_n_selected": down(n_selected.mean(axis=0)),
        "selection_frequency": np.flip(frequency, axis=0),
        "consensus_support": agreed,
        "permutation_importance": importance,
        "permutation_importance_se": importance_se,
        "recovered_support": recovered,
        "screened_support": screened,
        "settled": down(settled),
        "exposure": down(exposure),
        "eligible": down(eligible),
        "n_epochs": down(np.array([[m.n_epochs for m in path] for path in paths])),
        "n_splits": len(paths),
        "n_alphas_grid": n_grid,
        "budget": (budget.first_epochs, budget.round_epochs, budget.max_epochs),
        "relaxed_rounds": rounds,
        "relaxed_valid_loss": relaxed_curve,
        "relaxed_lengths": relaxed_lengths,
        "fold_steps_per_epoch": steps_per_epoch(n_train, template.batch_size),
    }


# --------------------------------------------------------------------------------------
# alpha="auto"
# --------------------------------------------------------------------------------------
def resolved_template(estimator, names):
    """A clone of ``estimator`` whose ``groups`` use column indices.

    The core trains on validated numpy rows, so groups given by column ``names``
    (those the caller's ``fit`` saw) are resolved here, once.
    """
    template = clone(estimator)
    if estimator.groups is not None and names is not None:
        groups = make_groups(estimator.groups, len(names), estimator.group_weights, names)
        template.set_params(groups={name: idx.tolist() for name, idx in zip(groups.names, groups.indices)})
    return template


def split_seed(random_state):
    """An int for the fold shuffles, drawn as scikit-learn draws seeds."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def fit_auto(estimator, X, y, sample_weight):
    """``alpha="auto"``: choose alpha on internal folds of (X, y), then fit on all rows.

    Returns ``(final, search)``: the estimator fitted at the chosen float alpha and
    the record of the search (``alpha_search_``).
    """
    from ._validation import check_sample_weight

    template = resolved_template(estimator, getattr(estimator, "feature_names_in_", None)).set_params(alpha=0.0)
    sw = None if sample_weight is None else check_sample_weight(sample_weight, len(y)) * len(y)
    k = auto_cv(template, y)
    if k == 0:
        grid = alpha_grid_for(template, len(y))[::-1]
        reason = _too_few_rows(y)
        search = {"alphas": grid, "alpha": float(grid[-1]), "n_splits": 0,
                  "fallback": f"{reason}: the smallest alpha of the grid, which keeps the features"}
        # Said, not only recorded: the user asked for a selection and gets none.
        warnings.warn(f'alpha="auto" selected nothing: {reason}. The model was fitted at alpha='
                      f'{search["alpha"]:.3g}, the smallest of its grid, which keeps the features; pass a '
                      "float alpha to penalize them.", UserWarning, stacklevel=_user_stacklevel())
        final = clone(template).set_params(alpha=search["alpha"]).fit(X, y, sample_weight=sample_weight)
        return final, search
    search = choose_alpha(template, X, y, sw, cv=k, alphas=None, selection=AUTO_SELECTION,
                          random_state=split_seed(estimator.random_state), lean=True)
    search["fallback"] = None
    return fit_final(template, X, y, sample_weight, search), search


def fit_final(template, X, y, sample_weight, search):
    """The model on all rows at ``search["alpha"]`` (the chosen alpha, or its denser
    neighbour when columns were recovered there, :func:`recovered_columns`): the same warm
    path as the folds ran, on every row, up to that alpha, choosing among the screened columns,
    then one cycle of ``search["relaxed_rounds"]`` rounds at ``alpha=0`` on its support
    (the length that lowered the folds' validation loss most, :func:`relaxed_rounds`).

    The path, not a direct fit at alpha, because the folds validated path models: a
    direct fit trains many more steps at the chosen alpha and drops weak real columns
    the path models kept (make_classification, 8 of 100 informative: the folds agreed
    on the 8, a direct fit at their alpha kept 7).

    A column that fewer than two thirds of the folds kept at the chosen alpha (see
    :func:`consensus`) is withheld (set to a constant: its weights are exactly zero
    from the first step, :func:`skdgating._training.silent_columns`, and it is dropped).
    Columns that survive in some folds only are probes far more often than signal
    (METHOD.md section 9), and a single
    network on all rows can keep such a column by chance. So is a consensus column
    whose permutation importance on the folds' validation rows does not exceed one
    standard error (:func:`permutation_screen`): the final network trains on
    ``search["screened_support"]``. Withheld columns keep their place:
    ``n_features_in_`` and ``coef_`` have every column.
    """
    allowed = search.get("screened_support")
    # The choice may be a model without features (see choose_alpha): then every column
    # is withheld, and the final network is the intercept alone.
    empty = allowed is not None and not allowed.any()
    if allowed is not None and not allowed.all():
        X = np.array(X, dtype=np.float64)  # a copy
        X[:, ~allowed] = 0.0
    alphas = np.sort(search["alphas"])
    alphas = alphas[alphas <= search["alpha"]]
    # The same number of SGD steps per model as on the folds (all rows give more
    # steps per epoch; the penalty acts per step).
    ratio = search["fold_steps_per_epoch"] / steps_per_epoch(len(y), template.batch_size)
    budget = Budget(*(max(1, round(e * ratio)) for e in search["budget"]), name="max_epochs")
    # And at every alpha at least the steps the folds' models trained there (the median
    # fold: what most folds did, as the consensus asks of a column). A fold's model trains
    # on while columns leave it, but this path has only the allowed columns (the others
    # are zero from its first step), so the settle rule alone stopped it after a round or
    # two where the folds' models had trained up to ten, less shrunk than the models that
    # chose its columns (make_classification, 8 of 100 informative: one noise column kept
    # on 1 of 3 seeds of each of 3 draws; with the floor none).
    fold_epochs = np.median(np.flip(np.asarray(search["n_epochs"]), axis=-1), axis=0)[:len(alphas)]
    min_epochs = np.round(fold_epochs * ratio).astype(int)
    # Trained after the search, with the other columns withheld from its first step. Measured
    # and not adopted (issue 12's note of 2026-12-07): the same path trained during the
    # search, as one more model of the folds' stacked network (with every column; a few
    # percent more per step, where this path costs about a third of the fit: ISLR Wage
    # with probes 15-20 s -> 12-13 s), then the columns outside the consensus zeroed at
    # alpha_. On the 27 fits of benchmarks/bench_selection.py (same fold paths for both)
    # it kept two noise columns that this path drops (make_classification seed 2: one
    # noise column; Wage split 0: one probe), and scored lower on held-out rows in 13
    # fits, higher in 9, the same in 5 (make_classification 0.012-0.016 lower on all 3
    # seeds, the madelon-like problem 0.08 lower on all 3, where on 2 seeds its path had
    # dropped a consensus column; its wins were at most 0.010). Zeroing the
    # columns as the folds dropped them, alpha by alpha, kept the noise column too.
    (path,) = train_paths(template, X, y, sample_weight, [(None, None)], alphas, budget, keep_estimators=True,
                          min_epochs=min_epochs)
    warn_unsettled(path[-1:], budget)
    final = path[-1].estimator
    # The folds agreed on some columns, but the network on all rows, on the same path, lost
    # them all (weak signal at this alpha): the relaxation's own warning ("alpha=0 removed
    # every feature ... Decrease alpha") would give the wrong reason.
    lost = allowed is not None and not empty and path[-1].n_selected == 0
    # Ship what was validated: the folds trained their chosen models at alpha=0 on their
    # support (dropped columns stay exactly zero) for one cosine cycle of 1, 2, 4, ...
    # rounds, and the length with the lowest validation loss (search["relaxed_rounds"],
    # see relaxed_rounds) is this fit's one cycle.
    # alpha / alpha_ keep the penalty that chose the support.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if empty or lost:  # its message ("alpha=0 removed every feature ... Decrease alpha") is not the reason
            warnings.simplefilter("ignore", EmptyModelWarning)
        final.set_params(warm_start=True, alpha=0.0,
                         max_epochs=budget.round_epochs * search.get("relaxed_rounds", 1)).fit(
            X, y, sample_weight=sample_weight)
    final.set_params(warm_start=template.warm_start, max_epochs=template.max_epochs, alpha=search["alpha"])
    final.alpha_ = search["alpha"]
    if empty or lost:
        why = ("no feature was kept by two thirds of the validation folds' models and raised their validation "
               "loss when shuffled: no column lowered the validation loss enough to survive the penalty." if empty else
               f"the validation folds' models agreed on {int(allowed.sum())} column(s), but the network on all rows, "
               "trained along the same path, removed them too: their signal is too weak to survive the penalty at "
               "this alpha (a smaller float alpha keeps weaker columns).")
        warnings.warn(f"The search chose alpha={search['alpha']:.3g}, at which {why} The fitted model is the "
                      "intercept alone; its predictions ignore X.", EmptyModelWarning, stacklevel=_user_stacklevel())
    return final
