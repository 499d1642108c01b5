"""Benchmark: fit time in the user's default environment against pinned thread pools.

Issue "Fast by default": users do not set ``OMP_NUM_THREADS``, and their machines
run other work. Every configuration runs in a fresh process, in one of three
environments:

* **default**: no thread variable set, the estimator's ``n_threads=None``
  (the library sizes its own pools; what a user gets);
* **pinned**: ``OMP_NUM_THREADS=MKL_NUM_THREADS=OPENBLAS_NUM_THREADS=1``;
* **pools' defaults**: no variable set and ``n_threads=-1`` (every pool at one
  thread per core, which is what the library did before it managed its pools);

and beside either an idle machine or a **busy neighbour**: a second process
multiplying 800 x 800 matrices with numpy's default thread pool.

Problems (the issue's):
* ``DGatingMLPClassifier(D=3, alpha=0.01, max_epochs=60)`` on breast cancer
  (569 x 30, standardized);
* ``DGatingGroupLasso(D=2)`` on n=2000, p=500 in 125 groups of 4 (Toeplitz
  rho=0.5), at alpha_max/50.

Each process makes one small warm-up fit (imports, torch start-up), then times
``--repeats`` fits and reports the median. The configurations run round-robin
``--rounds`` times, and the table gives the median over rounds. Target:
default / pinned <= 1.2, idle and busy.

Run: python benchmarks/bench_threads.py [--repeats 3] [--rounds 2] [--quick]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

PINNED = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
THREAD_VARS = [*PINNED, "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"]

CHILD = r"""
import json, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
problem, n_threads, repeats, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
n_threads = None if n_threads == "None" else int(n_threads)
if problem == "mlp":
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler
    from skdgating import DGatingMLPClassifier
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    make = lambda e: DGatingMLPClassifier(D=3, alpha=0.01, max_epochs=e, random_state=0, n_threads=n_threads)
else:
    from skdgating import DGatingGroupLasso, alpha_max
    from skdgating.datasets import make_group_problem
    X, y, _ = make_group_problem(2000, n_groups=125, group_size=4, n_active=10, rho=0.5, snr=3.0,
                                 random_state=0)
    a = alpha_max(X, y, groups=4) / 50
    make = lambda e: DGatingGroupLasso(groups=4, D=2, alpha=a, n_threads=n_threads)
make(1).fit(X, y)  # warm-up: imports, torch start-up, first-call costs
times = []
for _ in range(repeats):
    t = time.perf_counter()
    make(epochs).fit(X, y)
    times.append(time.perf_counter() - t)
print(json.dumps(times))
"""

NEIGHBOUR = r"""
import numpy as np, time, sys
a = np.random.rand(800, 800)
end = time.time() + float(sys.argv[1])
while time.time() < end:
    a @ a
"""

POOL_DEFAULTS = "pools' defaults"
ENVIRONMENTS = {"default": (None, False), "pinned": (None, True), POOL_DEFAULTS: (-1, False)}


def run_child(problem, n_threads, pinned, repeats, epochs, timeout):
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    if pinned:
        env.update(PINNED)
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, problem, str(n_threads), str(repeats), str(epochs)],
                             env=env, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return np.inf
    except subprocess.CalledProcessError as error:
        raise RuntimeError(f"the {problem} child failed:\n{error.stderr}") from None
    return float(np.median(json.loads(out.stdout.strip().splitlines()[-1])))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=400.0, help="seconds per process")
    parser.add_argument("--quick", action="store_true", help="one round, one repeat, 10 MLP epochs")
    args = parser.parse_args()
    rounds, repeats, epochs = (1, 1, 10) if args.quick else (args.rounds, args.repeats, 60)
    print(f"cores: {os.cpu_count()}; load average before: {os.getloadavg()[0]:.2f}; "
          f"thread variables in this shell: "
          f"{ {k: os.environ[k] for k in THREAD_VARS if k in os.environ} or 'none'}\n")
    results = {}
    for neighbour in ("idle", "busy neighbour"):
        busy = None
        if neighbour != "idle":
            env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
            busy = subprocess.Popen([sys.executable, "-c", NEIGHBOUR, "100000"], env=env)
            time.sleep(2.0)
        try:
            for _ in range(rounds):
                for problem in ("mlp", "linear"):
                    for name, (n_threads, pinned) in ENVIRONMENTS.items():
                        t = run_child(problem, n_threads, pinned, repeats, epochs, args.timeout)
                        results.setdefault((neighbour, problem, name), []).append(t)
                        # Every round's figure and the load beside it (the table gives medians).
                        print(f"{neighbour}, {problem}, {name}: {t:.3f} s (load average "
                              f"{os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
    labels = {"mlp": f"MLP D=3, breast cancer, {epochs} epochs",
              "linear": "group lasso D=2, 2000x500, alpha_max/50"}
    print("| machine | problem | default (n_threads=None) | pinned to 1 thread | pools' defaults (n_threads=-1) "
          "| default / pinned |")
    print("|---|---|---|---|---|---|")
    for neighbour in ("idle", "busy neighbour"):
        for problem in ("mlp", "linear"):
            t = {name: float(np.median(results[(neighbour, problem, name)])) for name in ENVIRONMENTS}
            fmt = lambda s: "> timeout" if not np.isfinite(s) else (f"{s:.2f} s" if s >= 0.1 else f"{s * 1e3:.0f} ms")
            print(f"| {neighbour} | {labels[problem]} | {fmt(t['default'])} | {fmt(t['pinned'])} | "
                  f"{fmt(t[POOL_DEFAULTS])} | {t['default'] / t['pinned']:.2f} |")


if __name__ == "__main__":
    main()
