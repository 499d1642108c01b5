"""The MLP path core's two trainers of the per-split paths: stacked (one network) and sequential.

Oracle: the planted support. On a problem whose target depends on columns 0, 1, 2
only, the cross-validated search must choose that support with the splits' paths
trained one by one (``_warm_path``) and with them stacked in one network
(``_stacked_path.stacked_paths``), and both must return the same records.
"""

import numpy as np
import pytest

from skdgating import _mlp_path
from skdgating.mlp import DGatingMLPClassifier, DGatingMLPRegressor

from _planted import regression_data

PLANTED = [0, 1, 2]


def _search(template, X, y, stacked, monkeypatch):
    monkeypatch.setattr(_mlp_path, "STACK_SPLITS", stacked)
    calls = []
    if stacked:  # the stacked trainer really ran (not the sequential fallback)
        from skdgating import _stacked_path

        real = _stacked_path.stacked_paths
        monkeypatch.setattr(_stacked_path, "stacked_paths", lambda *a, **k: calls.append(1) or real(*a, **k))
    search = _mlp_path.choose_alpha(template, X, y, None, cv=3, alphas=6, selection="min", random_state=0)
    assert len(calls) == int(stacked)
    return search


@pytest.mark.parametrize("classification", [False, True])
def test_stacked_and_sequential_paths_choose_the_planted_support(classification, monkeypatch):
    X, y = regression_data(n=300)
    params = dict(hidden_layer_sizes=(8,), max_epochs=40, random_state=0, alpha=0.0)
    if classification:
        y = (2 * np.sin(X[:, 0]) + X[:, 1] + X[:, 2] > 0).astype(int)
        template = DGatingMLPClassifier(**params)
    else:
        template = DGatingMLPRegressor(**params)
    sequential = _search(template, X, y, False, monkeypatch)
    stacked = _search(template, X, y, True, monkeypatch)
    for search in (sequential, stacked):
        np.testing.assert_array_equal(np.flatnonzero(search["consensus_support"]), PLANTED)
    # The same records: one loss per validation row, every split, every alpha.
    for key in ("alphas", "budget", "n_splits"):
        np.testing.assert_array_equal(stacked[key], sequential[key])
    assert stacked["fold_valid_loss"].shape == sequential["fold_valid_loss"].shape
    assert stacked["settled"].shape == sequential["settled"].shape
    # The sparse end is empty in both (every column removed).
    assert stacked["n_selected"][:, 0].sum() == sequential["n_selected"][:, 0].sum() == 0
    # Both trainers kept the chosen models' penalized state, from which the folds judged
    # the final network's relaxation: one cycle of 1 round, then of 2 (budget permitting).
    for search in (sequential, stacked):
        if template.max_epochs // search["budget"][1] >= 2:
            np.testing.assert_array_equal(search["relaxed_lengths"][:2], [1, 2])
            assert np.isfinite(search["relaxed_valid_loss"]).all()


def test_stacked_splits_take_the_sgd_steps_of_their_own_paths(monkeypatch):
    """Each stacked model takes as many SGD steps per round as its split's sequential
    path (``budget`` epochs of ``ceil(fold_rows / batch_size)`` steps), counted from
    the batches of every stacked training call: the penalty acts per step, so the two
    trainers must reach the same models (with the splits' own batch size, 2 rounds of
    2 stacked epochs on 400 rows were 26 steps where 320 fold rows give 20)."""
    import math

    from skdgating import _stacked_path

    X, y = regression_data(n=400)
    splits = [(np.setdiff1d(np.arange(400), valid), valid) for valid in np.array_split(np.arange(400), 5)]
    template = DGatingMLPRegressor(hidden_layer_sizes=(4,), batch_size=32, random_state=0, alpha=0.0)
    budget = _mlp_path.Budget(first_epochs=4, round_epochs=2, max_epochs=4, name="max_epochs")
    calls, real = [], _stacked_path.train_stacked

    def counting(X_, y_, masks, alphas, params, **kwargs):
        fits = real(X_, y_, masks, alphas, params, **kwargs)
        calls.append(params["max_epochs"] * math.ceil(len(y_) / params["batch_size"]))
        return fits

    monkeypatch.setattr(_stacked_path, "train_stacked", counting)
    _stacked_path.stacked_paths(template, X, y, None, splits, np.array([0.01, 0.1]), budget)
    per_epoch = math.ceil(320 / 32)  # each split's own path: 320 training rows at batch 32
    assert calls[0] == budget.first_epochs * per_epoch
    assert set(calls[1:]) == {budget.round_epochs * per_epoch}


