"""The gated objective restricted to a working set of groups, in packed variables."""

from functools import cached_property

import numpy as np

from .._gating_formulas import balanced_factors, factor_gradients, factor_penalty, gate_product


class Subproblem:
    """Gated objective restricted to the columns of a working set of groups."""

    def __init__(self, datafit, groups, ws, alpha, D):
        self.datafit, self.alpha, self.D = datafit, alpha, D
        self.K = datafit.n_outputs
        self.ws = ws  # group ids, penalized groups first
        self.cols = np.concatenate([groups.indices[j] for j in ws]) if len(ws) else np.zeros(0, int)
        self.m = len(self.cols)
        # local group id of each working-set column, and group weights
        self.local_group = np.repeat(np.arange(len(ws)), [len(groups.indices[j]) for j in ws])
        self.c = groups.weights[ws]
        self.pen = self.c > 0
        self.n_pen = int(self.pen.sum())
        assert np.all(self.pen[: self.n_pen]), "penalized groups must come first"
        self.c_col = self.c[self.local_group]
        self.pen_col = self.pen[self.local_group]
        self.pen_sizes = np.bincount(self.local_group, minlength=len(ws))[: self.n_pen]
        self.pen_starts = np.concatenate([[0], np.cumsum(self.pen_sizes)[:-1]]).astype(np.intp)
        self.m_pen = int(self.pen_sizes.sum())
        self.value_grad_w, self.hess_w = datafit.restrict(self.cols)
        self.n_b = datafit.n_intercepts

    @cached_property
    def membership(self):
        """``(m_pen, n_pen)`` indicator of each penalized column's group.

        Only the (single-output) Newton Hessian uses it, so it is built on first use:
        on a working set of every group (D>=3 starts so) it would be ``p x n_groups``.
        """
        membership = np.zeros((self.m_pen, self.n_pen))
        membership[np.arange(self.m_pen), self.local_group[: self.m_pen]] = 1.0
        return membership

    # packing of (omega, gates, b) into one vector for L-BFGS
    def unpack(self, x):
        K, m, D = self.K, self.m, self.D
        omega = x[: K * m].reshape(K, m)
        gates = x[K * m: K * m + self.n_pen * (D - 1)].reshape(self.n_pen, D - 1)
        b = x[K * m + self.n_pen * (D - 1):] if self.n_b else np.zeros(self.K)
        return omega, gates, b

    def pack(self, omega, gates, b):
        return np.concatenate([omega.ravel(), gates.ravel(), b if self.n_b else []])

    def col_scale(self, gates):
        scale = np.ones(self.m)
        scale[: self.m_pen] = gate_product(gates)[self.local_group[: self.m_pen]]
        return scale

    def _group_sum(self, per_column):
        # working-set columns are stored group by group, penalized groups first
        return np.add.reduceat(per_column[: self.m_pen], self.pen_starts) if self.n_pen else per_column[:0]

    def objective(self, x):
        omega, gates, b = self.unpack(x)
        scale = self.col_scale(gates)
        loss, G, gb = self.value_grad_w(omega * scale, b)
        c = self.c[: self.n_pen]
        sq = self._group_sum((omega * omega).sum(0))
        odg = self._group_sum((omega * G).sum(0))
        two_a_D = 2.0 * self.alpha / self.D
        out = np.empty_like(x)
        Km = self.K * self.m
        out[:Km] = (G * scale + two_a_D * self.c_col * omega).ravel()
        # (D=2: the one gate's "other gates" product is 1)
        gate_grad = odg[:, None] if self.D == 2 else factor_gradients(odg, gates)
        out[Km: Km + gates.size] = (gate_grad + two_a_D * c[:, None] * gates).ravel()
        if self.n_b:
            out[Km + gates.size:] = gb
        return loss + factor_penalty(sq, gates, c, self.alpha, self.D), out

    def hessian(self, x):
        """Dense Hessian of the gated objective (single-output datafits).

        With ``w = omega * prod(gates)`` and ``J`` the Jacobian of ``(w, b)`` in the
        variables, it is ``J' H_w J`` plus the second-order terms of the product
        weighted by the gradient in ``w``, plus the penalty's ``2 alpha c / D``.
        """
        omega, gates, b = self.unpack(x)
        m, n_g, n_b, D = self.m, gates.size, self.n_b, self.D
        scale = self.col_scale(gates)
        W = omega * scale
        _, G, _ = self.value_grad_w(W, b)
        H_w = self.hess_w(W, b)
        n = m + n_g + n_b
        rest = factor_gradients(np.ones(self.n_pen), gates)  # prod of the other gates
        pc = np.arange(self.m_pen)
        lg = self.local_group[: self.m_pen]
        # gate k of every group: a strided slice of the variables (slices, not fancy
        # indexing, so that the blocks below are written in place)
        gate_k = [slice(m + k, m + n_g, D - 1) for k in range(D - 1)]
        # J' H_w J using the structure of J: diag(scale) on omega, and one column
        # per gate whose entries are omega_i * rest_jk on the columns of group j.
        A = H_w[:m, :m]
        H = np.zeros((n, n))
        np.multiply(A, scale[:, None], out=H[:m, :m])
        H[:m, :m] *= scale
        if self.n_pen:
            # P[i, j] = omega_i if column i is in group j: sums over groups become products
            P = self.membership * omega[0, : self.m_pen, None]
            A_om = A[:, : self.m_pen] @ P
            N = P.T @ A_om[: self.m_pen]
            scaled_A_om = scale[:, None] * A_om
            for k in range(D - 1):
                H[:m, gate_k[k]] = scaled_A_om * rest[None, :, k]
                H[gate_k[k], :m] = H[:m, gate_k[k]].T
                for l in range(D - 1):
                    H[gate_k[k], gate_k[l]] = N * rest[:, k, None] * rest[None, :, l]
        if n_b:
            c, e = H_w[:m, m:], H_w[m:, m:]
            H[:m, m + n_g:] = scale[:, None] * c
            H[m + n_g:, :m] = H[:m, m + n_g:].T
            if self.n_pen:
                cg = P.T @ c[: self.m_pen]
                for k in range(D - 1):
                    H[gate_k[k], m + n_g:] = cg * rest[:, k, None]
                    H[m + n_g:, gate_k[k]] = H[gate_k[k], m + n_g:].T
            H[m + n_g:, m + n_g:] = e
        for k in range(D - 1):  # d2 w_i / d omega_i d gamma_jk = prod of the other gates
            cross = G[0, : self.m_pen] * rest[lg, k]
            gate_col = m + lg * (D - 1) + k
            H[pc, gate_col] += cross
            H[gate_col, pc] += cross
        if D >= 3:  # d2 w / d gamma_jk d gamma_jl, weighted by omega_j . G_j
            odg = self._group_sum(omega[0] * G[0])
            idx = m + np.arange(self.n_pen) * (D - 1)
            for k in range(D - 1):
                for l in range(D - 1):
                    if k != l:
                        others = [d for d in range(D - 1) if d not in (k, l)]
                        pr = gates[:, others].prod(-1) if others else np.ones(self.n_pen)
                        H[idx + k, idx + l] += odg * pr
        two_a_D = 2.0 * self.alpha / self.D
        H.flat[: m * (n + 1): n + 1] += two_a_D * self.c_col
        H.flat[m * (n + 1): (m + n_g) * (n + 1): n + 1] += two_a_D * np.repeat(self.c[: self.n_pen], D - 1)
        return H

    def start(self, W, b):
        """Balanced factorization of the effective coefficients W (K, m)."""
        norms = np.sqrt(np.bincount(self.local_group, (W**2).sum(0), minlength=len(self.ws)))[: self.n_pen]
        omega_scale, gate_value = balanced_factors(norms, self.D)
        omega = W.copy()
        omega[:, self.pen_col] *= omega_scale[self.local_group[self.pen_col]]
        gates = np.repeat(gate_value[:, None], self.D - 1, axis=1)
        return self.pack(omega, gates, b)

    def effective(self, x):
        omega, gates, b = self.unpack(x)
        return omega * self.col_scale(gates), b

    def scatter(self, x, W, b):
        """``(W, b)`` of the full problem at ``x``: the working set's coefficients in
        place (``W`` is overwritten), zero elsewhere; ``b`` kept without intercepts."""
        W_ws, b_ws = self.effective(x)
        W[:] = 0.0
        W[:, self.cols] = W_ws
        return W, (b_ws if self.n_b else b)
