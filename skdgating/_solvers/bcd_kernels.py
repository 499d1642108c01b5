r"""The D=2 solver's inner loop, compiled (numba): a pass of block coordinate descent.

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

In both, a change ``delta`` of coordinate ``k`` updates ``z += delta * M[k]`` (a row
of H is its column, H being symmetric). One compiled specialization serves both
(float64, C-ordered), cached on disk (``cache=True``) so a new process loads it
instead of compiling it again.
"""

from math import sqrt

import numpy as np
from numba import njit

__all__ = ["bcd_epoch"]

# Sums may be reordered (SIMD dot products, fused multiply-adds: about 2x faster
# passes on the wide benchmark problem); no assumption about NaN or infinities is
# allowed (numba's full fastmath would let comparisons with NaN be folded away).
_REASSOCIATE = {"reassoc", "contract"}


@njit(cache=True, nogil=True, fastmath=_REASSOCIATE)
def bcd_epoch(which, starts, ends, v, z, lin, M, residual, inv_lipschitz, lam):
    """One pass over the blocks ``which``, in place on ``v`` and ``z``; returns the
    largest KKT violation among them, each measured where its update starts.

    Block ``j`` holds the coordinates ``starts[j]:ends[j]`` of ``v``; its step is
    ``v_j - inv_lipschitz[j] * (grad_j + lin_j)``, block soft-thresholded at
    ``lam[j] * inv_lipschitz[j]`` (``lam[j]``: its penalty weight, 0 for an
    unpenalized block). A block whose ``inv_lipschitz`` is 0 (zero columns) is left
    as it is. The violation of block ``j`` (the norm of ``grad_j + lin_j`` plus
    ``lam_j v_j / ||v_j||`` if ``v_j`` is nonzero, ``max(||grad_j + lin_j|| - lam_j, 0)``
    otherwise) comes free with the gradient its update computes, at the point the
    pass has reached (as glmnet's coordinate descent measures its progress within
    the pass): so the stopping test needs no extra pass over the model.
    """
    n_z = z.shape[0]
    width = _widest(starts, ends)
    grad = np.empty(width)
    worst = 0.0
    for j in which:
        scale = inv_lipschitz[j]
        if scale == 0.0:
            continue
        s, e = starts[j], ends[j]
        vnorm2 = 0.0
        for k in range(s, e):
            grad[k - s] = _gradient(k, z, lin, M, residual)
            vnorm2 += v[k] * v[k]
        # the block's KKT violation at the current point
        gnorm2, resid2 = 0.0, 0.0
        pull = lam[j] / sqrt(vnorm2) if vnorm2 > 0.0 else 0.0
        for k in range(s, e):
            gnorm2 += grad[k - s] * grad[k - s]
            r = grad[k - s] + pull * v[k]
            resid2 += r * r
        worst = max(worst, sqrt(resid2) if vnorm2 > 0.0 else sqrt(gnorm2) - lam[j])
        # the gradient step, then its block soft-thresholding
        norm2 = 0.0
        for k in range(s, e):
            grad[k - s] = v[k] - scale * grad[k - s]
            norm2 += grad[k - s] * grad[k - s]
        norm, threshold = sqrt(norm2), lam[j] * scale
        if norm <= threshold:
            if vnorm2 == 0.0:
                continue
            shrink = 0.0
        elif threshold > 0.0:
            shrink = 1.0 - threshold / norm
        else:
            shrink = 1.0
        for k in range(s, e):
            new = shrink * grad[k - s]
            delta = new - v[k]
            if delta != 0.0:
                for i in range(n_z):
                    z[i] += delta * M[k, i]
                v[k] = new
    return worst


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
