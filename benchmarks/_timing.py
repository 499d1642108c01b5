"""Round-robin timing shared by the benchmarks.

Each solver is run once cold (first fit: numba compilation, imports, caches), then
``repeats`` warm runs go round-robin over the solvers, so that a neighbouring
process that slows the machine for a while slows all of them alike; the warm
figure is the median. ``pinned`` runs the same under one BLAS/OpenMP thread
(threadpoolctl, in this process), for the figure beside the default environment.
"""

import time
from contextlib import nullcontext

import numpy as np
from threadpoolctl import threadpool_limits


def round_robin(fits, repeats, pinned=False):
    """Time the callables ``fits`` (name -> zero-argument callable).

    Returns ``{name: (result of the cold run, cold seconds, median warm seconds)}``;
    the warm median is ``nan`` when ``repeats`` is 0.
    """
    with threadpool_limits(limits=1) if pinned else nullcontext():
        results, cold = {}, {}
        for name, fit in fits.items():
            t0 = time.perf_counter()
            results[name] = fit()
            cold[name] = time.perf_counter() - t0
        warm = {name: [] for name in fits}
        for _ in range(repeats):
            for name, fit in fits.items():
                t0 = time.perf_counter()
                fit()
                warm[name].append(time.perf_counter() - t0)
    return {name: (results[name], cold[name], float(np.median(warm[name])) if warm[name] else np.nan)
            for name in fits}
