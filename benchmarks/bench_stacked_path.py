"""Benchmark: ``alpha="auto"`` with the folds' paths stacked in one network against sequential paths.

The README quickstart (``make_classification``: 1,500 x 30, the first 5 columns
informative, a 75/25 split), ``DGatingMLPClassifier(D=3, random_state=rs)`` with
the default ``alpha="auto"`` for each seed, once with the per-split paths of the
search trained sequentially (``skdgating._mlp_path.STACK_SPLITS = False``) and once
stacked (``True``), side by side in the same process. Reported per run: the
selected columns, the test accuracy, ``alpha_``, the fit's wall time and the part of
it spent training the search's paths (``train_paths`` without kept estimators; the
rest is the final model on all rows). Timings are noisy on a shared machine:
compare the two modes of the same seed.

Run: ``PYTHONPATH=$PWD python benchmarks/bench_stacked_path.py [--seeds 0 1 2]``
"""

import argparse
import time
import warnings

from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

from skdgating import _mlp_path
from skdgating.mlp import DGatingMLPClassifier


def timed_search(seconds):
    """Wrap ``_mlp_path.train_paths`` to add the time of the search's calls to ``seconds``."""
    train_paths = _mlp_path.train_paths

    def wrapper(*args, keep_estimators=False, **kwargs):
        start = time.perf_counter()
        paths = train_paths(*args, keep_estimators=keep_estimators, **kwargs)
        if not keep_estimators:
            seconds.append(time.perf_counter() - start)
        return paths

    _mlp_path.train_paths = wrapper


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    X, y = make_classification(1500, 30, n_informative=5, n_redundant=0, shuffle=False, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    search_seconds = []
    timed_search(search_seconds)
    print(f"{'seed':>4} {'mode':>10} {'selected':>28} {'test acc':>8} {'alpha_':>9} {'fit s':>7} {'search s':>8}")
    for rs in args.seeds:
        for stacked in (False, True):
            _mlp_path.STACK_SPLITS = stacked
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf = DGatingMLPClassifier(D=3, random_state=rs).fit(X_train, y_train)
            seconds = time.perf_counter() - start
            print(f"{rs:>4} {'stacked' if stacked else 'sequential':>10} {str(clf.selected_features_):>28} "
                  f"{clf.score(X_test, y_test):8.3f} {clf.alpha_:9.4g} {seconds:7.1f} {search_seconds.pop():8.1f}",
                  flush=True)


if __name__ == "__main__":
    main()
