"""Benchmark panel: DGatingGroupLasso(D=2) / DGatingLogisticGroupLasso(D=2) against
skglm and celer, side by side in one run, on problems of several shapes.

Shapes (10 active groups each, AR(1) columns: correlation rho^|i-k|, rho=0.5, SNR 3):

* ``toeplitz``: n=2000, p=500, groups of 4 (the problem the solver was tuned on);
* ``wide``: n=200, p=10,000, groups of 10;
* ``tall``: n=100,000, p=200, groups of 4;
* ``square``: n=5,000, p=5,000, groups of 5;
* ``sparse``: one-hot, n=20,000, 20 categorical variables of 100 levels (p=2,000,
  1% density, CSC), groups of 10 levels.

Least squares and binary logistic, at alpha_max/10 and alpha_max/50 (group weights
sqrt(group size); every solver gets the same objective, alpha and group weights
converted), and (least squares) the 20-alpha path alpha_max -> alpha_max/100
against ``celer_path`` and skglm's GroupLasso with ``warm_start``. skglm's path is
stopped after ``--peer-cap`` seconds (default 60; checked between alphas, a fit
is not interrupted) and then reported as such with the alphas it reached, not
timed: its sparse fits take 40-60 s each (its first, with numba's compilation, took
8 minutes on the loaded machine), so its 20-alpha sparse path would take 15-20
minutes per run.

Timing (``_timing.round_robin``): one cold fit, then warm repeats round-robin over
the solvers, median. The default environment is timed first; with ``--pinned``
(default on) the same round-robin is repeated under one BLAS/OpenMP thread through
threadpoolctl in this process, and printed beside it. Relative objective gaps are to
the best objective any solver reached.

Run:  python benchmarks/bench_linear.py [--repeats 5] [--quick] [--shapes wide tall]
      [--tasks regression classification] [--no-pinned] [--no-path | --path-only] [--peer-cap 60]
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp

from skdgating import DGatingGroupLasso, DGatingLogisticGroupLasso, dgating_path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import round_robin  # noqa: E402

SHAPES = {  # name: (n_samples, n_features, group size)
    "toeplitz": (2000, 500, 4),
    "wide": (200, 10_000, 10),
    "tall": (100_000, 200, 4),
    "square": (5000, 5000, 5),
    "sparse": (20_000, 2000, 10),
}
N_ACTIVE = 10


def make_problem(shape, task, seed=0):
    """``(X, y)`` of a panel shape; X is CSC for ``sparse``, Fortran-ordered otherwise."""
    n, p, size = SHAPES[shape]
    rng = np.random.default_rng(seed)
    if shape == "sparse":
        levels = 100
        codes = rng.integers(0, levels, size=(n, p // levels))
        cols = (codes + levels * np.arange(p // levels)[None, :]).ravel()
        X = sp.csc_matrix((np.ones(cols.size), (np.repeat(np.arange(n), p // levels), cols)), shape=(n, p))
    else:
        # AR(1) columns, x_j = rho x_{j-1} + sqrt(1 - rho^2) e_j: Toeplitz correlation
        # rho^|i-k| without a p x p Cholesky factor
        X = np.empty((n, p), order="F")
        X[:, 0] = rng.standard_normal(n)
        for j in range(1, p):
            X[:, j] = 0.5 * X[:, j - 1] + np.sqrt(0.75) * rng.standard_normal(n)
    w = np.zeros(p)
    for g in rng.choice(p // size, N_ACTIVE, replace=False):
        w[g * size:(g + 1) * size] = rng.standard_normal(size)
    signal = X @ w
    if task == "regression":
        return X, signal + rng.standard_normal(n) * signal.std() / 3.0
    logits = (signal - signal.mean()) * (3.0 / signal.std())
    return X, (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-logits))).astype(float)


def objective(task, X, y, coef, intercept, alpha, size):
    z = X @ coef + intercept
    loss = 0.5 * np.mean((y - z) ** 2) if task == "regression" else np.mean(np.logaddexp(0, z) - y * z)
    return loss + alpha * np.sqrt(size) * np.linalg.norm(coef.reshape(-1, size), axis=1).sum()


class _Fitted:
    """coef_ (flat) and intercept_ (float) of any solver's result."""

    def __init__(self, coef, intercept):
        self.coef_, self.intercept_ = np.ravel(coef), float(np.ravel(intercept)[0])


