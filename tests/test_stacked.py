"""Tests of stacked training (skdgating._training.train_stacked): K D-gated MLPs in one net.

Oracles: the single-model estimators. With one model on every row and the same
random_state, the stacked network runs the same maths on the same batches from
the same initialization, so its loss curve, weights and predictions must match
the estimator's to float32 tolerance (batched matmuls round differently from
``F.linear``). With K folds or K alphas, every model must select what K
separate fits select, and the planted support.
"""

import warnings

import numpy as np
import pytest
import torch
from sklearn.model_selection import KFold

from skdgating._modules import MLP, StackedLoss, StackedMLP
from skdgating._training import train_stacked
from skdgating.groups import make_groups
from skdgating.mlp import DGatingMLPClassifier, DGatingMLPRegressor

from _planted import regression_data

PLANTED = [0, 1, 2]
PARAMS = dict(hidden_layer_sizes=(32,), max_epochs=60, alpha=0.05, random_state=0)


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("task", ["classification", "regression", "two targets"])
@pytest.mark.parametrize("D, groups", [(3, None), (2, None), (4, [2, 3, 1, 2]), (3, "unpenalized")])
def test_hand_written_backward_is_autograds(activation, task, D, groups):
    # oracle: autograd on the same network (the batch loss summed over the models,
    # backward, then the closed-form penalty gradient), the step StackedMLP.backprop_
    # replaces. Three models with their own alphas, standardizations, weights and a
    # dropped group (gates exactly zero), on a batch with sample weights.
    rng = torch.Generator().manual_seed(0)
    n_features, K, B = 8, 3, 11
    weights = "sqrt_size"
    if groups == "unpenalized":  # a weight-0 group is neither penalized nor gated
        groups, weights = [3, 5], np.array([0.0, 1.0])
    spec = make_groups(groups, n_features, weights)
    n_out = {"classification": 3, "regression": 1, "two targets": 2}[task]
    modules = []
    for k in range(K):
        torch.manual_seed(k)
        module = MLP(n_features, (6, 5), n_out, activation=activation, D=D, groups=spec)
        dgate, _ = module.dgate(0)
        with torch.no_grad():
            dgate.gates.mul_(1.0 + 0.3 * torch.rand(dgate.gates.shape, generator=rng))
        if k == 1 and spec.penalized[-1]:  # a dropped group: its factors are zero (load_effective_)
            module.load_effective_({**module.state_dict(), "layers.0.weight": module.layers[0].weight
                                    * torch.as_tensor(spec.feature_group != spec.n_groups - 1)})
        modules.append(module)
    shift, inv = torch.randn(K, n_features, generator=rng), 1.0 + torch.rand(K, n_features, generator=rng)
    stacked = StackedMLP(modules, [0.01, 0.1, 0.5], shift.numpy(), inv.numpy())
    X = torch.randn(B, n_features, generator=rng)
    w = torch.rand(B, K, generator=rng) * 2
    if task == "classification":
        y, criterion = torch.randint(0, n_out, (B,), generator=rng), StackedLoss()
    else:
        y = torch.randn(B, n_out, generator=rng)
        criterion = StackedLoss(np.random.RandomState(0).randn(K, n_out), 1.0 + np.random.RandomState(1).rand(K, n_out))
    params = list(stacked.parameters())

    loss = (criterion(stacked(X), y) * w.T).mean(dim=1)
    loss.sum().backward()
    stacked.add_penalty_grad_()
    expected = [p.grad.clone() for p in params]
    for p in params:
        p.grad = None
    losses = stacked.backprop_(X, y, w, criterion)
    torch.testing.assert_close(losses, loss.detach(), rtol=1e-5, atol=1e-6)
    for (name, p), g in zip(stacked.named_parameters(), expected):
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-6, msg=name)
    if spec.penalized[-1]:  # the dropped group stays at zero
        assert torch.all(stacked.gates[1, -1] == 0) and torch.all(stacked.gates.grad[1, -1] == 0)
        assert torch.all(stacked.omega.grad[1][:, spec.feature_group == spec.n_groups - 1] == 0)


@pytest.mark.parametrize("classification", [False, True])
def test_one_stacked_model_is_the_single_model_trainer(classification):
    X, y = regression_data(n=200)
    params = dict(hidden_layer_sizes=(16,), max_epochs=15, alpha=0.05, random_state=3)
    if classification:
        y = (X[:, 0] * X[:, 1] + X[:, 2] > 0).astype(np.int64)
        est = DGatingMLPClassifier(**params)
    else:
        est = DGatingMLPRegressor(**params)
    sw = np.random.RandomState(0).rand(len(y)) + 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y, sample_weight=sw)
        torch_state = torch.get_rng_state()
        (fit,) = train_stacked(X, y, np.ones((1, len(y)), bool), [est.alpha], est.get_params(),
                               classification=classification, sample_weight=sw)
    assert torch.equal(torch.get_rng_state(), torch_state)  # the global RNG is untouched
    np.testing.assert_allclose(fit.loss_curve, est.loss_curve_, rtol=1e-4)
    np.testing.assert_allclose(fit.coef, est.coef_, atol=1e-3)
    np.testing.assert_array_equal(fit.support, est.support_)
    if classification:
        logits = fit.decision(X)
        proba = np.exp(logits - logits.max(axis=1, keepdims=True))
        np.testing.assert_allclose(proba / proba.sum(axis=1, keepdims=True), est.predict_proba(X), atol=1e-3)
    else:
        np.testing.assert_allclose(fit.decision(X)[:, 0], est.predict(X), atol=1e-3)


