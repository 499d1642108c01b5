"""Benchmark: structured compaction with D-gated neurons (issue #7).

The LeNet-300-100 analogue of the D-Gating paper on tabular data: a ReLU MLP
``n_in -> 300 -> 100 -> n_out`` on

* scikit-learn's **digits** (8x8 images, 64 features, 10 classes; accuracy), and
* **friedman1** with 64 features of which 5 are informative (2,000 rows,
  noise 1.0; R^2, where "1 point" means 0.01),

each split once into training rows (75%) and test rows (25%), standardized
with the training rows' statistics (the regression target too).
Every model is trained with the same SGD (momentum 0.9, learning rate 0.05 with
cosine decay, batch 32, 100 epochs) and then gets the same fine-tuning
budget (20 epochs of plain SGD, learning rate 0.01, cosine, no
sparsity penalty):

* **dense**: the full network, L2 weight decay 1e-4 on the weight matrices;
* **D-Gating, D = 2, 3, 4**: ``DGating*(hidden_layer_sizes=(300, 100),
  gate_hidden=True)``: input features and every hidden neuron D-gated;
  ``compress()`` gives the physically smaller ``nn.Sequential``, which is
  fine-tuned. alpha and the estimator's relative read-out ``threshold`` are
  chosen together by 3-fold cross-validation on the training rows (every
  candidate trained, read out, compressed and fine-tuned on each fold) from one
  fixed grid for every data set and D (``ALPHAS``: 0.001 to 0.016, factor 2;
  ``THRESHOLDS``: 1e-3, the estimator's default, to 0.3 in half decades): the
  candidate with the fewest parameters whose cross-validated score is within
  one point of the best cross-validated score (of the dense model and that D's
  candidates); it is then refitted on all training rows with that alpha and
  threshold. Why the threshold: in 100 epochs the penalty has not finished
  driving the dead neurons to zero (the gating imbalance decays by about
  ``4 * lr * alpha / D`` per step, so ``steps * lr * alpha / D`` is well below 1
  at the alphas that keep the accuracy), and many neuron columns sit at 1e-3 to
  1e-2 of the largest norm of their layer, just above the default cut. Training
  does not depend on the threshold, so in cross-validation one fit per alpha and
  fold is read out at every threshold (``rethreshold``; the same networks as
  fitting with that threshold);
* **magnitude pruning at equal size**: the trained dense network, pruned with
  ``torch.nn.utils.prune.ln_structured`` (L2 norm) to the same number of input
  features (columns of the first layer) and of neurons in each hidden layer
  (rows) as the D-Gating model of that row, fine-tuned with the masks in
  place, then made physically small the same way (``skdgating.compaction.compact``
  folds the pruned neurons' constant outputs into the next bias; unused input
  columns are dropped).

Every final model (dense, D-Gating at its chosen alpha and threshold,
magnitude pruning) is trained with ``--seeds`` seeds (default 5: initialization,
minibatch order, fine-tuning); reported per model: parameters (weights and biases of the physically small
network, mean over the seeds), test score before and after fine-tuning (mean,
and standard deviation after), and inference time of the first seed's small
network against the dense one (``torch.inference_mode``, one thread):
a single row (median over ``--repeats`` runs of the mean of 300 calls) and a
batch of 4,096 rows (median over ``--repeats`` runs of the mean of 5 calls).
All models are measured side by side in one run; ratios are what to quote.

Targets (shared/BENCHMARKS.md): >= 5x fewer parameters at <= 1 point of test
accuracy loss against dense, and a better test score than magnitude pruning at
equal size. Printed: the table of the final models, every seed's test score of
D-Gating and of magnitude pruning at its size, the cross-validation scan, and a
verdict per D (the difference to magnitude pruning as mean and standard
deviation over the seeds' paired differences, and in how many seeds D-Gating is
better).

``--quick`` trains for a few epochs with one alpha per D (a smoke run).
"""

import argparse
import copy
import statistics
import sys
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits, make_friedman1
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from torch import nn
from torch.nn.utils import prune

