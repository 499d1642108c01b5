"""Structured compaction (issue #7): D-gated neurons and filters, and physically
smaller networks.

Oracles: planted dead groups (which units must go, known by construction), a
forward pass written out in numpy from the raw factors (omega times the gate
products), the penalty formula written out independently, exact invariances
(the compact network computes the full one's function), and exports that must
reproduce the module's outputs. Every fit is small (n <= 300, at most two hidden
layers of at most 32 units).
"""

import copy
import importlib.util
import pickle
from fnmatch import fnmatch

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks
from torch import nn

from skdgating import collapse_, dgating_penalty, gate
from skdgating._modules import MLP, UNGATED_WEIGHTS
from skdgating.compaction import _compact_modules, compact
from skdgating.gating import DGate
from skdgating.mlp import DGatingMLPClassifier, DGatingMLPRegressor

from _planted import regression_data


def classification_data(seed=0, n=300, p=10):
    """Three classes that depend on columns 0 and 1 only."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    return X, y


# Wide enough that neurons can die, small enough to fit in about a second.
HIDDEN = dict(hidden_layer_sizes=(32, 16), gate_hidden=True, D=3, random_state=0)
# (Found on these generators: the planted features, a few neurons per layer.)
REG = dict(HIDDEN, alpha=0.03, max_epochs=100)
CLF = dict(HIDDEN, alpha=0.03, max_epochs=100)


@pytest.fixture(scope="module")
def fitted_regressor():
    X, y = regression_data()
    # Inputs with a mean far from 0: the folded standardization is exercised.
    X = X * 3.0 + 5.0
    return DGatingMLPRegressor(**REG).fit(X, 10 * y + 3), X, 10 * y + 3


@pytest.fixture(scope="module")
def fitted_classifier():
    X, y = classification_data()
    return DGatingMLPClassifier(**CLF).fit(X, np.array(["a", "b", "c"])[y]), X, y


def _sel(est, X):
    return torch.tensor(X[:, est.selected_features_], dtype=torch.float32)


# --------------------------------------------------------------------------------------
# The generic entry point: compact() on planted dead groups
# --------------------------------------------------------------------------------------
ACTS = {"relu": (nn.ReLU, lambda z: np.maximum(z, 0)),
        "tanh": (nn.Tanh, np.tanh),
        "logistic": (nn.Sigmoid, lambda z: 1 / (1 + np.exp(-z)))}


def _planted_gated_mlp(activation):
    """6 -> 8 -> 5 -> 3, every weight gated on its input columns (features, then neurons).

    Planted: inputs 4, 5 dead (zero gate); hidden-1 neurons 1 and 6 dead (zero
    gate of their outgoing column); hidden-1 neuron 3 reads only the dead inputs
    (a constant act(0.7), to be folded); hidden-2 neuron 2 dead; hidden-2 neuron
    4 reads only dead hidden-1 neurons and neuron 3 (constant as well).
    """
    torch.manual_seed(0)
    act = ACTS[activation][0]
    net = nn.Sequential(nn.Linear(6, 8), act(), nn.Linear(8, 5), act(), nn.Linear(5, 3))
    dgates = [gate(net[i], "weight", dim=1, D=3, alpha=0.1) for i in (0, 2, 4)]
    with torch.no_grad():
        for g in dgates:
            g.gates.uniform_(0.5, 1.5)
        dgates[0].gates[[4, 5], 0] = 0.0
        dgates[1].gates[[1, 6], 1] = 0.0
        dgates[2].gates[2, 0] = 0.0
        net[0].parametrizations.weight.original[3, :4] = 0.0
        net[0].bias[3] = 0.7
        net[2].parametrizations.weight.original[4, [0, 2, 3, 4, 5, 7]] = 0.0
    return net, dgates


def _numpy_forward(net, dgates, X, activation):
    """Forward pass from the raw factors: W = omega * prod(gates) per input column."""
    act = ACTS[activation][1]
    Z = X.astype(np.float64)
    for k, (i, g) in enumerate(zip((0, 2, 4), dgates)):
        omega = net[i].parametrizations.weight.original.detach().double().numpy()
        W = omega * g.gates.detach().double().numpy().prod(axis=1)[None, :]
        Z = Z @ W.T + net[i].bias.detach().double().numpy()
        if k < 2:
            Z = act(Z)
    return Z


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"])
def test_compact_removes_exactly_the_planted_dead_units(activation):
    net, dgates = _planted_gated_mlp(activation)
    X = np.random.RandomState(0).randn(50, 6)
    expected = _numpy_forward(net, dgates, X, activation)
    collapse_(net, threshold=0.0)
    small, kept = compact(net, return_indices=True)
    np.testing.assert_array_equal(kept[0], [0, 2, 4, 5, 7])
    np.testing.assert_array_equal(kept[1], [0, 1, 3])
    assert [m.weight.shape for m in small[::2]] == [(5, 6), (3, 5), (3, 3)]
    with torch.no_grad():
        out = small(torch.tensor(X, dtype=torch.float32)).double().numpy()
        full = net(torch.tensor(X, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out, full, rtol=1e-5, atol=1e-6)
    # compact() copies: the collapsed network keeps its shape.
    assert net[0].weight.shape == (8, 6)


def test_compact_keeps_units_it_cannot_remove_exactly():
    torch.manual_seed(0)
    x = torch.randn(4, 2, 7, 7)

    def conv_net(padding, bias):
        net = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Conv2d(4, 3, 3, padding=padding),
                            nn.ReLU(), nn.Flatten(), nn.Linear(3 * (5 - 2 + 2 * padding) ** 2, 2))
        with torch.no_grad():
            net[0].weight[1] = 0.0   # filter 1: a constant channel relu(bias)
            net[0].bias[1] = bias
        return net

    # No padding in the next convolution: the constant folds into its bias.
    net = conv_net(padding=0, bias=0.5)
    small, kept = compact(net, return_indices=True)
    np.testing.assert_array_equal(kept[0], [0, 2, 3])
    torch.testing.assert_close(small(x), net(x), rtol=1e-5, atol=1e-6)
    # Zero padding: the border positions see part of the constant, so it cannot be
    # folded and the filter stays, unless its constant is relu(-0.5) = 0.
    net = conv_net(padding=1, bias=0.5)
    small, kept = compact(net, return_indices=True)
    np.testing.assert_array_equal(kept[0], [0, 1, 2, 3])
    torch.testing.assert_close(small(x), net(x))
    net = conv_net(padding=1, bias=-0.5)
    small, kept = compact(net, return_indices=True)
    np.testing.assert_array_equal(kept[0], [0, 2, 3])
    torch.testing.assert_close(small(x), net(x), rtol=1e-5, atol=1e-6)
    # An unknown layer in between (BatchNorm) is a barrier: nothing removed there.
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).eval()
    with torch.no_grad():
        net[2].weight[:, 1] = 0.0
    _, kept = compact(net, return_indices=True)
    assert kept == [None]
    # internally such a boundary keeps every unit (its ``kept`` is never None)
    (boundary,) = _compact_modules([copy.deepcopy(m) for m in net])
    assert boundary.block is None
    np.testing.assert_array_equal(boundary.kept, np.arange(4))


def test_compact_rejects_gated_and_non_sequential_models():
    layer = nn.Linear(3, 2)
    with pytest.raises(TypeError, match="nn.Sequential"):
        compact(layer)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    gate(net[2], "weight", dim=1, D=3)
    with pytest.raises(ValueError, match="collapse_"):
        compact(net)


def test_sgd_collapses_conv_filters_to_exact_zeros_and_compact_removes_them():
    # The user's own network, gated in two lines; plain SGD, no thresholding.
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(256, 1, 8, 8, generator=gen)
    # Planted: the class compares the means of two 4x4 quadrants, which a couple
    # of filters suffice to see.
    y = (X[:, 0, :4, :4].mean((1, 2)) > X[:, 0, 4:, 4:].mean((1, 2))).long()
    net = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))
    dgates = [gate(net[i], "weight", dim=0, D=3, alpha=0.03) for i in (0, 2)]   # filters
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    for _ in range(450):
        for batch in torch.randperm(len(X), generator=gen).split(32):
            loss = nn.functional.cross_entropy(net(X[batch]), y[batch]) + dgating_penalty(net)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        norms = [g.group_norms(net[i].parametrizations.weight.original) for i, g in zip((0, 2), dgates)]
        accuracy = (net(X).argmax(1) == y).float().mean().item()
        before = net(X)
    assert accuracy > 0.85
    for n in norms:
        # Whole filters are exactly 0.0 (the gate product underflows); the others
        # are of order one: nothing in between.
        assert (n == 0).sum() >= 4 and torch.all((n == 0) | (n > 0.1))
    collapse_(net, threshold=0.0)
    small = compact(net)
    widths = [small[0].out_channels, small[2].out_channels]
    assert widths == [int((n > 0).sum()) for n in norms]
    torch.testing.assert_close(small(X), before, rtol=1e-5, atol=1e-5)
    program = torch.export.export(small, (X[:5],))
    torch.testing.assert_close(program.module()(X[:5]), before[:5], rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------------------
# The MLP module: one gate per weight matrix, the penalty formula
# --------------------------------------------------------------------------------------
def test_gate_hidden_gates_every_outgoing_column_once_and_penalty_matches_formula():
    torch.manual_seed(0)
    D, alpha, alpha_hidden = 3, 0.05, 0.2
    module = MLP(6, (5, 4), 2, D=D, alpha=alpha, gate_hidden=True, alpha_hidden=alpha_hidden)
    expected = 0.0
    for k, layer in enumerate(module.layers):
        plist = layer.parametrizations.weight
        assert len(plist) == 1 and isinstance(plist[0], DGate) and plist[0].dim == 1
        g = plist[0]
        assert g.groups.n_groups == layer.in_features  # one group per input / neuron
        with torch.no_grad():
            g.gates.copy_(torch.randn_like(g.gates))
        W = plist.original.detach().double().numpy()
        gates = g.gates.detach().double().numpy()
        a = alpha if k == 0 else alpha_hidden
        expected += a / D * ((W**2).sum() + (gates**2).sum())  # c_j = 1 for single columns
    assert module.penalty().item() == pytest.approx(expected, rel=1e-5)
    assert module.ungated_weights() == []
    # Without gate_hidden only the first layer is gated, as before.
    plain = MLP(6, (5, 4), 2, D=D, alpha=alpha)
    assert [parametrize_count(layer) for layer in plain.layers] == [1, 0, 0]


def parametrize_count(layer):
    return len(layer.parametrizations.weight) if hasattr(layer, "parametrizations") else 0


def test_no_weight_decay_on_gated_hidden_matrices():
    # Every weight matrix is gated, so the l2 weight decay (skorch matches the
    # optimizer's param-group patterns with fnmatch) has nothing to act on; it
    # would otherwise add a second penalty on the neurons' factors.
    gated = MLP(10, (8, 4), 1, D=3, alpha=0.1, gate_hidden=True)
    names = [n for n, _ in gated.named_parameters()]
    assert [n for n in names if fnmatch(n, UNGATED_WEIGHTS)] == []
    plain = MLP(10, (8, 4), 1, D=3, alpha=0.1)
    decayed = [n for n, _ in plain.named_parameters() if fnmatch(n, UNGATED_WEIGHTS)]
    assert decayed == ["layers.1.weight", "layers.2.weight"]


# --------------------------------------------------------------------------------------
# The estimators: neurons die, compress() and predict agree
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["regressor", "classifier"])
def test_neurons_are_removed_and_the_attributes_agree(which, fitted_regressor, fitted_classifier):
    est, X, _ = fitted_regressor if which == "regressor" else fitted_classifier
    net = est.compress()
    assert isinstance(net, nn.Sequential)
    assert all(type(m) in (nn.Linear, nn.ReLU) for m in net)
    widths = [m.out_features for m in net[:-1:2]]
    np.testing.assert_array_equal(est.n_neurons_, widths)
    np.testing.assert_array_equal([m.sum() for m in est.neuron_support_], est.n_neurons_)
    assert est.n_neurons_.dtype.kind == "i" and np.all(est.n_neurons_ < [32, 16])
    assert np.all(est.n_neurons_ >= 1)
    assert net[0].in_features == len(est.selected_features_)
    # The full-size weights (what a warm start continues from, rebuilt from the
    # compact network): removed neurons have zero rows, biases and columns.
    state = est._full_size_state()
    for k, mask in enumerate(est.neuron_support_):
        W_in, b_in = state[f"layers.{k}.weight"].numpy(), state[f"layers.{k}.bias"].numpy()
        W_out = state[f"layers.{k + 1}.weight"].numpy()
        assert np.all(W_in[~mask] == 0) and np.all(b_in[~mask] == 0) and np.all(W_out[:, ~mask] == 0)
        assert np.all(np.abs(W_out[:, mask]).sum(axis=0) > 0)
    np.testing.assert_array_equal(est.coef_[~est.neuron_support_[0]], 0.0)


def test_planted_features_survive_neuron_gating(fitted_regressor, fitted_classifier):
    reg, X, y = fitted_regressor
    np.testing.assert_array_equal(reg.selected_features_, [0, 1, 2])
    assert reg.score(X, y) > 0.9
    clf, Xc, yc = fitted_classifier
    np.testing.assert_array_equal(clf.selected_features_, [0, 1])
    assert clf.score(Xc, np.array(["a", "b", "c"])[yc]) > 0.9


def test_compressed_regressor_predicts_like_the_estimator_and_the_full_network(fitted_regressor):
    est, X, y = fitted_regressor
    with torch.no_grad():
        compact_pred = est.compress()(_sel(est, X)).double().numpy()[:, 0]
        # The full-size network rebuilt for warm starts (standardization inside), unscaled by hand.
        module = MLP(X.shape[1], est.hidden_layer_sizes, 1)
        module.load_state_dict(est._full_size_state())
        mean, inv_scale = est._standardization()
        full_mean, full_scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        full_mean[est.selected_features_], full_scale[est.selected_features_] = mean, 1.0 / inv_scale
        module.standardize_inputs_(full_mean, full_scale)
        full = module.eval()(torch.tensor(X, dtype=torch.float32)).double().numpy()[:, 0]
    full = full * est._y_scale[0] + est._y_mean[0]
    scale = y.std()
    np.testing.assert_allclose(compact_pred / scale, est.predict(X) / scale, rtol=0, atol=1e-5)
    np.testing.assert_allclose(full / scale, est.predict(X) / scale, rtol=0, atol=1e-5)


def test_compressed_classifier_gives_the_estimators_probabilities(fitted_classifier):
    est, X, _ = fitted_classifier
    with torch.no_grad():
        logits = est.compress()(_sel(est, X))
    proba = torch.softmax(logits.double(), dim=1).numpy()
    np.testing.assert_allclose(proba, est.predict_proba(X), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(est.classes_[logits.argmax(1).numpy()], est.predict(X))


def test_compaction_matches_the_gated_network_before_the_read_out(monkeypatch):
    # Just before the read-out, take the gated network, zero the gates of the
    # groups below the documented threshold (relative 1e-3 of each layer's
    # largest group norm, floor 1e-7) by hand and record its outputs: the
    # compact network that predict runs must compute the same function.
    X, y = regression_data(n=200)
    captured = {}
    read_out = DGatingMLPRegressor._read_out

    def capture(self, net, monitor, groups, silent):
        gated = copy.deepcopy(net.module_)
        with torch.no_grad():
            for layer in gated.layers:
                g = layer.parametrizations.weight[0]
                norms = g.group_norms(layer.parametrizations.weight.original)
                cutoff = max(self.threshold * norms.max().item(), 1e-7)
                g.gates[norms <= cutoff] = 0.0
            captured["out"] = gated(torch.tensor(X, dtype=torch.float32)).double().numpy()[:, 0]
        return read_out(self, net, monitor, groups, silent)

    monkeypatch.setattr(DGatingMLPRegressor, "_read_out", capture)
    est = DGatingMLPRegressor(**REG).fit(X, y)
    gated = captured["out"] * est._y_scale[0] + est._y_mean[0]
    np.testing.assert_allclose(est.predict(X) / y.std(), gated / y.std(), rtol=0, atol=1e-5)
    assert np.all(est.n_neurons_ < [32, 16])


def test_compress_after_pickling_and_copies_are_independent(fitted_classifier):
    est, X, _ = fitted_classifier
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    a, b = loaded.compress(), est.compress()
    with torch.no_grad():
        torch.testing.assert_close(a(_sel(est, X)), b(_sel(est, X)))
        a[0].weight.mul_(0.0)  # editing one copy changes neither the other nor predict
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    # One fitted network: predict runs net_.module_, which the pickle carries once.
    assert loaded._compact() is loaded.net_.module_ and loaded.net_.optimizer_ is None


def test_compressed_network_exports(fitted_regressor, tmp_path):
    est, X, _ = fitted_regressor
    net = est.compress()
    x = _sel(est, X[:20])
    with torch.no_grad():
        expected = net(x)
    # torch.export (torch.jit.trace is deprecated in this PyTorch), saved and
    # loaded again: a self-contained program, no skdgating needed to run it.
    # (The batch dimension is left dynamic, so the program takes any number of rows.)
    program = torch.export.export(net, (x,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, str(tmp_path / "net.pt2"))
    loaded = torch.export.load(str(tmp_path / "net.pt2")).module()
    torch.testing.assert_close(loaded(x), expected)
    torch.testing.assert_close(loaded(x[:1]), expected[:1])
    # Only torch.nn classes: torch.save of the whole Sequential loads without skdgating.
    assert all(type(m).__module__.startswith("torch.nn.") for m in net.modules())
    torch.save(net, tmp_path / "net.pt")
    torch.testing.assert_close(torch.load(tmp_path / "net.pt", weights_only=False)(x), expected)


@pytest.mark.skipif(importlib.util.find_spec("onnx") is None or importlib.util.find_spec("onnxscript") is None,
                    reason="ONNX export is optional: onnx and onnxscript are not installed")
def test_compressed_network_exports_to_onnx(fitted_regressor, tmp_path):
    import onnx

    est, X, _ = fitted_regressor
    net = est.compress()
    x = _sel(est, X[:20])
    torch.onnx.export(net, (x,), str(tmp_path / "net.onnx"), dynamo=True)
    model = onnx.load(str(tmp_path / "net.onnx"))
    onnx.checker.check_model(model)
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(tmp_path / "net.onnx"))
        (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
        np.testing.assert_allclose(out, net(x).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_without_gate_hidden_neurons_fed_only_by_dropped_features_are_folded():
    # Nothing gates the neurons, but a neuron whose inputs all left is a constant.
    X, y = regression_data(n=150)
    est = DGatingMLPRegressor(hidden_layer_sizes=(8,), max_epochs=60, alpha=5.0, random_state=0)
    with pytest.warns(UserWarning, match="removed every feature"):
        est.fit(X, y)
    np.testing.assert_array_equal(est.n_neurons_, [0])
    net = est.compress()
    assert net[0].in_features == 0 and sum(p.numel() for p in net.parameters()) == 1  # the output bias
    np.testing.assert_allclose(est.predict(X), est.predict(X)[0])
    dense = DGatingMLPRegressor(hidden_layer_sizes=(8,), max_epochs=5, alpha=1e-4, random_state=0).fit(X, y)
    np.testing.assert_array_equal(dense.n_neurons_, [8])


def test_warm_start_with_gated_neurons_keeps_the_function(fitted_regressor):
    est, X, y = fitted_regressor
    est = copy.deepcopy(est)
    before = est.predict(X)
    # Every gated matrix is re-gated from its balanced factorization.
    est.set_params(warm_start=True, max_epochs=1, learning_rate_init=1e-12).fit(X, y)
    np.testing.assert_allclose(est.predict(X), before, rtol=1e-5, atol=1e-5 * y.std())


def test_alpha_hidden_sets_the_neurons_strength():
    X, y = regression_data(n=200)
    params = dict(hidden_layer_sizes=(16,), gate_hidden=True, max_epochs=60, alpha=0.01, random_state=0)
    weak = DGatingMLPRegressor(alpha_hidden=1e-4, **params).fit(X, y)
    strong = DGatingMLPRegressor(alpha_hidden=0.1, **params).fit(X, y)
    assert strong.n_neurons_[0] < weak.n_neurons_[0] / 2
    params["max_epochs"] = 5
    default = DGatingMLPRegressor(**params).fit(X, y)   # None: alpha_hidden = alpha
    same = DGatingMLPRegressor(alpha_hidden=0.01, **params).fit(X, y)
    np.testing.assert_array_equal(default.predict(X), same.predict(X))


@pytest.mark.parametrize("params,error,match", [
    (dict(gate_hidden="yes"), TypeError, "gate_hidden must be a bool"),
    (dict(alpha_hidden=-0.1), ValueError, "alpha_hidden must be >= 0"),
    (dict(alpha_hidden="big"), TypeError, "alpha_hidden must be a real number"),
    (dict(alpha_hidden=float("inf")), ValueError, "alpha_hidden must be finite"),
])
def test_bad_compaction_parameters(params, error, match):
    X, y = regression_data(n=40, p=4)
    with pytest.raises(error, match=match):
        DGatingMLPRegressor(max_epochs=1, **params).fit(X, y)


def test_compress_before_fit_raises():
    with pytest.raises(NotFittedError):
        DGatingMLPClassifier().compress()


@parametrize_with_checks(
    [DGatingMLPClassifier(hidden_layer_sizes=(8,), gate_hidden=True, alpha=1e-3, max_epochs=10, random_state=0),
     DGatingMLPRegressor(hidden_layer_sizes=(8,), gate_hidden=True, alpha=1e-3, max_epochs=10, random_state=0)],
    expected_failed_checks=lambda est: {"check_sample_weight_equivalence_on_dense_data": (
        "float32 training: integer weights match repeated rows only to ~1e-7 relative "
        "(as for gate_hidden=False, see tests/test_mlp.py)")},
)
def test_sklearn_compatible_with_gated_neurons(estimator, check):
    check(estimator)
