"""Benchmark: 5-fold cross-validation over an MLP path, stacked in one network, against separate paths.

Issue 13 point 5 / shared/BENCHMARKS.md ("stacked CV"). A planted regression
problem (``make_friedman1``: 5 informative columns, the rest noise), 2,000 x 30
by default, the default network (64, 64) and batch size (32), an 8-value alpha
grid run dense to sparse with warm starts. All three methods run the library's
one path core, :func:`skdgating._mlp_path.train_paths`, with the budget
:func:`skdgating.dgating_path` gives it (``max_epochs`` for the first alpha, then
rounds of ``warm_epochs // 5`` epochs until the model settles, at most
``warm_epochs``), so each does the same work per model:

* **one path**: the path on all rows, unscored (what ``dgating_path`` trains);
* **5 sequential paths**: one path per fold, each scored on its held-out rows (the
  models' relaxed copies, as the CV estimators score them), one after the other;
* **stacked**: the same 5 scored paths trained as one vectorized network
  (:mod:`skdgating._stacked_path`), as ``alpha="auto"`` and the CV estimators run.

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

from skdgating import _mlp_path
from skdgating.mlp import DGatingMLPRegressor

PINNED = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def _budget(est, warm_epochs):
    """The budget dgating_path gives a path with ``warm_epochs`` (skdgating/path.py)."""
    return _mlp_path.Budget(first_epochs=est.max_epochs, round_epochs=max(1, warm_epochs // 5),
                            max_epochs=warm_epochs, name="warm_epochs")


def one_path(est, X, y, grid, warm_epochs, folds):
    _mlp_path.train_paths(est, X, y, None, [(None, None)], np.sort(grid), _budget(est, warm_epochs))
    return None


def _cv(est, X, y, grid, warm_epochs, folds, stacked):
    _mlp_path.STACK_SPLITS = stacked
    try:
        paths = _mlp_path.train_paths(est, X, y, None, folds, np.sort(grid), _budget(est, warm_epochs))
    finally:
        _mlp_path.STACK_SPLITS = True
    order = np.argsort(np.argsort(grid))  # the increasing grid's index of each grid value
    scores = np.array([[path[i].valid_score for i in order] for path in paths])
    supports = np.array([[path[i].support for i in order] for path in paths])
    return scores, supports


def sequential_paths(est, X, y, grid, warm_epochs, folds):
    return _cv(est, X, y, grid, warm_epochs, folds, stacked=False)


def stacked_paths(est, X, y, grid, warm_epochs, folds):
    return _cv(est, X, y, grid, warm_epochs, folds, stacked=True)


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
        # untimed: the process's one-time costs (first network and optimizer, torch's
        # lazy imports) would otherwise land on whichever method runs first
        small = [(train[train < 200], test[test < 200]) for train, test in folds]
        for fn in METHODS.values():
            fn(est, X[:200], y[:200], grid[:2], 2, small)
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