def solvers(task, p, size, X):
    weights = np.full(p // size, np.sqrt(size))
    out = {}
    if task == "regression":
        out["skdgating D=2"] = lambda a: DGatingGroupLasso(groups=size, D=2, alpha=a, tol=1e-6).fit(X, y_of[0])
        from celer import GroupLasso as CelerGroupLasso
        from skglm import GroupLasso as SkglmGroupLasso

        out["skglm GroupLasso"] = lambda a: SkglmGroupLasso(
            groups=size, alpha=a, weights=weights, tol=1e-6, max_iter=1000, fit_intercept=True).fit(X, y_of[0])
        out["celer GroupLasso"] = lambda a: CelerGroupLasso(
            groups=size, alpha=a, weights=weights, tol=1e-8, max_iter=1000, fit_intercept=True).fit(X, y_of[0])
        return out
    out["skdgating D=2"] = lambda a: DGatingLogisticGroupLasso(groups=size, D=2, alpha=a, tol=1e-6).fit(X, y_of[0])
    from skglm import GeneralizedLinearEstimator
    from skglm.datafits import LogisticGroup
    from skglm.penalties import WeightedGroupL2
    from skglm.solvers import GroupBCD, GroupProxNewton
    from skglm.utils.data import grp_converter

    grp_indices, grp_ptr = grp_converter(size, p)
    # GroupProxNewton refuses sparse X; skglm's group BCD takes it
    solver = (GroupBCD(fit_intercept=True, tol=1e-8, max_iter=1000) if sp.issparse(X)
              else GroupProxNewton(fit_intercept=True, tol=1e-8, max_iter=100))
    name = "skglm " + type(solver).__name__

    def skglm_fit(a):
        est = GeneralizedLinearEstimator(LogisticGroup(grp_ptr, grp_indices),
                                         WeightedGroupL2(a, weights, grp_ptr, grp_indices), solver)
        est.fit(X, 2.0 * y_of[0] - 1.0)  # skglm's logistic datafit takes labels in {-1, 1}
        return _Fitted(est.coef_, est.intercept_)
    out[name] = skglm_fit
    return out


y_of = [None]  # the current target (the solver lambdas read it)


def fit_table(shape, task, repeats, pinned):
    n, p, size = SHAPES[shape]
    X, y = make_problem(shape, task)
    y_of[0] = y
    amax = group_lasso_alpha_max(X, y, size)
    rows = []
    for divisor in (10, 50):
        alpha = amax / divisor
        make = solvers(task, p, size, X)
        fits, refused = {}, []
        for name, fit in make.items():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fit(alpha)  # probe (also the numba compilation of the peers)
                fits[name] = (lambda f=fit: f(alpha))
            except Exception as exc:  # a solver that refuses this input (e.g. sparse X)
                refused.append((name, f"{type(exc).__name__}: {str(exc)[:60]}"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            default = round_robin(fits, repeats)
            one = round_robin(fits, repeats, pinned=True) if pinned else None
        objs = {name: objective(task, X, y, np.ravel(r[0].coef_), float(np.ravel(r[0].intercept_)[0]), alpha, size)
                for name, r in default.items()}
        best = min(objs.values())
        peers = [nm for nm in default if not nm.startswith("skdgating")]
        fastest = min((default[nm][2] for nm in peers), default=np.nan)
        fastest_one = min((one[nm][2] for nm in peers), default=np.nan) if pinned else np.nan
        for name, (est, cold, warm) in default.items():
            support = np.linalg.norm(np.ravel(est.coef_).reshape(-1, size), axis=1) > 0
            w1 = one[name][2] if pinned else np.nan
            rows.append(f"| /{divisor} | {name} | {warm:.3f} | {warm / fastest:.2f} | {w1:.3f} | "
                        f"{w1 / fastest_one:.2f} | {cold:.3f} | {(objs[name] - best) / abs(best):.1e} | "
                        f"{int(support.sum())} |")
        rows += [f"| /{divisor} | {name} | refused ({why}) | | | | | | |" for name, why in refused]
    label = "least squares" if task == "regression" else "logistic"
    kind = "CSC" if sp.issparse(X) else "dense"
    print(f"\n### {shape}, {label}: n={n}, p={p} ({kind}), groups of {size}; alpha_max={amax:.4g}\n")
    print("| alpha_max/ | solver | warm (s) | / fastest peer | 1 thread (s) | / fastest peer, 1 thread | "
          "cold (s) | rel. objective gap | groups selected |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows), flush=True)


def group_lasso_alpha_max(X, y, size):
    """The group-lasso alpha_max (weights sqrt(size)), computed here for any X.

    The gradient at W=0 with the intercept fitted: the residual is ``y - mean(y)``
    for least squares and for the logistic loss (where sigmoid(b*) = mean(y)).
    """
    g = np.asarray(X.T @ (y - y.mean())).ravel() / len(y)
    return float(np.max(np.linalg.norm(g.reshape(-1, size), axis=1) / np.sqrt(size)))


class _OverCap(Exception):
    """A peer's path stopped at the time cap: ``done`` of the alphas in ``seconds``."""

    def __init__(self, done, seconds):
        super().__init__(f"{done} alphas in {seconds:.1f} s")
        self.done, self.seconds = done, seconds


def path_table(shape, repeats, pinned, peer_cap):
    n, p, size = SHAPES[shape]
    X, y = make_problem(shape, "regression")
    amax = group_lasso_alpha_max(X, y, size)
    alphas = amax * np.geomspace(1.0, 0.01, 20)
    weights = np.full(p // size, np.sqrt(size))
    from celer import celer_path
    from skglm import GroupLasso

    def ours():
        return dgating_path(DGatingGroupLasso(groups=size, D=2, tol=1e-6), X, y, alphas=alphas).coefs

    def skglm_path():
        # skglm has no group path function: warm-started fits, one alpha after another,
        # stopped once past peer_cap seconds (its sparse fits take 40-60 s each)
        est = GroupLasso(groups=size, alpha=alphas[0], weights=weights, tol=1e-6, max_iter=1000,
                         fit_intercept=True, warm_start=True)
        coefs, start = [], time.perf_counter()
        for a in alphas:
            est.alpha = a
            coefs.append(est.fit(X, y).coef_.copy())
            if len(coefs) < len(alphas) and time.perf_counter() - start > peer_cap:
                raise _OverCap(len(coefs), time.perf_counter() - start)
        return np.array(coefs)

    x_mean = np.asarray(X.mean(axis=0)).ravel()
    Xc = X if sp.issparse(X) else np.asfortranarray(X - x_mean)

    def celer():
        # celer_path fits no intercept: centred data (implicitly for sparse X: X_offset,
        # which celer divides by X_scale, so that must be given too)
        _, coefs, _ = celer_path(Xc, y - y.mean(), "grouplasso", alphas=alphas, groups=size, weights=weights,
                                 tol=1e-8, max_iter=1000, X_offset=x_mean if sp.issparse(X) else None,
                                 X_scale=np.ones(p) if sp.issparse(X) else None)
        return coefs.T

    fits = {"skdgating dgating_path": ours, "skglm GroupLasso warm_start": skglm_path, "celer celer_path": celer}
    refused = []
    for name in list(fits):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fits[name]()
        except _OverCap as over:  # not timed further: reported with its partial time
            refused.append((name, f"over the {peer_cap:g} s cap ({over}), not timed further"))
            del fits[name]
        except Exception as exc:  # a solver that refuses this input (e.g. sparse X)
            refused.append((name, f"refused ({type(exc).__name__}: {str(exc)[:60]})"))
            del fits[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = round_robin(fits, repeats)
        one = round_robin(fits, repeats, pinned=True) if pinned else None
    # reference coefficients: skglm's path when it ran to the end, else celer's
    ref_name = next(nm for nm in ("skglm GroupLasso warm_start", "celer celer_path", "skdgating dgating_path")
                    if nm in default)
    ref = default[ref_name][0]
    fastest = min((default[nm][2] for nm in default if not nm.startswith("skdgating")), default=np.nan)
    fastest_one = min((one[nm][2] for nm in one if not nm.startswith("skdgating")), default=np.nan) \
        if pinned else np.nan
    print(f"\n### {shape}: 20-alpha least-squares path alpha_max -> alpha_max/100 (n={n}, p={p})\n")
    print("| solver | warm (s) | / fastest peer | 1 thread (s) | / fastest peer, 1 thread | cold (s) | "
          f"max abs coef diff to {ref_name.split()[0]} |")
    print("|---|---|---|---|---|---|---|")
    for name, (coefs, cold, warm) in default.items():
        w1 = one[name][2] if pinned else np.nan
        print(f"| {name} | {warm:.3f} | {warm / fastest:.2f} | {w1:.3f} | {w1 / fastest_one:.2f} | {cold:.3f} | "
              f"{np.abs(np.asarray(coefs) - ref).max():.1e} |")
    for name, why in refused:
        print(f"| {name} | {why} | | | | | |")
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one warm repeat")
    parser.add_argument("--shapes", nargs="*", choices=list(SHAPES), default=list(SHAPES))
    parser.add_argument("--tasks", nargs="*", choices=["regression", "classification"],
                        default=["regression", "classification"])
    parser.add_argument("--no-pinned", action="store_true", help="skip the 1-thread timing")
    parser.add_argument("--no-path", action="store_true", help="skip the 20-alpha paths")
    parser.add_argument("--path-only", action="store_true", help="only the 20-alpha paths")
    parser.add_argument("--peer-cap", type=float, default=60.0,
                        help="seconds after which a peer's warm-started path (skglm) is stopped and "
                             "reported with its partial time instead of timed (default 60)")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    print(f"warm = median of {repeats} round-robin repeat(s); 1 thread = threadpoolctl limit 1 in this process")
    for shape in args.shapes:
        for task in [] if args.path_only else args.tasks:
            fit_table(shape, task, repeats, not args.no_pinned)
        if not args.no_path:
            path_table(shape, repeats, not args.no_pinned, args.peer_cap)


if __name__ == "__main__":
    main()
