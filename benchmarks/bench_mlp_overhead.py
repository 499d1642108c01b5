"""Benchmark: training throughput of the D-gated MLP against the same network ungated.

Issue #3 / shared/BENCHMARKS.md: ``in -> 256 -> 256 -> out`` ReLU MLP, batch 256,
50,000 x 200 float32 rows, 2 classes, 5 epochs, SGD with momentum 0.9 (the
estimator's default optimizer) in all three runs:

* **raw PyTorch loop** over the ungated network: shuffled index, slice,
  forward, cross-entropy, backward, step, nothing else;
* **plain skorch MLP**: ``skorch.NeuralNetClassifier`` around the identical
  ungated module with skorch's defaults (its DataLoader, no validation split);
* **skdgating**: ``DGatingMLPClassifier(hidden_layer_sizes=(256, 256),
  batch_size=256, max_epochs=5)``, i.e. the full estimator ``fit``: input
  validation, internal standardization, D-gated first layer with its penalty,
  cosine schedule, support tracking, and the read-out.

Throughput = rows x epochs / fit time. The runs are interleaved, one cold run
each (reported separately) then ``--repeats`` warm runs, and the table gives
the median warm throughput and the ratios measured in the same run. Targets:
skdgating >= 0.95 x plain skorch; goal: as fast as the raw loop.

``--quick`` runs 5,000 rows, 2 epochs, 2 repeats (a smoke run).
"""

import argparse
import statistics
import sys
import time

import numpy as np
import torch
from skorch import NeuralNetClassifier

from skdgating._modules import MLP
from skdgating.mlp import DGatingMLPClassifier

HIDDEN = (256, 256)
BATCH = 256
LR = 0.05
MOMENTUM = 0.9


def make_data(n_samples, n_features=200, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n_samples, n_features).astype(np.float32)
    y = (X[:, :10].sum(axis=1) + 0.5 * rng.randn(n_samples) > 0).astype(np.int64)
    return X, y


def raw_loop(X, y, epochs):
    torch.manual_seed(0)
    module = MLP(X.shape[1], HIDDEN, 2)
    optimizer = torch.optim.SGD(module.parameters(), lr=LR, momentum=MOMENTUM)
    criterion = torch.nn.CrossEntropyLoss()
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    module.train()
    for _ in range(epochs):
        order = torch.randperm(len(X_t), generator=generator)
        for i in range(0, len(X_t), BATCH):
            rows = order[i:i + BATCH]
            optimizer.zero_grad()
            loss = criterion(module(X_t[rows]), y_t[rows])
            loss.backward()
            optimizer.step()
    return time.perf_counter() - start


def plain_skorch(X, y, epochs):
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        MLP, module__n_features=X.shape[1], module__hidden_layer_sizes=HIDDEN, module__n_outputs=2,
        criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.SGD, optimizer__momentum=MOMENTUM,
        lr=LR, batch_size=BATCH, max_epochs=epochs, train_split=None, iterator_train__shuffle=True,
        verbose=0)
    start = time.perf_counter()
    net.fit(X, y)
    return time.perf_counter() - start


def skdgating(X, y, epochs):
    est = DGatingMLPClassifier(hidden_layer_sizes=HIDDEN, batch_size=BATCH, max_epochs=epochs,
                               learning_rate_init=LR, momentum=MOMENTUM, random_state=0)
    start = time.perf_counter()
    est.fit(X, y)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 rows, 2 epochs, 2 repeats")
    parser.add_argument("--repeats", type=int, default=5, help="warm runs per method (default 5)")
    args = parser.parse_args(argv)
    n_samples, epochs, repeats = (5_000, 2, 2) if args.quick else (50_000, 5, args.repeats)
    torch.set_num_threads(1)
    X, y = make_data(n_samples)
    methods = [("raw PyTorch loop (ungated)", raw_loop), ("plain skorch MLP (ungated)", plain_skorch),
               ("skdgating DGatingMLPClassifier (D=3)", skdgating)]
    times = {name: [] for name, _ in methods}
    for run in range(repeats + 1):  # run 0 is the cold run
        for name, fn in methods:
            seconds = fn(X, y, epochs)
            times[name].append(seconds)
            print(f"run {run} {name}: {seconds:.2f} s", file=sys.stderr, flush=True)

    rows = n_samples * epochs
    speed = {name: rows / statistics.median(t[1:]) for name, t in times.items()}
    raw, plain = speed[methods[0][0]], speed[methods[1][0]]
    print(f"\n### MLP training throughput: {n_samples} x 200 rows, 200 -> 256 -> 256 -> 2, batch {BATCH}, "
          f"{epochs} epochs, SGD momentum {MOMENTUM}\n")
    print("| method | median samples/s | / plain skorch | / raw loop | cold first fit (s) | warm fits (s) |")
    print("|---|---|---|---|---|---|")
    for name, _ in methods:
        warm = ", ".join(f"{t:.2f}" for t in times[name][1:])
        print(f"| {name} | {speed[name]:,.0f} | {speed[name] / plain:.2f} | {speed[name] / raw:.2f} | "
              f"{times[name][0]:.2f} | {warm} |")
    print(f"\nMedian of {repeats} warm runs each, interleaved; one torch thread; torch {torch.__version__}. "
          "Target: skdgating >= 0.95 x plain skorch; goal: >= 1.00 x the raw loop.")


if __name__ == "__main__":
    main()
