"""Replay the choice rules of ``alpha="auto"`` on recorded full searches (issue 12).

Which path model ``alpha="auto"`` ships is decided by rules that all read the same
records: the per-row validation losses, the supports, and whether each (fold x alpha)
model settled after the penalty had acted. So the rules can be compared without
training again. This script runs the search of the default fit with every alpha trained
and scored (``lean=False``) once per fit of the panel of ``bench_selection.py`` (the same
data, splits, probes and seeds) and saves the records; then it replays

* the choice: the best mean validation loss (``min``, the default) or the paired
  one-standard-error rule (``1se``),
* the candidates: models settled in every fold (the default) or in a majority of folds,
* the stop: the lean search's early stop (``skdgating._mlp_path.path_is_done``, the
  default) or the full grid,

and prints, for every rule and fit, what the folds' consensus keeps at the chosen alpha
(the columns the final network may use; its support is a subset, usually equal): planted
columns + other columns, or real columns + probes, and ``@n``, the alphas trained.

Run ``python benchmarks/bench_selection_rules.py --record rules.pkl`` (about as long as
the panel's default fits, 10-15 minutes on 2 cores), then ``--replay rules.pkl`` (seconds).
``--seeds`` and ``--splits`` set how many fits per problem: differences of one column or
one probe per fit between two rules are within what the floating-point rounding of a
processor changes (README), so compare rules over more seeds than the panel's three.
"""

import argparse
import pickle
import sys
import time
import warnings

import numpy as np

import bench_selection as panel
from skdgating import _mlp_path
from skdgating.mlp import DGatingMLPClassifier, DGatingMLPRegressor


def record_search(task, X, y, seed):
    """The default fit's search with every alpha trained and scored; its records."""
    Est = DGatingMLPClassifier if task == "classification" else DGatingMLPRegressor
    template = _mlp_path.resolved_template(Est(random_state=seed), None).set_params(alpha=0.0)
    captured = []
    train_paths = _mlp_path.train_paths

    def capture(*args, **kwargs):  # the search's (split x alpha) models, as choose_alpha gets them
        captured.append(train_paths(*args, **kwargs))
        return captured[-1]

    _mlp_path.train_paths = capture
    try:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            search = _mlp_path.choose_alpha(template, X, y, None, cv=_mlp_path.auto_cv(template, y), alphas=None,
                                            selection=_mlp_path.AUTO_SELECTION,
                                            random_state=_mlp_path.split_seed(seed), lean=False)
        seconds = time.perf_counter() - start
    finally:
        _mlp_path.train_paths = train_paths
    paths = captured[0]
    field = lambda name: np.array([[getattr(m, name) for m in path] for path in paths])  # noqa: E731
    return dict(losses=_mlp_path._path_losses(paths), rows=[len(path[0].valid_losses) for path in paths],
                supports=field("support"), n_selected=field("n_selected"), settled=field("settled"),
                exposure=field("exposure"), seconds=seconds, library_alpha=search["alpha"],
                alphas=search["alphas"][::-1])


def record(args):
    records = {}
    for problem in [p for p in args.problems if p in panel.PLANTED]:
        X, y, task, support = panel.planted(problem, args.n_planted, 0)
        X_tr, _, y_tr, _ = panel.split(X, y, task, 0)
        for seed in range(args.seeds):
            records[problem, seed] = dict(record_search(task, X_tr, y_tr, seed), planted=support)
            print(f"{problem} seed {seed}: {records[problem, seed]['seconds']:.1f} s", file=sys.stderr, flush=True)
    for problem in [p for p in args.problems if p in panel.REAL]:
        X0, y, task = panel.real(problem)
        for seed in range(args.splits):
            X_tr, _, y_tr, _ = panel.split(panel.with_probes(X0, seed), y, task, seed)
            records[problem, seed] = dict(record_search(task, X_tr, y_tr, seed), n_real=X0.shape[1])
            print(f"{problem} split {seed}: {records[problem, seed]['seconds']:.1f} s", file=sys.stderr, flush=True)
    with open(args.record, "wb") as f:
        pickle.dump(records, f)