def test_a_lean_search_trains_exactly_the_full_search_path_models(monkeypatch):
    """Oracle: the full search (every model scored). A lean search stacks fewer relaxed
    copies beside the path's models. A model's float32 results depend in the last bits
    on its place in the stacked network (on digits with probes, 2e-8 in the first-layer
    weights after 2 epochs; with the relaxed copies first, a lean search there trained
    other path models than the full one from the 5th alpha and chose alpha 0.016
    instead of 0.027), so the path's models come first in every stacked call, and the
    lean search's models are bitwise those of the full search on its prefix."""
    from skdgating import _stacked_path

    X, y = regression_data(n=300, p=12)
    template = DGatingMLPRegressor(hidden_layer_sizes=(8,), max_epochs=40, random_state=0, alpha=0.0)
    splits = _mlp_path.make_splits(template, X, y, 3, 0)
    budget = _mlp_path.Budget(first_epochs=10, round_epochs=2, max_epochs=6, name="max_epochs")
    grid = _mlp_path.alpha_grid_for(template, 200, 8, budget)
    calls, real = [], _stacked_path.train_stacked

    def recording(X_, y_, masks, alphas, params, **kwargs):
        calls.append(np.asarray(alphas))
        return real(X_, y_, masks, alphas, params, **kwargs)

    monkeypatch.setattr(_stacked_path, "train_stacked", recording)
    lean = _stacked_path.stacked_paths(template, X, y, None, splits, grid, budget, lean=True)
    for alphas in calls:  # the path's models (alpha > 0), then the relaxed copies (alpha = 0)
        assert np.all(np.diff((alphas == 0).astype(int)) >= 0), alphas
    assert any(np.isnan(m.valid_losses).all() for path in lean for m in path)  # some copies were not trained
    full = _stacked_path.stacked_paths(template, X, y, None, splits, grid, budget, lean=False)
    for lean_path, full_path in zip(lean, full):
        for a, b in zip(lean_path, full_path):
            np.testing.assert_array_equal(a.group_norms, b.group_norms)


@pytest.mark.parametrize("stacked", [True, False])
def test_the_final_model_keeps_the_planted_support_and_withheld_columns_out(stacked, monkeypatch):
    """Oracles: the planted support, and the consensus rule (a column the folds did not
    agree on has exactly zero weights in the final network, however much signal it
    carries). ``fit_final`` after a stacked and after a sequential search."""
    X, y = regression_data(n=300)
    template = DGatingMLPRegressor(hidden_layer_sizes=(8,), max_epochs=40, random_state=0, alpha=0.0)
    monkeypatch.setattr(_mlp_path, "STACK_SPLITS", stacked)
    search = _mlp_path.choose_alpha(template, X, y, None, cv=3, alphas=6, selection="min", random_state=0)
    final = _mlp_path.fit_final(template, X, y, None, search)
    np.testing.assert_array_equal(final.selected_features_, PLANTED)
    assert final.score(X, y) > 0.8
    # Column 0 (2 sin(x0), the strongest) outside the consensus: exactly zero, the rest kept.
    withheld = dict(search, screened_support=np.isin(np.arange(X.shape[1]), PLANTED[1:]))
    final = _mlp_path.fit_final(template, X, y, None, withheld)
    assert np.all(final.coef_[:, 0] == 0.0)
    np.testing.assert_array_equal(final.selected_features_, PLANTED[1:])