def test_folds_and_alphas_select_what_separate_fits_select():
    X, y = regression_data(n=300)
    folds = list(KFold(3, shuffle=True, random_state=0).split(X))
    masks = np.zeros((3, len(y)), bool)
    for k, (train, _) in enumerate(folds):
        masks[k, train] = True
    params = DGatingMLPRegressor(**PARAMS).get_params()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stacked = train_stacked(X, y, masks, [PARAMS["alpha"]] * 3, params, classification=False)
        separate = [DGatingMLPRegressor(**PARAMS).fit(X[train], y[train]) for train, _ in folds]
    for fit, est in zip(stacked, separate):
        np.testing.assert_array_equal(np.flatnonzero(fit.support), est.selected_features_)
        np.testing.assert_array_equal(np.flatnonzero(fit.support), PLANTED)

    # A grid of alphas on the same rows: dense, planted, empty.
    alphas = [0.005, 0.05, 5.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stacked = train_stacked(X, y, np.ones((3, len(y)), bool), alphas, params, classification=False)
        separate = [DGatingMLPRegressor(**{**PARAMS, "alpha": a}).fit(X, y) for a in alphas]
    for fit, est in zip(stacked, separate):
        assert fit.alpha == est.alpha
        np.testing.assert_array_equal(fit.support, est.support_)
    assert stacked[1].support[PLANTED].all() and stacked[1].support.sum() == 3
    assert not stacked[2].support.any()


def test_warm_start_continues_like_the_estimators():
    X, y = regression_data(n=150)
    params = dict(hidden_layer_sizes=(8,), max_epochs=8, alpha=0.02, random_state=1)
    est = DGatingMLPRegressor(warm_start=True, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
        first = train_stacked(X, y, np.ones((1, 150), bool), [0.02], est.get_params(), classification=False)
        est.set_params(alpha=0.06).fit(X, y)
        second = train_stacked(X, y, np.ones((1, 150), bool), [0.06], est.get_params(),
                               classification=False, warm_start_from=first)
    np.testing.assert_allclose(second[0].loss_curve, est.loss_curve_, rtol=1e-4)
    np.testing.assert_array_equal(second[0].support, est.support_)


@pytest.mark.parametrize("change, message", [
    (dict(train_masks=np.ones((2, 20), bool)), "train_masks must have shape"),
    (dict(train_masks=np.zeros((1, 20), bool)), "at least one training row"),
    (dict(params={"gate_hidden": True}), "gate_hidden"),
])
def test_bad_input_is_refused(change, message):
    X, y = regression_data(n=20)
    args = dict(train_masks=np.ones((1, 20), bool), params={})
    args.update(change)
    params = {**DGatingMLPRegressor(max_epochs=1).get_params(), **args["params"]}
    with pytest.raises(ValueError, match=message):
        train_stacked(X, y, args["train_masks"], [0.1], params, classification=False)


def test_a_column_constant_on_one_models_rows_trains_every_model():
    # Column 0 holds one value on model 0's rows, a value float64 cannot represent
    # (0.3: the mean of 89 copies differs from it in the last bits, so the computed
    # variance is about 5e-32, not 0), and other values on the other rows. Its std on
    # model 0's rows must count as 0 (scale 1), or those other rows, which share model
    # 0's batches with weight 0, standardize to about 1e16 and make its loss non-finite
    # (digits with probes: the default fit raised "The training loss diverged").
    rng = np.random.RandomState(0)
    X = rng.standard_normal((178, 4))
    y = (X[:, 1] + X[:, 2] > 0).astype(np.int64)
    masks = np.zeros((2, len(y)), bool)
    masks[0, :89], masks[1, 89:] = True, True
    X[:89, 0] = 0.3
    from skdgating._training import weighted_mean_std

    _, std = weighted_mean_std(X[:89])
    assert std[0] == 1.0  # constant on these rows: scale 1, as for an exact zero variance
    fits = train_stacked(X, y, masks, [0.01, 0.01], {**DGatingMLPClassifier(**PARAMS).get_params(), "alpha": 0.01},
                         classification=True)
    assert all(np.isfinite(fit.loss_curve).all() for fit in fits)
    assert all(np.isfinite(fit.decision(X)).all() for fit in fits)


@pytest.mark.parametrize("standardize", [True, False])
def test_a_column_constant_on_one_models_rows_gets_exactly_zero_weights_there(standardize):
    # Oracle: as in the estimators (tests/test_mlp.py), a column with one value on a
    # model's training rows carries nothing for that model: its weights are exactly zero
    # and its values on other rows (a fold's validation rows) leave the model's outputs
    # unchanged, while the model that sees the column vary keeps it (alpha=0: nothing
    # else removes a column).
    X, y = regression_data(n=200)
    X = X.copy()
    masks = np.ones((2, len(y)), bool)
    masks[0, 100:] = False
    X[:100, 4] = 3.0 if standardize else 0.0
    params = DGatingMLPRegressor(hidden_layer_sizes=(8,), max_epochs=10, alpha=0.0, standardize=standardize,
                                 random_state=0).get_params()
    fits = train_stacked(X, y, masks, [0.0, 0.0], params, classification=False)
    assert not fits[0].coef[:, 4].any() and not fits[0].support[4]
    assert fits[1].support[4]
    X_new = X.copy()
    X_new[:, 4] = 100.0
    np.testing.assert_array_equal(fits[0].decision(X_new), fits[0].decision(X))
