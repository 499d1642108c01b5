"""Benchmark: DGatingGroupLasso(D=2) / DGatingLogisticGroupLasso(D=2) against the
group-lasso solvers a user would otherwise pick, side by side in one run.

Problem: n=2000, p=500 in 125 groups of 4, 10 active groups, Toeplitz design
(rho=0.5), SNR 3, alpha = alpha_max/10 and alpha_max/50, group weights sqrt(4)=2.
Every solver gets the same objective (alpha and group-weight conventions
converted), timings are the median of warm repeats taken round-robin over the solvers
(so that a busy machine slows all of them alike; the first, cold fit is reported
separately), objective gaps are relative to the best objective reached by any
solver, and supports are compared with skglm's.

Run:  OMP_NUM_THREADS=1 python benchmarks/bench_linear.py [--repeats 7] [--quick]
"""

import argparse
import time
import warnings

import numpy as np

from skdgating import DGatingGroupLasso, DGatingLogisticGroupLasso, alpha_max
from skdgating.datasets import make_group_problem

GROUP_SIZE = 4


def timed(fit, repeats):
    """``(result, cold time, median of `repeats` warm times or nan)``."""
    t0 = time.perf_counter()
    out = fit()
    cold = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fit()
        times.append(time.perf_counter() - t0)
    return out, cold, float(np.median(times)) if times else np.nan


def group_norms(coef):
    return np.linalg.norm(np.reshape(coef, (-1, GROUP_SIZE)), axis=1)


def ls_objective(X, y, coef, intercept, alpha):
    r = y - X @ coef - intercept
    return 0.5 * np.mean(r**2) + alpha * np.sqrt(GROUP_SIZE) * group_norms(coef).sum()


def logistic_objective(X, y01, coef, intercept, alpha):
    z = X @ coef + intercept
    return np.mean(np.logaddexp(0, z) - y01 * z) + alpha * np.sqrt(GROUP_SIZE) * group_norms(coef).sum()


def regression_solvers(n_groups):
    weights = np.full(n_groups, np.sqrt(GROUP_SIZE))
    solvers = {"skdgating D=2": lambda a: DGatingGroupLasso(groups=GROUP_SIZE, D=2, alpha=a, tol=1e-6)}
    try:
        from skglm import GroupLasso as SkglmGroupLasso
        solvers["skglm GroupLasso"] = lambda a: SkglmGroupLasso(
            groups=GROUP_SIZE, alpha=a, weights=weights, tol=1e-6, max_iter=1000, fit_intercept=True)
    except ImportError:
        print("skglm not installed: skipped")
    try:
        from celer import GroupLasso as CelerGroupLasso
        solvers["celer GroupLasso"] = lambda a: CelerGroupLasso(
            groups=GROUP_SIZE, alpha=a, weights=weights, tol=1e-8, max_iter=1000, fit_intercept=True)
    except ImportError:
        print("celer not installed: skipped")
    try:
        from group_lasso import GroupLasso as GLGroupLasso
        # group-lasso: 1/(2n)||y - Xw||^2 + group_reg * sqrt(p_j) * ||w_j|| with scale_reg="group_size"
        solvers["group-lasso"] = lambda a: GLGroupLasso(
            groups=np.repeat(np.arange(n_groups), GROUP_SIZE), group_reg=a, l1_reg=0.0,
            scale_reg="group_size", n_iter=2000, tol=1e-10, fit_intercept=True, supress_warning=True)
    except ImportError:
        print("group-lasso not installed: skipped")
    return solvers


def logistic_solvers(n_groups):
    solvers = {"skdgating D=2": lambda a: DGatingLogisticGroupLasso(groups=GROUP_SIZE, D=2, alpha=a, tol=1e-6)}
    try:
        from skglm import GeneralizedLinearEstimator
        from skglm.datafits import LogisticGroup
        from skglm.penalties import WeightedGroupL2
        from skglm.solvers import GroupProxNewton
        from skglm.utils.data import grp_converter

        grp_indices, grp_ptr = grp_converter(GROUP_SIZE, n_groups * GROUP_SIZE)
        weights = np.full(n_groups, np.sqrt(GROUP_SIZE))
        solvers["skglm GroupProxNewton"] = lambda a: _SkglmLogistic(GeneralizedLinearEstimator(
            LogisticGroup(grp_ptr, grp_indices), WeightedGroupL2(a, weights, grp_ptr, grp_indices),
            GroupProxNewton(fit_intercept=True, tol=1e-8, max_iter=100)))
    except ImportError:
        print("skglm not installed: skipped")
    try:
        from group_lasso import LogisticGroupLasso
        solvers["group-lasso"] = lambda a: _GLLogistic(LogisticGroupLasso(
            groups=np.repeat(np.arange(n_groups), GROUP_SIZE), group_reg=a, l1_reg=0.0,
            scale_reg="group_size", n_iter=2000, tol=1e-10, fit_intercept=True, supress_warning=True))
    except ImportError:
        print("group-lasso not installed: skipped")
    return solvers