from skdgating.compaction import compact
from skdgating.mlp import DGatingMLPClassifier, DGatingMLPRegressor

HIDDEN = (300, 100)
LR, FT_LR, MOMENTUM, BATCH, L2 = 0.05, 0.01, 0.9, 32, 1e-4
# The candidates of D-Gating, the same for every data set and D: a geometric alpha grid
# (factor 2) crossed with the estimator's relative read-out threshold in half decades
# (1e-3 is its default). Training does not depend on the threshold, so one fit per alpha
# and fold serves every threshold (see ``rethreshold``).
ALPHAS = [1e-3 * 2 ** k for k in range(5)]          # 0.001 ... 0.016
THRESHOLDS = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------
def load(name, seed=0):
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        task, stratify = "classification", y
    else:
        X, y = make_friedman1(n_samples=2000, n_features=64, noise=1.0, random_state=seed)
        task, stratify = "regression", None
    idx = np.arange(len(X))
    train, test = train_test_split(idx, test_size=0.25, random_state=seed, stratify=stratify)
    mean, std = X[train].mean(0), X[train].std(0)
    std[std == 0] = 1.0
    X = ((X - mean) / std).astype(np.float32)
    if task == "regression":
        y = ((y - y[train].mean()) / y[train].std()).astype(np.float32)
    n_out = len(np.unique(y)) if task == "classification" else 1
    Fold = StratifiedKFold if task == "classification" else KFold
    folds = [(train[a], train[b]) for a, b in
             Fold(3, shuffle=True, random_state=seed).split(train, y[train])]
    return dict(name=name, task=task, n_out=n_out, X=X, y=y, train=train, test=test, folds=folds)


# --------------------------------------------------------------------------------------
# Plain PyTorch training, scoring, timing
# --------------------------------------------------------------------------------------
def dense_net(n_in, n_out, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(n_in, HIDDEN[0]), nn.ReLU(), nn.Linear(*HIDDEN), nn.ReLU(),
                         nn.Linear(HIDDEN[1], n_out))


