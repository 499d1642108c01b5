"""Benchmark: 5-fold cross-validation over an MLP path, stacked in one network, against separate paths.

Issue 13 point 5 / shared/BENCHMARKS.md ("stacked CV"). A planted regression
problem (``make_friedman1``: 5 informative columns, the rest noise), 2,000 x 30
by default, the default network (64, 64) and batch size (32), an 8-value alpha
grid run dense to sparse with warm starts, as :func:`skdgating.dgating_path` runs
an MLP path: ``max_epochs`` for the first alpha, then rounds of ``warm_epochs // 5``
epochs at each next one until its support settles (at most ``warm_epochs``):

* **one path**: ``dgating_path`` on all rows (the cost a single path pays);
* **5 sequential paths**: ``dgating_path`` on the training rows of each fold,
  scored on its held-out rows (how a CV over the path runs without stacking);
* **stacked**: the library's stacked path core (``skdgating._stacked_path``, what
  the CV estimators and ``alpha="auto"`` run) with the same budget, the 5 folds
  trained as one network. (Until 2026-12-01 this row trained a fixed
  ``warm_epochs`` per alpha, while ``dgating_path`` had moved to rounds that stop
  once the support settles: the stacked row then trained about twice the epochs.)

Reported: wall time, the ratio stacked / one path (target <= 2) and stacked /
5 sequential paths, and, to show both CVs reach the same answer, the mean
held-out R^2 per alpha, the alpha each picks (best mean R^2) and the support of
each fold at that alpha. Each environment runs in its own child process: the
default one (no ``*_NUM_THREADS`` set by this script) and pinned thread pools
(``OMP/MKL/OPENBLAS_NUM_THREADS=1``).

``--quick``: 600 rows, 3 alphas, few epochs (a smoke run).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import make_friedman1
from sklearn.model_selection import KFold

from skdgating import _stacked_path, dgating_path
from skdgating._mlp_path import Budget
from skdgating.mlp import DGatingMLPRegressor

PINNED = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def one_path(est, X, y, grid, warm_epochs, folds):
    dgating_path(est, X, y, alphas=grid, warm_epochs=warm_epochs)
    return None


def sequential_paths(est, X, y, grid, warm_epochs, folds):
    scores, supports = [], []
    for train, test in folds:
        path = dgating_path(est, X[train], y[train], alphas=grid, X_val=X[test], y_val=y[test],
                            warm_epochs=warm_epochs)
        order = [int(np.flatnonzero(np.isclose(path.alphas, a))[0]) for a in grid]  # the path's own order
        scores.append(path.validation_scores[order])
        supports.append(path.supports[order])
    return np.array(scores), np.array(supports)


def stacked_paths(est, X, y, grid, warm_epochs, folds):
    """The folds' paths as one stacked network: the library's stacked path core (what
    the CV estimators and ``alpha="auto"`` run), with the budget ``dgating_path``
    gives every path: ``max_epochs`` for the dense start, then rounds of
    ``warm_epochs // 5`` epochs per alpha until the support settles, at most
    ``warm_epochs`` (converted to the same SGD steps per model, see
    :mod:`skdgating._stacked_path`)."""
    budget = Budget(first_epochs=est.max_epochs, round_epochs=max(1, warm_epochs // 5), max_epochs=warm_epochs,
                    name="warm_epochs")
    order = np.argsort(grid)  # the path core takes increasing alphas and trains them dense to sparse
    paths = _stacked_path.stacked_paths(est, X, y, None, folds, grid[order], budget)
    scores = np.zeros((len(folds), len(grid)))
    supports = np.zeros((len(folds), len(grid), X.shape[1]), bool)
    for k, path in enumerate(paths):
        for i, model in zip(order, path):
            scores[k, i] = model.valid_score
            supports[k, i] = model.support
    return scores, supports


METHODS = {"one path (all rows)": one_path, "5 sequential paths (CV)": sequential_paths,
           "stacked: 5 folds in one net (CV)": stacked_paths}


def measure(args):
    X, y = make_friedman1(n_samples=args.n_samples, n_features=args.n_features, noise=0.5, random_state=0)
    grid = np.geomspace(args.alpha_min, args.alpha_max, args.n_alphas)
    folds = list(KFold(5, shuffle=True, random_state=0).split(X))
    est = DGatingMLPRegressor(max_epochs=args.max_epochs, random_state=0)
    times = {name: [] for name in METHODS}
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for run in range(args.repeats):
            for name, fn in METHODS.items():
                start = time.perf_counter()
                results[name] = fn(est, X, y, grid, args.warm_epochs, folds)
                times[name].append(time.perf_counter() - start)
                print(f"run {run} {name}: {times[name][-1]:.2f} s", file=sys.stderr, flush=True)
    cv = {}
    for name, result in results.items():
        if result is None:
            continue
        scores, supports = result
        best = int(np.argmax(scores.mean(axis=0)))
        at_best = supports[:, best]
        cv[name] = {"mean_scores": scores.mean(axis=0).tolist(), "best_alpha": float(grid[best]),
                    # friedman1's informative columns are 0-4
                    "informative_kept": at_best[:, :5].sum(axis=1).tolist(),
                    "noise_kept": at_best[:, 5:].sum(axis=1).tolist()}
    return {"times": {k: statistics.median(v) for k, v in times.items()}, "cv": cv,
            "grid": grid.tolist()}


def run_child(env_update, argv):
    env = {k: v for k, v in os.environ.items() if k not in PINNED}
    env.update(env_update)
    out = subprocess.run([sys.executable, __file__, "--child", *argv], env=env, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3, help="runs per method, median reported")
    parser.add_argument("--n-samples", type=int, default=2000)
    parser.add_argument("--n-features", type=int, default=30)
    parser.add_argument("--n-alphas", type=int, default=8)
    parser.add_argument("--alpha-min", type=float, default=0.003)
    parser.add_argument("--alpha-max", type=float, default=0.3)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--warm-epochs", type=int, default=10)
    parser.add_argument("--pinned-only", action="store_true", help="skip the default-environment run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.n_samples, args.n_alphas, args.max_epochs, args.warm_epochs, args.repeats = 600, 3, 5, 2, 1
    if args.child:
        print(json.dumps(measure(args)))
        return
    child_argv = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--pinned-only"]
    envs = {"pinned": PINNED} if args.pinned_only else {"default": {}, "pinned": PINNED}
    runs = {env: run_child(update, child_argv) for env, update in envs.items()}
    print(f"\n### 5-fold CV over an MLP path: friedman1 {args.n_samples} x {args.n_features}, "
          f"{args.n_alphas} alphas, {args.max_epochs} epochs then {args.warm_epochs} per alpha, "
          "hidden (64, 64), batch 32\n")
    print("| method | " + " | ".join(f"{env} (s) | / one path" for env in runs) + " |")
    print("|---|" + "---|---|" * len(runs))
    for name in METHODS:
        cells = []
        for env, run in runs.items():
            t = run["times"]
            cells.append(f"{t[name]:.2f} | {t[name] / t['one path (all rows)']:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    for env, run in runs.items():
        t = run["times"]
        ratio = t["stacked: 5 folds in one net (CV)"] / t["5 sequential paths (CV)"]
        print(f"\n{env}: stacked / 5 sequential paths = {ratio:.2f}")
        for name, cv in run["cv"].items():
            scores = ", ".join(f"{s:.3f}" for s in cv["mean_scores"])
            print(f"- {name}: mean held-out R^2 per alpha [{scores}]; best alpha {cv['best_alpha']:.4g}; "
                  f"per fold at it: informative kept (of 5) {cv['informative_kept']}, "
                  f"noise kept {cv['noise_kept']}")
    print(f"\nalphas: {', '.join(f'{a:.4g}' for a in runs['pinned']['grid'])}. Median of {args.repeats} runs, "
          f"methods interleaved, one child process per environment; {os.cpu_count()} CPUs, shared machine. "
          "Target: stacked <= 2 x one path.")


if __name__ == "__main__":
    main()
