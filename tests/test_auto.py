"""alpha="auto": the MLP estimators choose their own penalty (skdgating._mlp_path)."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skdgating import DGatingMLPClassifier, DGatingMLPRegressor, EmptyModelWarning, dgating_path
from skdgating._mlp_path import (MAX_EPOCH_STEPS, MIN_EXPOSURE, MIN_FIRST_STEPS, Budget, PathModel, choose_alpha,
                                 one_se_rule, path_is_done, permutation_screen, steps_per_epoch)
from skdgating.groups import make_groups

from _planted import regression_data

# Small network and budget: the planted support below is found in a few seconds.
AUTO = dict(hidden_layer_sizes=(16,), max_epochs=40)


@pytest.fixture(scope="module")
def planted():
    X, y = regression_data(seed=0, n=300, p=8)  # y depends on columns 0, 1, 2 only
    est = DGatingMLPRegressor(random_state=0, **AUTO).fit(X, y)
    return est, X, y


def test_auto_is_the_default_and_finds_the_planted_support(planted):
    est, X, y = planted
    assert DGatingMLPRegressor().get_params()["alpha"] == "auto"
    np.testing.assert_array_equal(est.selected_features_, [0, 1, 2])
    search = est.alpha_search_
    assert est.alpha_ == search["alpha"] and est.alpha_ in search["alphas"]
    # the final network's alpha is the rule's choice, or its denser neighbour when columns were recovered there
    recovered = search["recovered_support"].any()
    after_chosen = search["alphas"][list(search["alphas"]).index(search["alpha_chosen"]) + recovered]
    assert search["alpha"] == after_chosen and not (search["recovered_support"] & ~search["screened_support"]).any()
    assert np.all(np.diff(search["alphas"]) < 0)  # decreasing, like every path
    n_alphas = len(search["alphas"])
    assert search["n_selected"].shape == (search["n_splits"], n_alphas)
    assert search["selection_frequency"].shape == (n_alphas, 8)
    assert search["mean_valid_loss"].shape == search["se_valid_loss_diff"].shape == (n_alphas,)
    # the consensus of the folds at alpha_ is the planted support too
    np.testing.assert_array_equal(np.flatnonzero(search["consensus_support"]), [0, 1, 2])
    # and every planted column raises the folds' validation loss when shuffled
    np.testing.assert_array_equal(np.flatnonzero(search["screened_support"]), [0, 1, 2])
    assert est.score(X, y) > 0.8


@pytest.mark.parametrize("seed", [1, 2])
def test_alpha_refits_to_the_same_support(planted, seed):
    # alpha_ is a point on a dense-to-sparse path, not a seed's luck: the path over
    # the recorded grid up to alpha_, trained with other seeds than the search used,
    # ends at the same columns.
    est, X, y = planted
    alphas = est.alpha_search_["alphas"]
    path = dgating_path(DGatingMLPRegressor(random_state=seed, **AUTO), X, y, alphas=alphas[alphas <= est.alpha_])
    assert path.alphas[0] == est.alpha_
    np.testing.assert_array_equal(np.flatnonzero(path.supports[0]), est.selected_features_)


def test_the_final_path_trains_each_alpha_at_least_as_long_as_the_median_fold(planted, monkeypatch):
    # The rule, checked on the record: at every alpha after the dense start, the path of
    # the final network (withheld columns zero from its first step, so no column leaves
    # it to keep its rounds going) trains at least the SGD steps of the median fold's
    # model there: its epochs times fold steps per epoch over all-rows steps per epoch.
    from skdgating import _mlp_path

    est, X, y = planted
    search = est.alpha_search_
    captured = {}
    train_paths = _mlp_path.train_paths

    def capture(*args, **kwargs):
        (captured["path"],) = train_paths(*args, **kwargs)
        return [captured["path"]]

    monkeypatch.setattr(_mlp_path, "train_paths", capture)
    _mlp_path.fit_final(DGatingMLPRegressor(random_state=0, alpha=0.0, **AUTO), X, y, None, search)
    path = captured["path"]
    assert path[-1].alpha == search["alpha"]
    ratio = search["fold_steps_per_epoch"] / steps_per_epoch(len(y), est.batch_size)
    fold_epochs = np.median(np.flip(search["n_epochs"], axis=-1), axis=0)
    assert any(epochs > search["budget"][1] for epochs in fold_epochs[1:len(path)])  # a floor that binds
    for model, epochs in zip(path[1:], fold_epochs[1:]):
        assert model.n_epochs >= round(epochs * ratio)


def test_final_network_trains_the_relaxed_rounds_the_folds_chose(planted):
    # The rule, checked by hand on the record: the folds' chosen models were relaxed at
    # alpha=0 for one cycle of 1, 2, 4, ... rounds; the chosen length has the lowest
    # pooled validation loss, and the doubling stopped at the first length that did not
    # lower it (or before exceeding max_epochs). The final network's last fit (at
    # alpha=0) was one cycle of that many rounds, in all-rows epochs that give each
    # round the folds' SGD steps.
    est, X, y = planted
    search = est.alpha_search_
    curve, lengths, rounds = search["relaxed_valid_loss"], search["relaxed_lengths"], search["relaxed_rounds"]
    np.testing.assert_array_equal(lengths, 2 ** np.arange(len(curve)))
    assert rounds == lengths[int(np.argmin(curve))]
    fold_steps = search["fold_steps_per_epoch"]
    max_rounds = int(est.max_epochs * min(1.0, MAX_EPOCH_STEPS / fold_steps)) // search["budget"][1]
    stopped = len(curve) > 1 and curve[-1] >= curve[:-1].min()
    assert stopped or 2 * lengths[-1] > max_rounds
    assert np.all(np.diff(curve[:-1]) < 0)  # every doubling before the last lowered the loss
    ratio = search["fold_steps_per_epoch"] / steps_per_epoch(len(y), est.batch_size)
    assert est.n_iter_ == max(1, round(search["budget"][1] * ratio)) * rounds


@pytest.mark.parametrize("n_train, longest", [(200, 128), (33334, 8)])
def test_relaxation_lengths_stop_at_max_epochs_of_capped_steps(monkeypatch, n_train, longest):
    # A relaxation whose folds' loss keeps falling (a stand-in for the stacked one) makes
    # the doubling run to its cap: max_epochs fold epochs of at most MAX_EPOCH_STEPS SGD
    # steps, as the search's budgets count them. Written out in steps: 200 epochs of 7
    # steps (200 rows at batch 32) allow 1,400 steps, so 128 rounds of one epoch; 1,042
    # steps per epoch (33,334 rows) allow 200 * 50 = 10,000 steps, so 8 rounds, where
    # plain epochs allowed 128 (133,000 steps per fold).
    from skdgating import _stacked_path
    from skdgating._mlp_path import relaxed_rounds
    from skdgating._training import StackedFit

    n_valid = 10
    monkeypatch.setattr(_stacked_path, "stacked_relaxation",
                        lambda *args: (lambda rounds: np.full(3 * n_valid, 1.0 / rounds)))
    start = StackedFit.__new__(StackedFit)
    models = [PathModel(alpha=0.1, support=np.ones(2, bool), group_norms=np.ones(2), n_selected=2, n_epochs=1,
                        settled=True, valid_losses=np.full(n_valid, 2.0), start=start) for _ in range(3)]
    splits = [(np.arange(n_train), np.arange(n_valid))] * 3
    template = DGatingMLPRegressor(max_epochs=200, batch_size=32)
    rounds, curve, lengths = relaxed_rounds(template, None, None, None, splits, models,
                                            Budget(10, 1, 20, "max_epochs"))
    assert lengths[-1] == longest == rounds
    np.testing.assert_array_equal(lengths, 2 ** np.arange(len(lengths)))


def test_small_data_mid_path_models_settle_and_probes_stay_out():
    # wine (133 training rows: 3 SGD steps per fold epoch) with one probe per real
    # column. When a later alpha got only half of max_epochs in fold epochs (300 steps)
    # the mid-path models were still losing features in some fold at 3 of the 8 exposed
    # alphas here, and only sparser models could be chosen (4 of 13 real columns, held-out
    # accuracy 0.956; now 7 and 0.978). Oracles: the search record (every alpha the
    # penalty has acted on, exposure >= 1 in every fold, settled in every fold), the
    # probes (permuted columns, no information about y) and held-out rows.
    X, y = load_wine(return_X_y=True)
    rng = np.random.RandomState(0)
    X = StandardScaler().fit_transform(np.hstack([X, np.column_stack([rng.permutation(col) for col in X.T])]))
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=1)
    est = DGatingMLPClassifier(hidden_layer_sizes=(16,), random_state=0).fit(X_train, y_train)
    search = est.alpha_search_
    assert search["fold_steps_per_epoch"] == 3
    exposed = search["exposure"].min(axis=0) >= MIN_EXPOSURE
    np.testing.assert_array_equal(search["settled"].all(axis=0)[exposed], True)
    np.testing.assert_array_equal(search["eligible"], exposed)
    assert np.sum(est.selected_features_ >= 13) <= 1
    assert est.score(X_test, y_test) >= 0.95


@pytest.mark.parametrize("n_rows, max_epochs", [(30, 5), (120, 200), (300, 40), (1000, 200), (5000, 200),
                                                (30000, 200)])
def test_search_budget_is_counted_in_sgd_steps(n_rows, max_epochs):
    # The penalty acts per SGD step (METHOD.md 5.5): a later alpha may train at least as
    # many steps as the dense start, which never trains more steps than a single fit of
    # max_epochs epochs on all the rows (3 folds: 2/3 of the rows per fold).
    fold, all_rows = steps_per_epoch(n_rows * 2 // 3, 32), steps_per_epoch(n_rows, 32)
    budget = Budget.for_data(max_epochs, fold, all_rows_steps_per_epoch=all_rows)
    assert budget.max_epochs >= budget.first_epochs
    assert budget.max_epochs >= 2 * budget.round_epochs
    assert budget.first_epochs * fold <= max_epochs * all_rows
    # epochs of at most MAX_EPOCH_STEPS steps: never fewer steps than half of max_epochs
    # such epochs per alpha, and on large data no more for the dense start than a quarter
    epoch = min(fold, MAX_EPOCH_STEPS)
    assert budget.max_epochs * fold >= max_epochs // 2 * epoch - fold  # (rounded to whole epochs)
    assert budget.first_epochs * fold <= max(MIN_FIRST_STEPS, max_epochs // 4 * epoch) + fold


def test_permutation_screen_against_the_importance_of_a_known_linear_model():
    # Oracle (the algebra of shuffling): a model predicting x @ beta for y = x @ beta + noise,
    # with independent standard normal columns, loses in expectation 2 * beta_j**2 of
    # squared error (here in units of the training targets' variance) when column j
    # is shuffled; a column the model does not use loses exactly nothing, and a column
    # the fold dropped (norm 0) is not shuffled. Both folds use the same model here.
    from sklearn.linear_model import LinearRegression

    rng = np.random.RandomState(0)
    beta = np.array([1.0, 0.5, 0.2, 0.0, 0.0])
    X = rng.standard_normal((40000, 5))
    y = X @ beta + rng.standard_normal(40000)
    model = LinearRegression().fit(X, y)
    model.coef_, model.intercept_ = beta, 0.0
    half = np.arange(20000)
    splits = [(half, half + 20000), (half + 20000, half)]
    norms = np.array([1.0, 1.0, 1.0, 1.0, 0.0])  # column 3 kept but unused, column 4 dropped
    fold = PathModel(alpha=0.1, support=norms > 0, group_norms=norms, n_selected=4, n_epochs=1, settled=True,
                     relaxed=model)
    importance, se = permutation_screen(DGatingMLPRegressor(), make_groups(None, 5), X, y, splits, [fold, fold],
                                        random_state=0)
    expected = 2 * beta**2 / y.var()
    assert np.all(np.abs(importance[:3] - expected[:3]) < 4 * se[:3])
    assert np.all(importance[:3] > 10 * se[:3])
    np.testing.assert_array_equal(importance[3:], 0.0)
    np.testing.assert_array_equal(se[3:], 0.0)
    # only: the other groups are not shuffled (0); the tested one keeps its expected importance
    only, _ = permutation_screen(DGatingMLPRegressor(), make_groups(None, 5), X, y, splits, [fold, fold],
                                 random_state=0, only=np.arange(5) == 1)
    np.testing.assert_array_equal(only[[0, 2, 3, 4]], 0.0)
    assert abs(only[1] - expected[1]) < 4 * se[1]
    # An empty fold model (no relaxed copy) ignores X: its rows add 0, halving the pooled mean.
    empty = PathModel(alpha=1.0, support=norms < 0, group_norms=0 * norms, n_selected=0, n_epochs=1, settled=True)
    half_importance, _ = permutation_screen(DGatingMLPRegressor(), make_groups(None, 5), X, y, splits, [fold, empty],
                                            random_state=0)
    assert np.all(np.abs(half_importance[:3] - expected[:3] / 2) < 4 * se[:3])


def test_recovery_takes_only_the_columns_every_denser_model_clearly_uses():
    # Oracle: the planted coefficients of y = x0 + 0.3 x1 + 0.5 x4 + noise. At the chosen
    # alpha the folds kept column 0 only. At the denser neighbour every fold's model is least
    # squares on its training rows over columns 0-3 (2 and 3 are noise), and one fold's also
    # uses column 4. Recovered: column 1 (weak but real, in every model) and nothing else:
    # not the noise columns (importance 0 in expectation on held-out rows), not column 4
    # (one fold of three is no consensus), not column 0 (already kept).
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import KFold

    from skdgating._mlp_path import RECOVERY_LEVEL, recovered_columns

    class OnColumns(RegressorMixin, BaseEstimator):
        def __init__(self, columns=()):
            self.columns = columns

        def fit(self, X, y):
            self.model_ = LinearRegression().fit(X[:, list(self.columns)], y)
            return self

        def predict(self, X):
            return self.model_.predict(X[:, list(self.columns)])

    rng = np.random.RandomState(0)
    X = rng.standard_normal((3000, 6))
    y = X[:, 0] + 0.3 * X[:, 1] + 0.5 * X[:, 4] + rng.standard_normal(3000)
    splits = list(KFold(3, shuffle=True, random_state=0).split(X))
    groups = make_groups(None, 6)

    def neighbour(columns, train):
        support = np.isin(np.arange(6), columns)
        return PathModel(alpha=0.05, support=support, group_norms=support * 1.0, n_selected=len(columns), n_epochs=1,
                         settled=True, relaxed=OnColumns(columns).fit(X[train], y[train]))

    models = [neighbour([0, 1, 2, 3, 4] if k == 0 else [0, 1, 2, 3], train) for k, (train, _) in enumerate(splits)]
    screened = np.isin(np.arange(6), [0])
    recovered = recovered_columns(DGatingMLPRegressor(), groups, X, y, splits, models, screened, random_state=0)
    np.testing.assert_array_equal(np.flatnonzero(recovered), [1])
    # the bound is Bonferroni's over the 6 penalized columns; the noise columns stay well below it
    from scipy.stats import norm

    importance, se = permutation_screen(DGatingMLPRegressor(), groups, X, y, splits, models, random_state=0)
    z = norm.isf(RECOVERY_LEVEL / 6)
    assert importance[1] > 3 * z * se[1] and np.all(importance[[2, 3]] < z * se[[2, 3]])
    # A neighbour whose models were not scored (no relaxed copy) recovers nothing.
    models[1].relaxed = None
    assert not recovered_columns(DGatingMLPRegressor(), groups, X, y, splits, models, screened, random_state=0).any()


def test_one_se_rule_against_hand_computed_values():
    # oracle: paired differences computed by hand on three alphas (increasing)
    losses = np.array([[1.0, 1.1, 3.0], [2.0, 1.9, 3.0], [1.0, 1.2, 3.0], [2.0, 1.95, 3.0]])
    best, chosen, mean, se = one_se_rule(losses)
    assert best == 0
    d = losses[:, 1] - losses[:, 0]          # 0.1, -0.1, 0.2, -0.05: mean 0.0375
    assert se[1] == pytest.approx(d.std(ddof=1) / 2)  # 0.0688 >= 0.0375: within one SE
    assert chosen == 1
    # one more row that the sparser model gets wrong by 0.3 puts it outside
    worse = np.vstack([losses, [1.0, 1.3, 3.0]])
    assert one_se_rule(worse)[1] == 0
    np.testing.assert_allclose(mean, losses.mean(axis=0))
    # an alpha that is not eligible (its models did not settle) is never chosen
    assert one_se_rule(losses, eligible=np.array([True, False, True]))[1] == 0


@pytest.mark.parametrize("Estimator", [DGatingMLPClassifier, DGatingMLPRegressor])
def test_pure_noise_gives_the_empty_model_with_a_warning_that_says_why(Estimator):
    # Planted: y is independent of X, so the right selection is no column. Every column
    # leaves as soon as the penalty has acted (no model with features is ever a
    # candidate); the budget fallback used to take that for "too few steps" and chose
    # the densest alpha, all 10 columns kept (as on ISLR Smarket with probes: 7 real and
    # 7 probe columns). With fewer rows a model with features can be scored and lose
    # to the empty one; the warning then used to say "alpha=0 ... Decrease alpha".
    rng = np.random.RandomState(0)
    X = rng.standard_normal((1000, 10))
    y = rng.randint(0, 2, len(X)) if Estimator is DGatingMLPClassifier else rng.standard_normal(len(X))
    with pytest.warns(EmptyModelWarning, match="no column lowered the validation loss") as caught:
        est = Estimator(random_state=0).fit(X, y)
    assert est.selected_features_.size == 0 and not est.coef_.any()
    assert not any("Decrease alpha" in str(w.message) for w in caught)  # the user chose no alpha
    assert caught[0].filename == __file__  # the user's line
    search = est.alpha_search_
    assert search["mean_n_selected"][search["index"]] == 0 and search["eligible"][search["index"]]


def test_a_final_network_that_loses_the_folds_columns_says_so_in_its_own_words():
    # A search record written by hand: the folds agreed on column 0 at alpha=1. y does not
    # depend on X, so the network on all rows loses the column along its path. The only
    # warning used to be its relaxation's "alpha=0 removed every feature ... Decrease
    # alpha" (seen on make_classification(1000, 20, n_informative=3, weights=[0.97],
    # random_state=1) with random_state=1, the folds agreeing on one column at 0.18).
    from skdgating._mlp_path import fit_final

    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((300, 4)), rng.standard_normal(300)
    template = DGatingMLPRegressor(hidden_layer_sizes=(8,), max_epochs=20, alpha=0.0, random_state=0)
    search = {"alphas": np.array([1.0, 0.1]), "alpha": 1.0, "screened_support": np.array([True, False, False, False]),
              "fold_steps_per_epoch": 7, "budget": (20, 2, 20), "relaxed_rounds": 1, "n_epochs": np.zeros((3, 2), int)}
    with pytest.warns(EmptyModelWarning, match="agreed on 1 column") as caught:
        est = fit_final(template, X, y, None, search)
    assert not any("Decrease alpha" in str(w.message) for w in caught)
    assert est.selected_features_.size == 0 and not est.coef_.any()


def test_tiny_data_falls_back_without_error_and_says_so():
    rng = np.random.RandomState(0)
    X, y = rng.randn(12, 4), np.array([0, 1] * 6)
    with pytest.warns(UserWarning, match="12 rows are too few") as caught:
        est = DGatingMLPClassifier(hidden_layer_sizes=(4,), max_epochs=5, random_state=0).fit(X, y)
    assert caught[0].filename == __file__  # the user's line
    assert "too few" in est.alpha_search_["fallback"]
    assert est.alpha_ == est.alpha_search_["alphas"].min()
    assert est.predict(X).shape == (12,)
    # a class of one row cannot be in a training and a validation fold
    with pytest.warns(UserWarning, match="a class with 1 row"):
        DGatingMLPClassifier(hidden_layer_sizes=(4,), max_epochs=5, random_state=0).fit(
            rng.randn(40, 4), np.r_[np.zeros(39), 1])


@pytest.mark.parametrize("n_rare", [2, 3])
def test_a_rare_class_does_not_stop_the_selection(n_rare):
    # Planted: the label depends on columns 0 and 1 only; a third class of 2 or 3 rows
    # (of 300) used to make the search fall back and keep every column.
    X, _ = regression_data(seed=1, n=300, p=8)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    y[:n_rare] = 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no fallback
        est = DGatingMLPClassifier(random_state=0, **AUTO).fit(X, y)
    assert est.alpha_search_["n_splits"] == n_rare
    np.testing.assert_array_equal(est.selected_features_, [0, 1])


def test_a_constant_target_gives_the_empty_model_without_a_convergence_warning():
    # Every model predicts a constant target to float precision, so their validation
    # losses differ by noise (about 1e-12): the rule used to pick the densest model (all
    # 10 columns), with a ConvergenceWarning asking for more epochs.
    X = np.random.RandomState(0).randn(300, 10)
    for seed in (1, 2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est = DGatingMLPRegressor(random_state=seed, **AUTO).fit(X, np.ones(len(X)))
        assert est.selected_features_.size == 0
        assert [w.category for w in caught] == [EmptyModelWarning]


def test_one_se_rule_gives_numerical_ties_to_the_larger_alpha():
    rng = np.random.RandomState(0)
    column = rng.rand(50)
    losses = np.c_[column + 1e-12, column, column + 2e-12, column + 0.1]
    best, chosen, _, _ = one_se_rule(losses)
    assert best == chosen == 2  # the sparsest of the three tied models, not the worse one
    assert one_se_rule(losses, eligible=np.array([True, True, False, True]))[0] == 1


def test_auto_pickles_and_leaves_torch_global_rng_untouched():
    X, y = regression_data(seed=3, n=80, p=4)
    state = torch.get_rng_state()
    est = DGatingMLPRegressor(hidden_layer_sizes=(4,), max_epochs=5, random_state=0).fit(X, y)
    assert torch.equal(torch.get_rng_state(), state)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    assert again.alpha_search_["alphas"].shape == est.alpha_search_["alphas"].shape


def test_bad_alpha_strings_are_refused():
    X, y = regression_data(n=40, p=4)
    with pytest.raises(ValueError, match="alpha must be 'auto' or a real number"):
        DGatingMLPRegressor(alpha="automatic").fit(X, y)


def test_empty_model_warning_has_its_own_category_and_paths_silence_it():
    X, y = regression_data(n=100, p=4)
    with pytest.warns(EmptyModelWarning, match="removed every feature"):
        DGatingMLPRegressor(hidden_layer_sizes=(8,), max_epochs=30, alpha=5.0, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", EmptyModelWarning)
        path = dgating_path(DGatingMLPRegressor(hidden_layer_sizes=(8,), max_epochs=20, random_state=0),
                            X, y, alphas=[1e-3, 5.0, 10.0])
    assert path.n_selected[0] == 0


def test_path_convergence_warning_names_the_budget_the_user_set():
    # one epoch per model cannot settle a path whose alphas remove features: the
    # warning must name warm_epochs (the budget that ran out), not max_epochs
    X, y = regression_data(n=200, p=8)
    template = DGatingMLPRegressor(hidden_layer_sizes=(8,), max_epochs=20, learning_rate="constant",
                                   random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"after 1 epochs \(set by warm_epochs\)") as record:
        dgating_path(template, X, y, alphas=np.geomspace(0.01, 0.3, 4), warm_epochs=1)
    assert not any("max_epochs=" in str(w.message) for w in record)


@pytest.mark.parametrize("means, done", [
    ([0.5, 0.3, 0.2, 0.25, 0.27], True),    # rose twice past the best
    ([0.5, 0.3, 0.2, 0.25, 0.24], False),   # rose, then fell: the sparse end may still win
    ([0.5, 0.3, 0.2, 0.21, np.nan], False),  # last alpha not scored
    ([np.nan, np.nan, 0.2, 0.25, 0.27], True),
    ([0.5, 0.3, 0.2, 0.19, 0.25], False),   # the best is one of the last two
])
def test_lean_path_stops_after_the_loss_rose_twice_past_the_best(means, done):
    # The row-level SE cannot stop these paths: each model's per-row losses carry their
    # own heavy-tailed noise (one row in 40 forty times worse), centred so that the mean
    # losses are exactly ``means``; no model is 3 paired SEs from another.
    rng = np.random.default_rng(0)
    heavy = np.where(np.arange(400) % 40 == 0, 40.0, 1.0)[:, None]
    noise = rng.exponential(1.0, (400, len(means))) * heavy
    losses = np.asarray(means) + 0.5 * (noise - noise.mean(axis=0))
    candidate = np.isfinite(means)
    best, _, mean, se = one_se_rule(losses, eligible=candidate)
    assert not np.any(mean[-2:][np.isfinite(mean[-2:])] - mean[best] > 3 * se[-2:][np.isfinite(mean[-2:])])
    assert path_is_done(losses, None, candidate) == done


def test_lean_search_trains_a_prefix_of_the_full_path_and_chooses_the_same_alpha():
    # oracle: the full search (every alpha trained and scored). The lean one of
    # alpha="auto" trains the same models (same seeds and steps) until it stops, and
    # scores only the exposed models: its records are the full path's sparse-end-trimmed
    # prefix, and its choice is the full grid's.
    X, y = regression_data(seed=0, n=200, p=6)
    template = DGatingMLPRegressor(hidden_layer_sizes=(8,), max_epochs=30, alpha=0.0, random_state=0)
    lean, full = (choose_alpha(template, X, y, None, cv=3, alphas=None, selection="min", random_state=0,
                               lean=flag) for flag in (True, False))
    n = len(lean["alphas"])
    assert n < full["n_alphas_grid"] == len(full["alphas"]) == lean["n_alphas_grid"]  # it stopped early
    np.testing.assert_array_equal(lean["alphas"], full["alphas"][-n:])
    np.testing.assert_array_equal(lean["n_selected"], full["n_selected"][:, -n:])
    scored = np.isfinite(lean["mean_valid_loss"])
    assert scored[lean["eligible"]].all()  # every candidate is scored
    np.testing.assert_allclose(lean["mean_valid_loss"][scored], full["mean_valid_loss"][-n:][scored], rtol=1e-6)
    assert lean["alpha"] == full["alpha"]
