"""Benchmark: warm-started regularization paths, side by side in one run.

Linear: a 20-alpha path of DGatingGroupLasso(D=2), geometric from alpha_max to
alpha_max/100, against skglm's GroupLasso with warm_start=True and celer's
celer_path on the same grid and objective (n=2000, p=500, 125 groups of 4, 10
active, Toeplitz rho=0.5, SNR 3): ``bench_linear.path_table("toeplitz")``, which
times round-robin (``_timing.py``) in the default environment and under one thread.
``bench_linear.py`` runs the same path on every shape of its panel.

MLP (issue #4): the warm-started ``dgating_path`` of the D-gated MLP (D=3 and
D=4) against LassoNet's path (``LassoNetClassifier/Regressor.path``) on the two
selection problems of ``_path_problems.py`` (same data, standardization,
75/25 split; each path is fitted on the same 75% of the training part, with
the other 25% as its validation data: skdgating scores it, LassoNet early-stops
on it). The skdgating path and its settings are those of
``_path_problems.py`` (20 alphas, ``alpha_max * geomspace(1/100, 1/3)``,
60 + 15 epochs per alpha); LassoNet uses hidden_dims=(64,) and
path_multiplier=1.05, as there, otherwise its defaults. On each path the first
model (in the order it is trained, dense to sparse) with at most the true
number of features (8 / 5) is taken; the table gives its support, its test
score and the time to reach it, measured: LassoNet's from its path callback,
skdgating's by replaying the path on the grid prefix up to that alpha (the fits
are seeded, so the replay gives the same models; checked). Whole-path times are
reported too. Times are medians over ``--mlp-repeats`` runs.

``--emulate-warm-start-fix``: see ``_path_problems.py`` (the MLP part only).

Run:  OMP_NUM_THREADS=1 python benchmarks/bench_path.py [--repeats 5] [--mlp-repeats 3]
      [--part linear mlp] [--emulate-warm-start-fix]
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np


# _path_problems.py (same folder) holds the MLP problems and path settings.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def linear_path(repeats):
    """The 20-alpha path of the panel's ``toeplitz`` shape (see ``bench_linear.py``)."""
    from bench_linear import path_table

    path_table("toeplitz", repeats, pinned=True)


# --------------------------------------------------------------------------------------
# MLP paths: skdgating against LassoNet
# --------------------------------------------------------------------------------------
def _lassonet_path(task, X_a, y_a, X_v, y_v, k):
    """LassoNet's path with a timestamp per model; returns the first model with <= k features."""
    from _path_problems import lassonet_estimator

    model = lassonet_estimator(task, path_multiplier=1.05)
    stamps = []
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hist = model.path(X_a, y_a, X_val=X_v, y_val=y_v, return_state_dicts=True,
                          callback=lambda m, h: stamps.append(time.perf_counter() - start))
    whole = time.perf_counter() - start
    # the callback runs once after the dense model and once after every lambda
    assert len(stamps) == len(hist)
    first = next((j for j, item in enumerate(hist) if int(item.selected.sum()) <= k), None)
    if first is None:
        return None, stamps[-1], whole, len(hist), None
    model.load(hist[first].state_dict)
    return np.flatnonzero(hist[first].selected.numpy()), stamps[first], whole, len(hist), model


def _skdgating_path(task, X_a, y_a, X_v, y_v, D, k):
    import _path_problems as B

    start = time.perf_counter()
    alphas = B.path_alphas(task, X_a, y_a, B.PATH)
    path = B.run_path(task, X_a, y_a, X_v, y_v, D, B.PATH, alphas=alphas)
    whole = time.perf_counter() - start
    # path.alphas decrease; the path is trained from the last (smallest alpha) to the first
    reached = [i for i in range(len(path.alphas)) if path.n_selected[i] <= k]
    if not reached:
        return None, None, whole, len(path.alphas), None
    first = max(reached)
    start = time.perf_counter()
    grid = B.path_alphas(task, X_a, y_a, B.PATH)
    replay = B.run_path(task, X_a, y_a, X_v, y_v, D, B.PATH, alphas=grid[grid <= path.alphas[first]])
    to_reach = time.perf_counter() - start
    if not np.array_equal(replay.supports, path.supports[first:]):
        raise RuntimeError("replaying the path prefix gave different supports")
    est = path.estimators[first]
    return est.selected_features_, to_reach, whole, len(path.alphas), est


