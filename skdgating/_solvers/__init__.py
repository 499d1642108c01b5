r"""Full-batch solver of the D-gated linear objective, in float64.

The problem is

.. math::

    \min_{\Omega, \Gamma, b}\; \sum_i s_i\, \ell(y_i, x_i^\top W + b)
      + \sum_j \frac{\alpha c_j}{D}\Big(\|\Omega_j\|^2 + \sum_d \Gamma_{j,d}^2\Big),
    \qquad W_j = \Omega_j \prod_d \Gamma_{j,d},

with sample weights ``s`` summing to one, a datafit :math:`\ell` (half squared
error, binary or multinomial logistic) and the gating formulas of
:mod:`skdgating.gating`. The smooth gated objective is minimized on a small
*working set* of groups; the rest of the groups sit at exactly zero:

* ``D = 2`` (the convex group lasso, :mod:`.convex`): working sets are ranked by
  the distance of a feasible dual point to each group's constraint (celer), and the
  solver stops when every group satisfies its KKT condition to ``tol``. At balance
  the D=2 gated penalty is the group-lasso penalty, so least squares and binary
  logistic are solved in ``w`` directly, by proximal Newton with block coordinate
  descent on each working set (:mod:`.bcd`); the multinomial datafit keeps the
  gated subproblems below.
* ``D >= 3`` (:mod:`.gated`): zero is a local minimum of every group, so the
  solver starts dense and removes groups as they collapse (zero is absorbing).

Each gated working-set subproblem gets a few L-BFGS steps, then safeguarded Newton steps
with the analytic gated Hessian (shifted where the non-convex objective makes it
indefinite; a factorization is reused while it still contracts the gradient).
For ``D = 2``, after each full Newton step the solver tries to go on over the
balanced points of the gated objective (the gates eliminated in closed form,
:func:`.newton.balanced_newton`): there Newton converges quadratically, while in the
factors it slows down near groups on the edge of the support.
Least squares works on the Gram matrix of the working set when ``n_samples`` is
larger than the working set, so a step costs ``O(m^2)`` (``O(m^3)`` for a
factorization), not ``O(n m)``; Gram columns are cached across working sets and
along a path.

Modules: :mod:`.design` (dense or sparse X, implicit centring), :mod:`.datafits`
(the declared datafit interface), :mod:`.subproblem` (the gated objective on a
working set), :mod:`.newton` (its minimization), :mod:`.bcd` (the D=2 solver in
``w``; its compiled inner loop in :mod:`.bcd_kernels`), :mod:`.prox` (KKT and
proximal steps), :mod:`.convex` and :mod:`.gated` (the drivers), :mod:`.constants`. This
module holds the entry points: :func:`solve`, :func:`solve_path` (the path core
that the estimators, the CV estimators and ``dgating_path`` call),
:func:`fit_unpenalized` and :func:`alpha_max`.
"""


import warnings
from dataclasses import replace

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .convex import solve_convex
from .datafits import BinaryLogistic, LeastSquares, MultinomialLogistic
from .design import Design
from .gated import dense_start, solve_gated
from .newton import minimize_subproblem
from .subproblem import Subproblem

__all__ = ["solve", "solve_path", "fit_unpenalized", "alpha_max", "LeastSquares", "BinaryLogistic",
           "MultinomialLogistic", "Design"]


def solve_path(datafit, groups, alphas, D, coef_init=None, intercept_init=None, tol=1e-6, max_iter=100,
               seed=0, verbose=0):
    """Solve at each of ``alphas`` in the given order, each fit warm-started from the previous.

    The path core: a single fit is a path of one alpha. Yields
    ``(coef (K, p), intercept (K,), n_iter, info)`` per alpha; ``info`` holds
    ``converged`` and ``kkt`` (the final optimality violation). For ``D>=3``, once
    a fit has no penalized group left the following alphas return it unchanged
    (zero groups are absorbing; ``info["reused"]``). The caller sizes the thread
    pools for the products with all of X (skdgating._threads); each subproblem's
    products run on as many of them as its own size calls for, usually one.
    """
    K, p = datafit.n_outputs, groups.n_features
    W = None if coef_init is None else np.array(coef_init, dtype=float).reshape(K, p)
    b = np.zeros(K) if intercept_init is None or not datafit.n_intercepts else \
        np.array(intercept_init, dtype=float).reshape(K)
    for alpha in alphas:
        if D >= 3 and W is not None and not np.any(groups.group_norms(W)[groups.penalized] > 0):
            yield W.copy(), datafit.intercept(W, b), 0, {"converged": True, "kkt": 0.0, "reused": True}
            continue
        W, b, n_iter, info = _solve_one(datafit, groups, float(alpha), D, W, b, tol, max_iter, seed, verbose)
        yield W.copy(), datafit.intercept(W, b), n_iter, info