class _SkglmLogistic:
    """skglm's Logistic datafit wants labels in {-1, 1}."""

    def __init__(self, est):
        self.est = est

    def fit(self, X, y):
        self.est.fit(X, 2.0 * y - 1.0)
        self.coef_, self.intercept_ = np.ravel(self.est.coef_), float(np.ravel(self.est.intercept_)[0])
        return self


class _GLLogistic:
    """group-lasso's LogisticGroupLasso stores coef_ as (n_features, n_classes)."""

    def __init__(self, est):
        self.est = est

    def fit(self, X, y):
        self.est.fit(X, y)
        coef = np.asarray(self.est.coef_)
        intercept = np.ravel(self.est.intercept_)
        # two-class softmax: logit = difference of the two class scores
        self.coef_ = coef[:, 1] - coef[:, 0] if coef.ndim == 2 and coef.shape[1] == 2 else np.ravel(coef)
        self.intercept_ = intercept[1] - intercept[0] if intercept.size == 2 else float(intercept[0])
        return self


def run(task, repeats, quick):
    n_groups = 125
    X, y, true_groups = make_group_problem(2000, n_groups, GROUP_SIZE, 10, rho=0.5, snr=3.0, task=task,
                                           random_state=0)
    amax = alpha_max(X, y, groups=GROUP_SIZE, task=task)
    solvers = regression_solvers(n_groups) if task == "regression" else logistic_solvers(n_groups)
    objective = ls_objective if task == "regression" else logistic_objective
    rows = []
    for divisor in (10, 50):
        alpha = amax / divisor
        results = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits = {name: timed(lambda: make(alpha).fit(X, y), 0) for name, make in solvers.items()}
            # warm repeats round-robin over the solvers, so that a busy neighbouring
            # process slows all of them alike (the slow group-lasso package: one repeat)
            warm = {name: [] for name in solvers}
            for r in range(1 if quick else repeats):
                for name, make in solvers.items():
                    if name == "group-lasso" and r > 0:
                        continue
                    t0 = time.perf_counter()
                    make(alpha).fit(X, y)
                    warm[name].append(time.perf_counter() - t0)
        for name, (est, cold, _) in fits.items():
            coef = np.ravel(est.coef_)
            intercept = float(np.ravel(est.intercept_)[0])
            results[name] = (objective(X, y, coef, intercept, alpha), cold, float(np.median(warm[name])),
                             group_norms(coef) > 0)
        best = min(r[0] for r in results.values())
        ref_support = results.get("skglm GroupLasso", results.get("skglm GroupProxNewton"))[3]
        ours = results["skdgating D=2"][2]
        fastest_peer = min(r[2] for n, r in results.items() if n != "skdgating D=2")
        for name, (obj, cold, warm, support) in results.items():
            rows.append((f"alpha_max/{divisor}", name, warm * 1e3, cold * 1e3, (obj - best) / abs(best),
                         int(support.sum()), bool(np.array_equal(support, ref_support)),
                         warm / ours))
        rows.append((f"alpha_max/{divisor}", "**ratio skdgating / fastest peer**", ours / fastest_peer * 1e3,
                     np.nan, np.nan, -1, None, np.nan))
    title = "Least-squares group lasso" if task == "regression" else "Binary logistic group lasso"
    print(f"\n### {title} (n=2000, p=500, 125 groups of 4, 10 active; alpha_max={amax:.4g})\n")
    print("| alpha | solver | warm time (ms, median) | cold time (ms) | relative objective gap | groups selected | same support as skglm | time / skdgating |")
    print("|---|---|---|---|---|---|---|---|")
    for a, name, warm, cold, gap, nsel, same, ratio in rows:
        if nsel < 0:
            print(f"| {a} | {name} | {warm / 1e3:.2f} | | | | | |")
        else:
            print(f"| {a} | {name} | {warm:.1f} | {cold:.1f} | {gap:.1e} | {nsel} | {same} | {ratio:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="one warm repeat per solver")
    args = parser.parse_args()
    for task in ("regression", "classification"):
        run(task, args.repeats, args.quick)


if __name__ == "__main__":
    main()