def mlp_paths(repeats, title_note=""):
    import _path_problems as B

    for task in ("classification", "regression"):
        X_tr, X_te, y_tr, y_te, informative = B.load(task, 2000)
        X_a, X_v, y_a, y_v = B.validation_split(task, X_tr, y_tr)
        k = len(informative)
        y_mean, y_std = (y_a.mean(), y_a.std()) if task == "regression" else (0.0, 1.0)
        runs = {}
        for rep in range(repeats):
            for D in (3, 4):
                name = f"skdgating dgating_path D={D}"
                sel, t_reach, t_whole, n_models, est = _skdgating_path(task, X_a, y_a, X_v, y_v, D, k)
                pred = None if est is None else est.predict(X_te)
                runs.setdefault(name, []).append((sel, t_reach, t_whole, n_models, pred))
            # LassoNet's regressor gets a standardized target (its lambda path depends on the scale)
            ya, yv = (y_a - y_mean) / y_std, (y_v - y_mean) / y_std
            sel, t_reach, t_whole, n_models, model = _lassonet_path(task, X_a, ya, X_v, yv, k)
            pred = None
            if model is not None:
                pred = model.predict(X_te)
                if task == "regression":
                    pred = np.asarray(pred).ravel() * y_std + y_mean
            runs.setdefault("LassoNet path", []).append((sel, t_reach, t_whole, n_models, pred))
            print(f"  {task} repeat {rep + 1}/{repeats} done", file=sys.stderr, flush=True)
        metric = "test accuracy" if task == "classification" else "test R^2"
        data = ("make_classification(2000, 100, n_informative=8, n_redundant=0, n_repeated=0, shuffle=False)"
                if task == "classification" else "make_friedman1(2000, 100, noise=1.0)")
        print(f"\n### MLP paths, {task}: {data}; first model with <= {k} features{title_note}\n")
        print(f"| path | models on path | selected | precision | recall | {metric} | time to reach (s) | "
              "time to reach / LassoNet | whole path (s) | whole path / LassoNet | same model every repeat |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        ref = runs["LassoNet path"]
        ref_reach = np.median([r[1] for r in ref]) if ref[0][0] is not None else np.nan
        ref_whole = np.median([r[2] for r in ref])
        for name, reps in runs.items():
            sel, _, _, n_models, pred = reps[0]
            same = all((r[0] is None and sel is None) or (r[0] is not None and sel is not None
                                                         and np.array_equal(r[0], sel)) for r in reps)
            whole = np.median([r[2] for r in reps])
            if sel is None:
                print(f"| {name} | {n_models} | never <= {k} | - | - | - | - | - | {whole:.1f} | "
                      f"{whole / ref_whole:.2f} | {same} |")
                continue
            reach = np.median([r[1] for r in reps])
            tp = len(set(sel.tolist()) & set(informative.tolist()))
            precision, recall = (tp / len(sel) if len(sel) else 0.0), tp / k
            print(f"| {name} | {n_models} | {len(sel)} | {precision:.2f} | {recall:.2f} | "
                  f"{B.score(task, y_te, pred):.3f} | {reach:.1f} | {reach / ref_reach:.2f} | {whole:.1f} | "
                  f"{whole / ref_whole:.2f} | {same} |")
    print(f"\nTimes: median of {repeats} runs, one torch thread, shared 2-core machine (noisy: compare "
          "ratios within one run). 'time to reach': skdgating = replay of its path up to the first alpha "
          "with <= k features (alpha grid included); LassoNet = its path callback at the first such model "
          "(dense model included). Test score: that model as it is on the path (penalized, no refit).")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="linear part")
    parser.add_argument("--mlp-repeats", type=int, default=3, help="MLP part")
    parser.add_argument("--part", nargs="*", choices=["linear", "mlp"], default=["linear", "mlp"])
    parser.add_argument("--emulate-warm-start-fix", action="store_true",
                        help="patch the library's MLP warm start in this process (_path_problems.py)")
    args = parser.parse_args()
    if "linear" in args.part:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            linear_path(args.repeats)
    if "mlp" in args.part:
        import torch

        import _path_problems as B

        torch.set_num_threads(1)
        title_note = ""
        if args.emulate_warm_start_fix:
            title_note = f" — {B.emulate_warm_start_fix()}"
        mlp_paths(args.mlp_repeats, title_note)


if __name__ == "__main__":
    main()
