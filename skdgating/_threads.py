"""Thread pools during a fit: sized by the work, restored afterwards.

PyTorch's OpenMP pool and numpy's BLAS pool both start one thread per core. A
thread pool pays off only when each parallel operation is long: every matrix
product wakes the pool and waits at a barrier for its slowest thread. When
another process is busy on the machine, one of those threads is regularly
descheduled, and every barrier then waits a whole scheduler time slice. A fit of
this package runs tens of thousands of small products (minibatch SGD, or the
solver's working-set products), so that wait multiplied them by 10 to 200: on the
project's 2-core machine, a breast-cancer MLP fit took 75 s beside a busy numpy
process with the default pools and 2.6 s with one thread.

:func:`thread_limits` sizes the pools for one fit from the work per operation and
the cores that are idle, sets them with threadpoolctl (the BLAS and OpenMP pools,
PyTorch's included) and restores the previous sizes when the fit ends, so no
global state changes for good. The estimators' ``n_threads`` parameter overrides
the automatic size.
"""

import os
from contextlib import contextmanager
from numbers import Integral

import numpy as np
from threadpoolctl import ThreadpoolController

__all__ = ["resolve_n_threads", "thread_limits"]

# One more thread per this many floating-point operations in the largest operation
# of a step (about 10 ms of one core at 25 GFLOP/s): shorter operations are not
# worth waking a pool for. Beside busy processes a descheduled thread stalls every
# barrier for a scheduler time slice (a few ms). Measured on the 2-core machine
# beside busy processes (numpy X'X and torch forward+backward products, two threads
# against one): 0.03-0.43x for operations of 1e8-6e9 flops, 0.63-1.02x for 1e10-9e10.
# So the idle-core cap below (from the load average) is what protects a busy
# machine; this constant only keeps small operations on one thread on an idle one.
FLOPS_PER_THREAD = 2.5e8

_controller = None


def available_cores():
    """Cores this process may run on (its CPU affinity, where the OS reports it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def idle_cores(cores):
    """Cores not taken by other processes, from the 1-minute load average.

    The load average counts this process too (it is running), hence the ``+ 1``.
    It lags a neighbour that started seconds ago, which the work-based size then
    has to absorb; where the OS has no load average, every core counts as idle.
    """
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return cores
    return int(np.clip(cores - np.floor(load) + 1, 1, cores))


def current_pool_size():
    """The smallest size among the BLAS and OpenMP pools, as set before this fit."""
    sizes = [lib.num_threads for lib in _get_controller().lib_controllers]
    return min(sizes) if sizes else available_cores()


def resolve_n_threads(n_threads, flops_per_op):
    """Threads for a fit whose largest operation costs ``flops_per_op``.

    Parameters
    ----------
    n_threads : int or None
        ``None``: automatic, one thread plus one per :data:`FLOPS_PER_THREAD`
        flops in the largest operation, capped by the idle cores and by the
        pools' current sizes (``OMP_NUM_THREADS`` and the like still cap it). A positive
        int: that many threads. A negative int counts from the available cores
        as joblib's ``n_jobs`` does: ``-1`` is every core, ``-2`` all but one.
    flops_per_op : float
        Floating-point operations of the largest operation of one step.
    """
    cores = available_cores()
    if n_threads is None:
        by_work = 1 + int(flops_per_op // FLOPS_PER_THREAD)
        # Never more than the pools have now: that respects OMP_NUM_THREADS and
        # the like, and the caps joblib's workers get (inner_max_num_threads).
        return int(max(1, min(by_work, idle_cores(cores), current_pool_size())))
    if n_threads < 0:
        return max(1, cores + 1 + int(n_threads))
    return int(n_threads)


def check_n_threads(n_threads):
    """Validate an estimator's ``n_threads`` parameter (None or a nonzero int)."""
    if n_threads is None:
        return None
    if isinstance(n_threads, (bool, np.bool_)) or not isinstance(n_threads, Integral):
        raise TypeError(f"n_threads must be None or a nonzero integer, got {n_threads!r}.")
    if n_threads == 0:
        raise ValueError("n_threads must be None (automatic), a positive number of threads or "
                         "a negative count from the number of cores (-1: all), got 0.")
    return int(n_threads)


def _get_controller():
    # Created on first use, when numpy's BLAS and PyTorch's OpenMP runtime are
    # loaded (this package imports both), and kept: scanning the loaded
    # libraries costs about a millisecond, too much for every predict.
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


@contextmanager
def thread_limits(n_threads, flops_per_op):
    """Limit the BLAS and OpenMP pools (PyTorch's too) for the duration of the block.

    The previous sizes are restored on exit, also when the block raises.
    """
    with _get_controller().limit(limits=resolve_n_threads(n_threads, flops_per_op)):
        yield
