"""How much does each planted column of the selection panel help on held-out rows? (issue 12)

The F1 target of ``bench_selection.py`` counts every planted column as one to keep. This
script asks independent learners whether each column pays for itself at the panel's
size: for every planted column of a problem (the same data and train/test split as
``bench_selection.py``), the test score of a model on all planted columns minus that of
the same model refitted without the column (positive: the column helps). Learners:
scikit-learn's ``MLPClassifier``/``MLPRegressor`` (64, 64), with early stopping, over
``--seeds`` seeds (mean and standard error of the paired difference), and
``HistGradientBoostingClassifier``/``Regressor`` (deterministic). Nothing of skdgating
runs here.

On ``make_classification`` (8 of 100 informative, 2,000 rows, 1,500 for training) the
default fit drops column 2 on some seeds; this shows whether a network could use it.

Run ``python benchmarks/bench_column_value.py`` (about 3 minutes on 2 cores);
``--problems`` and ``--seeds`` pick subsets.
"""

import argparse
import warnings

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

import bench_selection as panel


def learners(task):
    """(name, make(seed), seeded) of the independent learners for a task."""
    if task == "classification":
        return [("MLP", lambda s: MLPClassifier(hidden_layer_sizes=(64, 64), max_iter=300, early_stopping=True, random_state=s), True),
                ("HGB", lambda s: HistGradientBoostingClassifier(random_state=s), False)]
    return [("MLP", lambda s: MLPRegressor(hidden_layer_sizes=(64, 64), max_iter=300, early_stopping=True, random_state=s), True),
            ("HGB", lambda s: HistGradientBoostingRegressor(random_state=s), False)]


def column_values(X_tr, y_tr, X_te, y_te, support, make, seeds):
    """Per planted column: (mean, standard error) over ``seeds`` of the test score with
    every planted column minus the score without that column."""
    values = []
    for col in support:
        rest = [c for c in support if c != col]
        diffs = []
        for seed in seeds:
            full = make(seed).fit(X_tr[:, support], y_tr).score(X_te[:, support], y_te)
            without = make(seed).fit(X_tr[:, rest], y_tr).score(X_te[:, rest], y_te)
            diffs.append(full - without)
        diffs = np.asarray(diffs)
        se = diffs.std(ddof=1) / np.sqrt(len(diffs)) if len(diffs) > 1 else 0.0
        values.append((diffs.mean(), se))
    return values


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", nargs="+", default=["clf8", "friedman", "interaction"],
                        help="planted problems of bench_selection.py")
    parser.add_argument("--seeds", type=int, default=8, help="seeds of the MLP refits")
    parser.add_argument("--n-planted", type=int, default=2000, help="rows, as bench_selection.py")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)  # early stopping ends most fits
    print("| problem | learner | score, planted columns | per planted column: test score lost without it |")
    print("|---|---|---|---|")
    for name in args.problems:
        X, y, task, support = panel.planted(name, args.n_planted, 0)
        X_tr, X_te, y_tr, y_te = panel.split(X, y, task, 0)
        support = list(np.asarray(support))
        for learner, make, seeded in learners(task):
            seeds = range(args.seeds) if seeded else [0]
            full = np.mean([make(s).fit(X_tr[:, support], y_tr).score(X_te[:, support], y_te) for s in seeds])
            values = column_values(X_tr, y_tr, X_te, y_te, support, make, seeds)
            cells = ", ".join(f"{c}: {m:+.3f}" + (f" ± {se:.3f}" if seeded else "")
                              for c, (m, se) in zip(support, values))
            print(f"| {name} | {learner} | {full:.3f} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
