"""Benchmark: MLP training throughput of skdgating against a raw PyTorch loop of the same network.

Issue 13 point 3 / shared/BENCHMARKS.md ("MLP overhead"): 20,000 x 100 float32
rows, 2 classes, the default network ``100 -> 64 -> 64 -> 2`` (ReLU), SGD with
momentum 0.9, at batch 32 (the estimator's default) and at batch 256:

* **raw PyTorch loop, gated**: the same D-gated network written out by hand
  (``w = omega * prod(gamma)`` per column every step, cross-entropy plus the
  gating penalty through autograd, the ungated ``l2`` as the optimizer's weight
  decay), shuffled index, slice, forward, backward, step, nothing else;
* **plain skorch MLP (ungated)**: ``skorch.NeuralNetClassifier`` around the
  ungated network with skorch's defaults (its DataLoader, no validation split);
* **skdgating**: ``DGatingMLPClassifier(D=3)``, the full estimator ``fit``
  (input validation, standardization, cosine schedule, support tracking,
  read-out and compaction included), and the training epochs of that same fit
  alone (skorch's ``EpochTimer`` durations: the training step's speed without
  the fit's fixed costs).

Throughput = rows x epochs / fit time. The methods run interleaved (one cold
run each, then ``--repeats`` warm runs); the table gives medians and the ratios
of the same run. Each configuration runs twice, in child processes: in the
default environment (what a user gets; no ``*_NUM_THREADS`` set by this script)
and with the thread pools pinned to 1 (``OMP/MKL/OPENBLAS_NUM_THREADS=1``).
Target: skdgating >= 0.95 x the raw loop at both batch sizes.

``--quick``: 4,000 rows, 1 epoch, 1 warm run (a smoke run).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from skorch import NeuralNetClassifier

from skdgating._modules import MLP
from skdgating.mlp import DGatingMLPClassifier

N_FEATURES = 100
HIDDEN = (64, 64)
LR = 0.05
MOMENTUM = 0.9
ALPHA, D, L2 = 0.01, 3, 1e-4
PINNED = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def make_data(n_samples, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n_samples, N_FEATURES).astype(np.float32)
    y = (X[:, :10].sum(axis=1) + 0.5 * rng.randn(n_samples) > 0).astype(np.int64)
    return X, y


def raw_loop(X, y, epochs, batch):
    """The D-gated network by hand: one weight per column group (single columns here)."""
    torch.manual_seed(0)
    sizes = [N_FEATURES, *HIDDEN, 2]
    layers = [torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
    omega = layers[0].weight
    gates = torch.nn.Parameter(torch.ones(N_FEATURES, D - 1))
    decayed = [layer.weight for layer in layers[1:]]
    rest = [omega, gates, *(layer.bias for layer in layers)]
    optimizer = torch.optim.SGD([{"params": rest}, {"params": decayed, "weight_decay": 2 * L2}],
                                lr=LR, momentum=MOMENTUM)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(X_t), generator=generator)
        for i in range(0, len(X_t), batch):
            rows = order[i:i + batch]
            optimizer.zero_grad()
            w = omega * gates.prod(1)  # the gated weight, every step
            h = torch.relu(F.linear(X_t[rows], w, layers[0].bias))
            h = torch.relu(layers[1](h))
            loss = F.cross_entropy(layers[2](h), y_t[rows])
            loss = loss + (ALPHA / D) * (omega.pow(2).sum(0).sum() + gates.pow(2).sum())
            loss.backward()
            optimizer.step()
    return time.perf_counter() - start


def plain_skorch(X, y, epochs, batch):
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        MLP, module__n_features=X.shape[1], module__hidden_layer_sizes=HIDDEN, module__n_outputs=2,
        criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.SGD, optimizer__momentum=MOMENTUM,
        lr=LR, batch_size=batch, max_epochs=epochs, train_split=None, iterator_train__shuffle=True,
        verbose=0)
    start = time.perf_counter()
    net.fit(X, y)
    return time.perf_counter() - start


_LAST_FIT = {}


def skdgating(X, y, epochs, batch):
    est = DGatingMLPClassifier(hidden_layer_sizes=HIDDEN, D=D, alpha=ALPHA, l2=L2, batch_size=batch,
                               max_epochs=epochs, learning_rate_init=LR, momentum=MOMENTUM,
                               random_state=0)
    start = time.perf_counter()
    est.fit(X, y)
    _LAST_FIT["estimator"] = est
    return time.perf_counter() - start


def skdgating_epochs(X, y, epochs, batch):
    """The training epochs alone of the fit just timed: skorch's EpochTimer ("dur"), summed."""
    return float(sum(_LAST_FIT["estimator"].net_.history[:, "dur"]))