def solve(datafit, groups, alpha, D, coef_init=None, intercept_init=None, tol=1e-6, max_iter=100, seed=0,
          verbose=0):
    """Minimize the gated objective at one alpha: the first (and only) fit of :func:`solve_path`."""
    return next(solve_path(datafit, groups, [alpha], D, coef_init, intercept_init, tol, max_iter, seed, verbose))


def _solve_one(datafit, groups, alpha, D, W, b, tol, max_iter, seed, verbose):
    """One fit from ``(W, b)`` (``W`` None: the driver's own start); the solver's ``b``, not the intercept."""
    if alpha == 0:
        # Nothing to gate: every group is unpenalized, and the plain smooth problem
        # (least squares or logistic regression) is solved directly.
        W, b, n_iter, grad_max = fit_unpenalized(datafit, replace(groups, weights=np.zeros(groups.n_groups)), tol)
        converged = grad_max <= tol
        if not converged:
            warnings.warn(f"The unpenalized fit (alpha=0) did not reach tol={tol:g} (gradient {grad_max:.3g}); "
                          "the data may be separable: use alpha > 0.", ConvergenceWarning)
        return W, b, n_iter, {"converged": converged, "kkt": grad_max}
    K, p = datafit.n_outputs, groups.n_features
    if D == 2:
        W, b, n_iter, converged, violation = solve_convex(
            datafit, groups, alpha, np.zeros((K, p)) if W is None else W.copy(), b, tol, max_iter, verbose,
            start_unpenalized=lambda: fit_unpenalized(datafit, groups, tol)[:2])
    else:
        W = dense_start(datafit, groups, alpha, seed) if W is None else W.copy()
        W, b, n_iter, converged, violation = solve_gated(datafit, groups, alpha, D, W, b, tol, max_iter, verbose)
    if not converged:
        warnings.warn(
            f"The D-Gating solver did not reach tol={tol:g} in max_iter={max_iter} outer "
            f"iterations (optimality violation {violation:.3g}); increase max_iter or tol.",
            ConvergenceWarning,
        )
    return W, b, n_iter, {"converged": converged, "kkt": violation}


def fit_unpenalized(datafit, groups, tol=1e-10):
    """Fit the intercept and the unpenalized groups with every penalized group at zero.

    Returns ``(W, b, n_iter, largest gradient entry)``, ``b`` the solver's intercept
    variables (zeros when the datafit has none).
    """
    K, p = datafit.n_outputs, groups.n_features
    W, b = np.zeros((K, p)), np.zeros(K)
    sub = Subproblem(datafit, groups, np.flatnonzero(~groups.penalized), 0.0, 2)
    n_iter, grad_max = 0, 0.0
    if sub.m or sub.n_b:
        x, g, n_iter = minimize_subproblem(sub, sub.pack(np.zeros((K, sub.m)), np.zeros((0, 1)), b), tol)
        W, b = sub.scatter(x, W, b)
        grad_max = float(np.max(np.abs(g), initial=0.0))
    return W, b, n_iter, grad_max


def alpha_max(datafit, groups):
    """Smallest alpha at which the D=2 solution has every penalized group at zero.

    :math:`\\max_j \\|\\nabla_{w_j} L(W^0, b^0)\\| / c_j` over penalized groups, with the
    intercept and the unpenalized groups fitted (:func:`fit_unpenalized`); 0 when no
    group is penalized.
    """
    pen = groups.penalized
    if not pen.any():
        return 0.0
    W, b, _, _ = fit_unpenalized(datafit, groups)
    norms = groups.group_norms(datafit.gradient(W, b))
    return float(np.max(norms[pen] / groups.weights[pen]))