# --------------------------------------------------------------------------------------
# Replay
# --------------------------------------------------------------------------------------
def candidates(rec, rule):
    exposed = rec["exposure"].min(axis=0) >= _mlp_path.MIN_EXPOSURE
    if rule == "all folds settled":
        return _mlp_path.is_candidate(rec["settled"], rec["exposure"])
    return exposed & (2 * rec["settled"].sum(axis=0) > len(rec["settled"]))  # a majority of folds


def lean_losses(rec):
    """The losses a lean search has: NaN for the models it does not score (needs_score)."""
    losses = rec["losses"].copy()
    start = 0
    for k, n_rows in enumerate(rec["rows"]):
        for i in range(losses.shape[1]):
            if not _mlp_path.needs_score(rec["settled"][k, i], rec["exposure"][k, i], rec["n_selected"][k, i] == 0,
                                         first=i == 0):
                losses[start:start + n_rows, i] = np.nan
        start += n_rows
    return losses


def replay(rec, selection, candidate_rule, stop):
    """(chosen index, alphas trained) of one rule on one record, as choose_alpha chooses."""
    losses = lean_losses(rec) if stop == "lean" else rec["losses"]
    candidate = candidates(rec, candidate_rule)
    n = losses.shape[1]
    if stop == "lean":  # stacked_paths asks path_is_done with alphas 0..i-1 recorded
        n = next((i for i in range(1, n) if _mlp_path.path_is_done(losses[:, :i], None, candidate[:i])), n)
    losses = losses[:, :n]
    eligible, _ = _mlp_path.candidate_alphas(losses, candidate[:n], rec["n_selected"][:, :n])
    best, one_se, _, _ = _mlp_path.one_se_rule(losses, None, eligible=eligible)
    return (one_se if selection == "1se" else best), n


def describe(rec, chosen, n):
    kept = np.flatnonzero(_mlp_path.consensus(rec["supports"][:, chosen]))
    if "planted" in rec:
        hit = np.isin(kept, rec["planted"]).sum()
        return f"{hit}+{len(kept) - hit}@{n}"
    real = (kept < rec["n_real"]).sum()
    return f"{real}+{len(kept) - real}@{n}"


def replay_all(args):
    with open(args.replay, "rb") as f:
        records = pickle.load(f)
    problems = list(dict.fromkeys(problem for problem, _ in records))
    print("Consensus at the chosen alpha: planted + other columns (planted problems) or real columns + probes "
          "(real data with probes), @ alphas trained; one cell per seed / split. Default rule: min, all folds "
          "settled, lean.\n")
    print(f"| choice | candidates | stop | {' | '.join(problems)} |")
    print(f"|---|---|---|{'---|' * len(problems)}")
    for selection in ("min", "1se"):
        for candidate_rule in ("all folds settled", "majority settled"):
            for stop in ("lean", "full"):
                cells = []
                for problem in problems:
                    keys = sorted(key for key in records if key[0] == problem)
                    cells.append(", ".join(describe(records[key], *replay(records[key], selection, candidate_rule,
                                                                           stop)) for key in keys))
                print(f"| {selection} | {candidate_rule} | {stop} | {' | '.join(cells)} |")
    # The replay of the default rule must reproduce the library's own choice.
    mismatched = [key for key, rec in records.items()
                  if not np.isclose(rec["alphas"][replay(rec, _mlp_path.AUTO_SELECTION, "all folds settled",
                                                         "full")[0]], rec["library_alpha"])]
    print(f"\nReplay of the library's rule on the full grid reproduces its choice on "
          f"{len(records) - len(mismatched)} of {len(records)} records{': ' + str(mismatched) if mismatched else ''}.")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--record", help="run the full searches and save their records to this file")
    parser.add_argument("--replay", help="replay the rules on the records of this file")
    parser.add_argument("--problems", nargs="*", default=list(panel.PLANTED + panel.REAL),
                        choices=panel.PLANTED + panel.REAL, metavar="PROBLEM")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per planted problem (default 3)")
    parser.add_argument("--splits", type=int, default=3, help="splits per real data set (default 3)")
    parser.add_argument("--n-planted", type=int, default=2000, help="rows of the planted problems")
    args = parser.parse_args(argv)
    if not (args.record or args.replay):
        parser.error("give --record FILE, --replay FILE or both")
    if args.record:
        record(args)
    if args.replay:
        replay_all(args)


if __name__ == "__main__":
    main()