METHODS = {"raw PyTorch loop (gated)": raw_loop, "plain skorch MLP (ungated)": plain_skorch,
           "skdgating DGatingMLPClassifier (whole fit)": skdgating,
           "skdgating, its training epochs only": skdgating_epochs}


def measure(n_samples, epochs, repeats, batches):
    """Median warm samples/s of every method and batch size: {batch: {method: (speed, cold s, warm s)}}."""
    X, y = make_data(n_samples)
    result = {}
    for batch in batches:
        times = {name: [] for name in METHODS}
        for run in range(repeats + 1):  # run 0 is the cold run
            for name, fn in METHODS.items():
                times[name].append(fn(X, y, epochs, batch))
                print(f"batch {batch} run {run} {name}: {times[name][-1]:.2f} s", file=sys.stderr, flush=True)
        result[batch] = {name: (n_samples * epochs / statistics.median(t[1:]), t[0], t[1:])
                         for name, t in times.items()}
    return result


def run_child(env_update, argv):
    env = {k: v for k, v in os.environ.items() if k not in PINNED}
    env.update(env_update)
    out = subprocess.run([sys.executable, __file__, "--child", *argv], env=env, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return {int(k): v for k, v in json.loads(out).items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="4,000 rows, 1 epoch, 1 warm run")
    parser.add_argument("--repeats", type=int, default=5, help="warm runs per method (default 5)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per fit (default 3)")
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    n_samples, epochs, repeats = (4_000, 1, 1) if args.quick else (20_000, args.epochs, args.repeats)
    if args.child:
        print(json.dumps(measure(n_samples, epochs, repeats, args.batches)))
        return
    child_argv = [a for a in (argv if argv is not None else sys.argv[1:])]
    runs = {"default": run_child({}, child_argv), "pinned": run_child(PINNED, child_argv)}
    raw = next(iter(METHODS))
    print(f"\n### MLP training throughput: {n_samples} x {N_FEATURES}, {N_FEATURES} -> "
          f"{' -> '.join(map(str, HIDDEN))} -> 2, D={D}, {epochs} epochs, SGD momentum {MOMENTUM}\n")
    print("| batch | method | samples/s default | / raw loop | samples/s pinned | / raw loop | "
          "cold fit default / pinned (s) |")
    print("|---|---|---|---|---|---|---|")
    for batch in args.batches:
        for name in METHODS:
            d, p = runs["default"][batch][name], runs["pinned"][batch][name]
            print(f"| {batch} | {name} | {d[0]:,.0f} | {d[0] / runs['default'][batch][raw][0]:.2f} | "
                  f"{p[0]:,.0f} | {p[0] / runs['pinned'][batch][raw][0]:.2f} | {d[1]:.2f} / {p[1]:.2f} |")
    print(f"\nMedian of {repeats} warm runs each, methods interleaved, in one child process per "
          f"environment (default: no *_NUM_THREADS set; pinned: OMP/MKL/OPENBLAS_NUM_THREADS=1); "
          f"torch {torch.__version__}, {os.cpu_count()} CPUs. Target: skdgating >= 0.95 x the raw loop.")


if __name__ == "__main__":
    main()
