"""The D-Gating primitive against the mathematics (not against its own output)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skdgating import collapse_, dgating_penalty, gate, make_groups, rebalance_
from skdgating.gating import factor_gradients, factor_penalty, gated_parametrizations, induced_penalty

GROUPS = [[0, 1], [2], [3, 4, 5]]


def induced(weight, groups, weights, alpha, D, dim=1):
    """alpha * sum_j c_j ||w_j||^(2/D), computed straight from the weight."""
    w = weight.detach().movedim(dim, 0).reshape(weight.shape[dim], -1)
    norms = torch.stack([w[idx].norm() for idx in groups])
    return float(alpha * (torch.as_tensor(weights, dtype=w.dtype) * norms ** (2.0 / D)).sum())


@pytest.mark.parametrize("D", [2, 3, 4])
def test_penalty_at_balance_equals_induced_penalty(D):
    layer = torch.nn.Linear(6, 5).double()
    w = layer.weight.detach().clone()
    gate(layer, D=D, alpha=0.3, groups=GROUPS, gate_init="balanced")
    torch.testing.assert_close(layer.weight, w)  # balanced start keeps the function
    c = np.sqrt([2, 1, 3])
    assert dgating_penalty(layer).item() == pytest.approx(induced(w, GROUPS, c, 0.3, D), rel=1e-12)


@pytest.mark.parametrize("D", [2, 3, 5])
def test_rebalance_keeps_weights_and_reaches_the_am_gm_minimum(D):
    layer = torch.nn.Linear(6, 4).double()
    dgate = gate(layer, D=D, alpha=0.7, groups=GROUPS)
    with torch.no_grad():  # random, imbalanced factors, including negative gates
        dgate.gates.copy_(torch.randn(3, D - 1, dtype=torch.float64) * 2)
    w_before = layer.weight.detach().clone()
    p_before = dgating_penalty(layer).item()
    rebalance_(layer)
    torch.testing.assert_close(layer.weight, w_before, rtol=1e-12, atol=1e-12)
    p_after = dgating_penalty(layer).item()
    assert p_after <= p_before + 1e-12
    assert p_after == pytest.approx(induced(w_before, GROUPS, np.sqrt([2, 1, 3]), 0.7, D), rel=1e-10)


@settings(max_examples=60, deadline=None)
@given(D=st.integers(2, 6), seed=st.integers(0, 2**31 - 1))
def test_smooth_penalty_bounds_the_induced_penalty(D, seed):
    # AM-GM: (1/D)(||omega||^2 + sum gamma^2) >= ||omega * prod gamma||^(2/D)
    rng = np.random.default_rng(seed)
    omega = rng.normal(size=(4, 3)) * rng.uniform(0.01, 10)
    gates = rng.normal(size=(4, D - 1)) * rng.uniform(0.01, 10)
    c = rng.uniform(0, 3, size=4)
    w_norms = np.linalg.norm(omega, axis=1) * np.abs(gates.prod(1))
    smooth = factor_penalty((omega**2).sum(1), gates, c, 1.0, D)
    assert smooth >= induced_penalty(w_norms, c, 1.0, D) * (1 - 1e-12)


@pytest.mark.parametrize("D", [2, 3, 4])
def test_gradient_at_balance_matches_gradient_of_induced_penalty(D):
    alpha = 0.4
    layer = torch.nn.Linear(6, 3).double()
    gate(layer, D=D, alpha=alpha, groups=GROUPS, gate_init="balanced")
    _, _, dgate, omega = next(gated_parametrizations(layer))
    gated = torch.autograd.grad(dgating_penalty(layer), (omega, dgate.gates))
    # gradient of alpha c_j ||w_j||^(2/D) in w, written out by hand ...
    w = layer.weight
    grad_w = torch.zeros_like(w)
    for c, idx in zip(np.sqrt([2, 1, 3]), GROUPS):
        wj = w[:, idx].detach()
        grad_w[:, idx] = alpha * c * (2.0 / D) * wj.norm() ** (2.0 / D - 2) * wj
    # ... pulled back through the parametrization (chain rule, J^T grad_w)
    pulled = torch.autograd.grad(w, (omega, dgate.gates), grad_outputs=grad_w)
    for a, b in zip(gated, pulled):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("D", [2, 3, 4])
def test_numpy_chain_rule_matches_torch_autograd(D):
    rng = np.random.default_rng(D)
    gates = rng.normal(size=(3, D - 1))
    omega = rng.normal(size=5)
    group = np.array([0, 0, 1, 2, 2])
    G = rng.normal(size=5)  # a gradient in w
    omega_t = torch.tensor(omega, requires_grad=True)
    gates_t = torch.tensor(gates, requires_grad=True)
    w = omega_t * gates_t.prod(-1)[torch.as_tensor(group)]
    auto = torch.autograd.grad(w, gates_t, grad_outputs=torch.tensor(G))[0].numpy()
    odg = np.bincount(group, omega * G, minlength=3)
    np.testing.assert_allclose(factor_gradients(odg, gates), auto, rtol=1e-12)


def test_factors_never_start_at_zero():
    layer = torch.nn.Linear(4, 3).double()
    with torch.no_grad():
        layer.weight[:, 1] = 0.0  # an exactly-zero group
    for init in ("ones", "balanced"):
        layer2 = torch.nn.Linear(4, 3).double()
        layer2.load_state_dict(layer.state_dict())
        dgate = gate(layer2, D=3, gate_init=init)
        assert torch.all(dgate.gates != 0)


def test_conv_filters_are_groups_along_dim0():
    conv = torch.nn.Conv2d(2, 5, 3).double()
    w = conv.weight.detach().clone()
    gate(conv, dim=0, D=3, alpha=1.0, group_weights="ones", gate_init="balanced")
    expected = induced(w, [[i] for i in range(5)], np.ones(5), 1.0, 3, dim=0)
    assert dgating_penalty(conv).item() == pytest.approx(expected, rel=1e-12)


def test_unpenalized_group_is_not_gated():
    layer = torch.nn.Linear(3, 2).double()
    dgate = gate(layer, D=3, groups=[[0], [1], [2]], group_weights=[0.0, 1.0, 1.0])
    w = layer.weight.detach().clone()
    with torch.no_grad():
        dgate.gates.fill_(0.5)
    torch.testing.assert_close(layer.weight[:, 0], w[:, 0])  # gate product ignored
    torch.testing.assert_close(layer.weight[:, 1], w[:, 1] * 0.25)


def test_collapse_leaves_plain_weights_with_exact_zeros():
    layer = torch.nn.Linear(3, 2).double()
    dgate = gate(layer, D=2)
    with torch.no_grad():
        dgate.gates.copy_(torch.tensor([[1.0], [1e-9], [1.0]], dtype=torch.float64))
    collapse_(layer, threshold=1e-6)
    assert not hasattr(layer, "parametrizations")
    assert torch.all(layer.weight[:, 1] == 0) and torch.all(layer.weight[:, 0] != 0)


def test_imbalance_decays_at_the_predicted_rate_under_gradient_descent():
    # Gradient flow gives ||omega||^2 - gamma^2 = xi_0 exp(-4 alpha c t / D) for any loss.
    D, alpha, lr, steps = 2, 0.5, 1e-3, 400
    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 1, bias=False).double()
    dgate = gate(layer, D=D, alpha=alpha, groups=[[0, 1, 2]], group_weights="ones")
    _, _, _, omega = next(gated_parametrizations(layer))
    with torch.no_grad():
        dgate.gates.fill_(3.0)  # strongly imbalanced start
    x = torch.randn(64, 3, dtype=torch.float64)
    y = x @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    opt = torch.optim.SGD(layer.parameters(), lr=lr)

    def imbalance():
        return float(omega.detach().pow(2).sum() - dgate.gates.detach().pow(2).sum())

    xi0 = imbalance()
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.5 * ((layer(x)[:, 0] - y) ** 2).mean() + dgating_penalty(layer)
        loss.backward()
        opt.step()
    predicted = xi0 * np.exp(-4 * alpha * lr * steps / D)
    assert imbalance() == pytest.approx(predicted, rel=0.02)


def test_gate_rejects_bad_arguments():
    with pytest.raises(ValueError, match="D must be"):
        gate(torch.nn.Linear(3, 2), D=1)
    with pytest.raises(TypeError, match="D must be"):
        gate(torch.nn.Linear(3, 2), D=2.5)
    with pytest.raises(ValueError, match="overlap"):
        gate(torch.nn.Linear(3, 2), groups=[[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="no D-gated"):
        dgating_penalty(torch.nn.Linear(3, 2))
    groups = make_groups(None, 4)
    with pytest.raises(ValueError, match="partition 4"):
        gate(torch.nn.Linear(3, 2), groups=groups)