def train(net, X, y, task, epochs, lr, seed=0):
    """SGD with momentum, cosine decay per batch, L2 (weight decay 2 * L2) on weight matrices."""
    X_t = torch.from_numpy(np.ascontiguousarray(X))
    y_t = torch.from_numpy(y.astype(np.int64 if task == "classification" else np.float32))
    if task == "regression":
        y_t = y_t[:, None]
    matrices = [p for p in net.parameters() if p.ndim > 1]
    others = [p for p in net.parameters() if p.ndim <= 1]
    optimizer = torch.optim.SGD([{"params": matrices, "weight_decay": 2 * L2},
                                 {"params": others}], lr=lr, momentum=MOMENTUM)
    generator = torch.Generator().manual_seed(seed)
    total, step = epochs * int(np.ceil(len(X) / BATCH)), 0
    net.train()
    for _ in range(epochs):
        for rows in torch.randperm(len(X), generator=generator).split(BATCH):
            for group in optimizer.param_groups:
                group["lr"] = 0.5 * lr * (1 + np.cos(np.pi * step / total))
            out = net(X_t[rows])
            if task == "classification":
                loss = nn.functional.cross_entropy(out, y_t[rows])
            else:
                loss = 0.5 * ((out - y_t[rows]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
    return net.eval()


def score(net, X, y, task):
    with torch.inference_mode():
        out = net.eval()(torch.from_numpy(np.ascontiguousarray(X))).numpy()
    if task == "classification":
        return accuracy_score(y, out.argmax(1))
    return r2_score(y, out[:, 0])


def n_params(net):
    return sum(p.numel() for p in net.parameters())


def latency(net, X, repeats):
    """Median seconds per call: one row (mean of 300 calls) and 4,096 rows (mean of 5)."""
    x1 = torch.from_numpy(np.ascontiguousarray(X[:1]))
    xb = torch.from_numpy(np.ascontiguousarray(np.resize(X, (4096, X.shape[1]))))
    net.eval()
    single, batch = [], []
    with torch.inference_mode():
        for _ in range(3):  # warm-up
            net(x1), net(xb)
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(300):
                net(x1)
            single.append((time.perf_counter() - start) / 300)
            start = time.perf_counter()
            for _ in range(5):
                net(xb)
            batch.append((time.perf_counter() - start) / 5)
    return statistics.median(single), statistics.median(batch)


# --------------------------------------------------------------------------------------
# The arms
# --------------------------------------------------------------------------------------
def split(data, rows, cols=None):
    rows = data[rows] if isinstance(rows, str) else rows
    X = data["X"][rows]
    return (X if cols is None else X[:, cols]), data["y"][rows]


def make_dgating(data, D, alpha, epochs, threshold, seed):
    Est = DGatingMLPClassifier if data["task"] == "classification" else DGatingMLPRegressor
    return Est(hidden_layer_sizes=HIDDEN, D=D, alpha=alpha, gate_hidden=True, max_epochs=epochs,
               learning_rate_init=LR, batch_size=BATCH, momentum=MOMENTUM, l2=L2,
               standardize=False, threshold=threshold, random_state=seed)


def fit_quietly(est, X, y):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence / empty-model warnings: reported in the table
        est.fit(X, y)
    return time.perf_counter() - start


@torch.no_grad()
def rethreshold(net, threshold):
    """The estimator's read-out at a larger relative ``threshold``, applied to ``compress()``.

    ``net`` is ``est.compress()`` of a fit with a smaller threshold. Every weight
    matrix is gated (inputs: columns of the first, neurons: columns of the next);
    a column whose norm is ``<= max(threshold * largest norm of that matrix, 1e-7)``
    is zeroed, as the estimator's read-out does (the largest norm is unchanged by
    the smaller threshold, and a uniform output scale leaves ratios unchanged),
    then the dead neurons are removed by ``compact`` and the unused input columns
    dropped. Returns the small network and the kept columns of ``net``'s inputs.
    """
    net = copy.deepcopy(net)
    for layer in (m for m in net if isinstance(m, nn.Linear)):
        norms = layer.weight.norm(dim=0)
        if norms.numel():
            layer.weight[:, norms <= max(threshold * float(norms.max()), 1e-7)] = 0.0
    small = compact(net)
    cols = np.flatnonzero(small[0].weight.abs().sum(0).numpy() > 0)
    small[0].weight = nn.Parameter(small[0].weight[:, torch.as_tensor(cols)].contiguous())
    small[0].in_features = len(cols)
    return small, cols


def fit_dgating(data, D, alpha, threshold, epochs, ft_epochs, seed=0):
    """Final fit on all training rows: fit (read out at ``threshold``), compress, score,
    fine-tune the compact network, score again."""
    est = make_dgating(data, D, alpha, epochs, threshold, seed)
    fit_time = fit_quietly(est, *split(data, "train"))
    cols = est.selected_features_
    net = est.compress()
    result = dict(kind=f"D-Gating D={D}", D=D, alpha=alpha, threshold=threshold, cols=cols,
                  widths=[int(w) for w in est.n_neurons_], fit_time=fit_time,
                  test_before=score(net, *split(data, "test", cols), data["task"]))
    train(net, *split(data, "train", cols), data["task"], ft_epochs, FT_LR, seed=seed)
    result.update(net=net, params=n_params(net),
                  test=score(net, *split(data, "test", cols), data["task"]))
    return result


def cv_dgating(data, D, alpha, thresholds, epochs, ft_epochs):
    """Cross-validated score and parameters after fine-tuning, for every threshold.

    One fit per fold (read out at the smallest threshold); each larger threshold
    re-reads that fit (:func:`rethreshold`, the same result as fitting with it), and
    every distinct compact network gets the full fine-tuning budget.
    """
    scores = {t: [] for t in thresholds}
    params = {t: [] for t in thresholds}
    for fit_rows, val_rows in data["folds"]:
        est = make_dgating(data, D, alpha, epochs, min(thresholds), 0)
        fit_quietly(est, *split(data, fit_rows))
        base, sel = est.compress(), est.selected_features_
        done = {}
        for t in sorted(thresholds):
            small, cols = rethreshold(base, t)
            key = (tuple(cols), tuple(m.out_features for m in small if isinstance(m, nn.Linear)))
            if key not in done:  # a larger threshold that removes nothing more: same network
                cols = sel[cols]
                train(small, *split(data, fit_rows, cols), data["task"], ft_epochs, FT_LR)
                done[key] = (score(small, *split(data, val_rows, cols), data["task"]), n_params(small))
            scores[t].append(done[key][0])
            params[t].append(done[key][1])
    return {t: (float(np.mean(scores[t])), float(np.mean(params[t]))) for t in thresholds}


def cv_dense(data, args):
    """Cross-validated score of the dense model (trained and fine-tuned like the finals)."""
    scores = []
    for fit_rows, val_rows in data["folds"]:
        net = train(dense_net(data["X"].shape[1], data["n_out"]), *split(data, fit_rows), data["task"],
                    args.epochs, LR)
        train(net, *split(data, fit_rows), data["task"], args.ft_epochs, FT_LR)
        scores.append(score(net, *split(data, val_rows), data["task"]))
    return float(np.mean(scores))


def magnitude_pruned(data, dense, n_features, widths, ft_epochs, seed=0):
    """ln_structured pruning of the trained dense net to the given size, fine-tuned, made small."""
    net = copy.deepcopy(dense)
    n_in = net[0].in_features
    if n_features < n_in:
        prune.ln_structured(net[0], "weight", amount=n_in - n_features, n=2, dim=1)   # inputs
    for layer, width, full in ((net[0], widths[0], HIDDEN[0]), (net[2], widths[1], HIDDEN[1])):
        if width < full:
            prune.ln_structured(layer, "weight", amount=full - width, n=2, dim=0)     # neurons
    test_before = score(net, *split(data, "test"), data["task"])
    train(net, *split(data, "train"), data["task"], ft_epochs, FT_LR, seed=seed)
    for layer in (net[0], net[2]):
        if prune.is_pruned(layer):
            prune.remove(layer, "weight")
    small = compact(net)  # pruned neurons: zero rows, their constant relu(b) folded
    cols = np.flatnonzero(small[0].weight.detach().abs().sum(0).numpy() > 0)
    small[0].weight = nn.Parameter(small[0].weight.detach()[:, torch.as_tensor(cols)].contiguous())
    small[0].in_features = len(cols)
    return dict(kind="magnitude pruning", net=small, cols=cols, params=n_params(small),
                widths=[small[0].out_features, small[2].out_features], test_before=test_before,
                test=score(small, *split(data, "test", cols), data["task"]))


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------
def fmt_score(value, task):
    return f"{100 * value:.2f}%" if task == "classification" else f"{value:.4f}"


def run(name, args):
    data = load(name)
    task = data["task"]
    n_in = data["X"].shape[1]
    metric = "accuracy" if task == "classification" else "R^2"
    print(f"\n## {name}: {n_in} -> 300 -> 100 -> {data['n_out']}, test {metric}, "
          f"{len(data['train'])} training rows (3 folds for the choice of alpha and threshold) / "
          f"{len(data['test'])} test rows\n", flush=True)

    dense_cv = cv_dense(data, args)
    seeds = range(args.seeds)
    dense_nets, dense_before, dense_tests = [], [], []
    for seed in seeds:
        net = train(dense_net(n_in, data["n_out"], seed), *split(data, "train"), task, args.epochs, LR, seed)
        dense_nets.append(net)
        dense_before.append(score(net, *split(data, "test"), task))
        # The dense model gets the same fine-tuning budget (its own baseline, for fairness).
        tuned = train(copy.deepcopy(net), *split(data, "train"), task, args.ft_epochs, FT_LR, seed)
        dense_tests.append(score(tuned, *split(data, "test"), task))

    # (alpha, threshold) per D by cross-validation on the training rows, then refits on all of them
    scan, rows = [], [[dict(kind="dense", net=dense_nets[0], cols=np.arange(n_in), widths=list(HIDDEN),
                            params=n_params(dense_nets[0]), test_before=b, test=t)
                       for b, t in zip(dense_before, dense_tests)]]
    alphas = ALPHAS[1:2] if args.quick else ALPHAS
    for D in (2, 3, 4):
        candidates = []
        for alpha in alphas:
            start = time.perf_counter()
            per_threshold = cv_dgating(data, D, alpha, THRESHOLDS, args.epochs, args.ft_epochs)
            elapsed = time.perf_counter() - start
            for t, (cv, params) in per_threshold.items():
                candidates.append(dict(D=D, alpha=alpha, threshold=t, cv=cv, params=params, time=elapsed))
            print(f"  D={D} alpha={alpha:g} ({elapsed:.1f} s): "
                  + ", ".join(f"t={t:g} {fmt_score(cv, task)} {params:.0f}p"
                              for t, (cv, params) in per_threshold.items()), file=sys.stderr, flush=True)
        scan += candidates
        best = max([dense_cv] + [c["cv"] for c in candidates])
        pick = min((c for c in candidates if c["cv"] >= best - 0.01), key=lambda c: c["params"], default=None)
        within = pick is not None
        if pick is None:
            pick = max(candidates, key=lambda c: c["cv"])
        pick["chosen"] = True
        gated, pruned = [], []
        for seed in seeds:
            r = fit_dgating(data, D, pick["alpha"], pick["threshold"], args.epochs, args.ft_epochs, seed=seed)
            r["within"] = within
            m = magnitude_pruned(data, dense_nets[seed], len(r["cols"]), r["widths"], args.ft_epochs, seed)
            m["kind"] = f"magnitude pruning, size of D={D}"
            gated.append(r)
            pruned.append(m)
        rows += [gated, pruned]

    X_test = split(data, "test")[0]
    for group in rows:  # timed: the first seed's network of every row, side by side
        group[0]["single"], group[0]["batch"] = latency(group[0]["net"], X_test[:, group[0]["cols"]],
                                                        args.repeats)

    base = rows[0]
    base_test = np.mean([r["test"] for r in base])
    points = 100  # accuracy in points; for R^2, 0.01 counts as one point

    def mean(group, key):
        return float(np.mean([r[key] for r in group]))

    print(f"Cross-validated {metric} of the dense model: {fmt_score(dense_cv, task)} (3 folds of the "
          f"training rows). D-Gating (alpha, threshold) per D: the fewest parameters within 1 point of "
          f"the best cross-validated score. Scores: mean (and standard deviation) over {args.seeds} "
          f"seeds of the final fits (initialization, minibatch order, fine-tuning); sizes: mean over "
          f"the seeds; times: the first seed's networks.\n")
    print(f"| model | alpha | threshold | inputs | hidden | parameters | x fewer | test {metric} before FT | "
          f"test {metric} | vs dense (points) | 1 row (us) | x faster | 4096 rows (ms) | x faster |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for group in rows:
        r0 = group[0]
        alpha = f"{r0['alpha']:g}" if "alpha" in r0 else ""
        threshold = f"{r0['threshold']:g}" if "threshold" in r0 else ""
        tests = [r["test"] for r in group]
        widths = np.mean([r["widths"] for r in group], axis=0)
        params = mean(group, "params")
        spread = f" ± {np.std(tests):.2%}" if task == "classification" else f" ± {np.std(tests):.4f}"
        print(f"| {r0['kind']} | {alpha} | {threshold} | {np.mean([len(r['cols']) for r in group]):.0f} | "
              f"{widths[0]:.0f}-{widths[1]:.0f} | {params:,.0f} | {base[0]['params'] / params:.1f} | "
              f"{fmt_score(mean(group, 'test_before'), task)} | {fmt_score(np.mean(tests), task)}{spread} | "
              f"{points * (np.mean(tests) - base_test):+.2f} | {1e6 * r0['single']:.1f} | "
              f"{base[0]['single'] / r0['single']:.2f} | {1e3 * r0['batch']:.3f} | "
              f"{base[0]['batch'] / r0['batch']:.2f} |")

    print(f"\nPer seed, test {metric} after fine-tuning (D-Gating / magnitude pruning at its size; "
          f"dense for reference):\n")
    print("| seed | dense | " + " | ".join(f"D={g[0]['D']} D-Gating | D={g[0]['D']} magnitude" for g in rows[1::2])
          + " |")
    print("|---:|---:|" + "---:|---:|" * len(rows[1::2]))
    for seed in seeds:
        cells = [fmt_score(base[seed]["test"], task)]
        for gated, pruned in zip(rows[1::2], rows[2::2]):
            mark = "**" if gated[seed]["test"] > pruned[seed]["test"] else ""
            cells += [f"{mark}{fmt_score(gated[seed]['test'], task)}{mark}", fmt_score(pruned[seed]["test"], task)]
        print(f"| {seed} | " + " | ".join(cells) + " |")

    print(f"\nScan (3-fold cross-validated {metric} after fine-tuning / mean parameters over the folds; "
          f"dense: {fmt_score(dense_cv, task)}; * = chosen):\n")
    print("| D | alpha | " + " | ".join(f"threshold {t:g}" for t in THRESHOLDS) + " | time (s) |")
    print("|---:|---:|" + "---:|" * (len(THRESHOLDS) + 1))
    for D in (2, 3, 4):
        for alpha in alphas:
            cells = [c for c in scan if c["D"] == D and c["alpha"] == alpha]
            print(f"| {D} | {alpha:g} | " + " | ".join(
                f"{'*' if c.get('chosen') else ''}{fmt_score(c['cv'], task)} / {c['params']:,.0f}" for c in cells)
                  + f" | {cells[0]['time']:.1f} |")

    print()
    for gated, pruned in zip(rows[1::2], rows[2::2]):
        D = gated[0]["D"]
        ratio = base[0]["params"] / mean(gated, "params")
        loss = points * (base_test - mean(gated, "test"))
        wins = sum(r["test"] > m["test"] for r, m in zip(gated, pruned))
        ties = sum(r["test"] == m["test"] for r, m in zip(gated, pruned))
        diff = points * np.array([r["test"] - m["test"] for r, m in zip(gated, pruned)])
        print(f"- D={D}: {ratio:.1f}x fewer parameters (target >= 5): "
              f"{'met' if ratio >= 5 else 'NOT met'}; test loss {loss:+.2f} points (target <= 1): "
              f"{'met' if loss <= 1 else 'NOT met'}; against magnitude pruning at equal size: "
              f"{fmt_score(mean(gated, 'test'), task)} vs {fmt_score(mean(pruned, 'test'), task)} on average "
              f"(difference {diff.mean():+.2f} ± {diff.std():.2f} points), better in {wins}, tied in {ties} "
              f"of {len(gated)} seeds"
              + ("" if gated[0]["within"] else " (no candidate was within 1 point in cross-validation)"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few epochs, one alpha per D")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seeds", type=int, default=5, help="final fits per model")
    parser.add_argument("--datasets", nargs="+", default=["digits", "friedman1"],
                        choices=["digits", "friedman1"])
    args = parser.parse_args()
    args.epochs, args.ft_epochs = (8, 2) if args.quick else (100, 20)
    if args.quick:
        args.repeats, args.seeds = min(args.repeats, 2), min(args.seeds, 2)
    torch.set_num_threads(1)
    print(f"# Structured compaction benchmark (torch {torch.__version__}, 1 thread; "
          f"{args.epochs} training + {args.ft_epochs} fine-tuning epochs)")
    for name in args.datasets:
        run(name, args)


if __name__ == "__main__":
    main()
