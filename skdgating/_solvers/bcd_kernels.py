r"""The D=2 solver's inner loop, compiled (numba): a pass of block coordinate descent and its KKT test.

A pass updates the blocks of a working set one after the other, each by block
soft-thresholding of a gradient step with its own Lipschitz constant, and keeps the
product ``z`` that the next block reads up to date (:mod:`.bcd`). Each update is a
handful of operations on a few numbers, so in the interpreter the call overhead
(5-15 us per block) was most of a fit's time; compiled, an update costs its flops.
skglm compiles the same loop with numba, celer with Cython.

Both forms of the model's Hessian read the rows of one C-ordered matrix ``M``:

* residual form (``residual=True``): ``M = A'`` (m x n, ``A'A = H``) and ``z = A v``
  (n,); a block's gradient is ``M[k] . z``;
* Gram form: ``M = H`` (m x m, symmetric) and ``z = H v`` (m,); a block's gradient
  is ``z[k]``.

In both, a change ``delta`` of coordinate ``k`` updates ``z -= delta * M[k]`` (a row
of H is its column, H being symmetric). One compiled specialization serves both
(float64, C-ordered), cached on disk (``cache=True``) so a new process loads it
instead of compiling it again.
"""

from math import sqrt

import numpy as np
from numba import njit

__all__ = ["bcd_epoch", "block_violations"]

# Sums may be reordered (SIMD dot products, fused multiply-adds: about 2x faster
# passes on the wide benchmark problem); no assumption about NaN or infinities is
# allowed (numba's full fastmath would let comparisons with NaN be folded away).
_REASSOCIATE = {"reassoc", "contract"}


@njit(cache=True, nogil=True, fastmath=_REASSOCIATE)
def bcd_epoch(which, starts, ends, v, z, lin, M, residual, inv_lipschitz, thresholds):
    """One pass over the blocks ``which``, in place on ``v`` and ``z``.

    Block ``j`` holds the coordinates ``starts[j]:ends[j]`` of ``v``; its step is
    ``v_j - inv_lipschitz[j] * (grad_j + lin_j)``, block soft-thresholded at
    ``thresholds[j]`` (its penalty over its Lipschitz constant; 0 for an unpenalized
    block). A block whose ``inv_lipschitz`` is 0 (a zero column block) is left as it is.
    """
    n_z = z.shape[0]
    step = np.empty(_widest(starts, ends))
    for j in which:
        scale = inv_lipschitz[j]
        if scale == 0.0:
            continue
        s, e = starts[j], ends[j]
        norm2 = 0.0
        any_live = False
        for k in range(s, e):
            value = v[k] - scale * _gradient(k, z, lin, M, residual)
            step[k - s] = value
            norm2 += value * value
            any_live = any_live or v[k] != 0.0
        norm = sqrt(norm2)
        threshold = thresholds[j]
        if norm <= threshold:
            if not any_live:
                continue
            shrink = 0.0
        elif threshold > 0.0:
            shrink = 1.0 - threshold / norm
        else:
            shrink = 1.0
        for k in range(s, e):
            new = shrink * step[k - s]
            delta = new - v[k]
            if delta != 0.0:
                for i in range(n_z):
                    z[i] += delta * M[k, i]
                v[k] = new


@njit(cache=True, nogil=True, fastmath=_REASSOCIATE)
def block_violations(which, starts, ends, v, z, lin, M, residual, lam):
    """Per block of ``which``, the violation of the optimality conditions of the model
    plus ``lam_j ||v_j||`` at ``v``: the norm of the gradient plus ``lam_j v_j / ||v_j||``
    for a nonzero block, ``max(||grad_j|| - lam_j, 0)`` for a zero one. Costs what a
    pass's gradients cost, with no full gradient formed."""
    out = np.empty(which.shape[0])
    grad = np.empty(_widest(starts, ends))
    for position in range(which.shape[0]):
        j = which[position]
        s, e = starts[j], ends[j]
        norm2 = 0.0
        for k in range(s, e):
            grad[k - s] = _gradient(k, z, lin, M, residual)
            norm2 += v[k] * v[k]
        if norm2 > 0.0:
            scale = lam[j] / sqrt(norm2)
            resid2 = 0.0
            for k in range(s, e):
                r = grad[k - s] + scale * v[k]
                resid2 += r * r
            out[position] = sqrt(resid2)
        else:
            gnorm2 = 0.0
            for k in range(s, e):
                gnorm2 += grad[k - s] * grad[k - s]
            out[position] = max(sqrt(gnorm2) - lam[j], 0.0)
    return out


@njit(cache=True, nogil=True, fastmath=_REASSOCIATE, inline="always")
def _gradient(k, z, lin, M, residual):
    """Coordinate ``k`` of the model's gradient: ``M[k] . z + lin[k]`` or ``z[k] + lin[k]``."""
    if residual:
        grad = 0.0
        for i in range(z.shape[0]):
            grad += M[k, i] * z[i]
        return grad + lin[k]
    return z[k] + lin[k]


@njit(cache=True, nogil=True, fastmath=_REASSOCIATE)
def _widest(starts, ends):
    width = 0
    for j in range(starts.shape[0]):
        width = max(width, ends[j] - starts[j])
    return width
