"""The one group parser: every accepted form, and clear errors for the rest."""

import numpy as np
import pandas as pd
import pytest
from sklearn import config_context
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdgating import DGatingLogisticGroupLasso, make_groups


def as_lists(groups):
    return [idx.tolist() for idx in groups.indices]


def test_none_is_one_group_per_feature():
    g = make_groups(None, 3)
    assert as_lists(g) == [[0], [1], [2]]
    np.testing.assert_array_equal(g.weights, [1, 1, 1])


def test_int_is_contiguous_blocks_with_sqrt_size_weights():
    g = make_groups(2, 6)
    assert as_lists(g) == [[0, 1], [2, 3], [4, 5]]
    np.testing.assert_allclose(g.weights, np.sqrt(2))


def test_list_of_sizes():
    g = make_groups([1, 3, 2], 6)
    assert as_lists(g) == [[0], [1, 2, 3], [4, 5]]
    np.testing.assert_allclose(g.weights, np.sqrt([1, 3, 2]))


def test_list_of_index_lists_accepts_numpy_ints():
    g = make_groups([[np.int64(2), 0], [1, np.int32(3)]], 4)
    assert as_lists(g) == [[0, 2], [1, 3]]
    np.testing.assert_array_equal(g.feature_group, [0, 1, 0, 1])


def test_label_array_numpy_ints_and_strings():
    g = make_groups(np.array([5, 5, 7, 5, 9], dtype=np.int64), 5)
    assert as_lists(g) == [[0, 1, 3], [2], [4]]
    assert g.names == ("5", "7", "9")
    g = make_groups(pd.Series(["a", "b", "a"]), 3)
    assert as_lists(g) == [[0, 2], [1]]


def test_dict_of_names_for_dataframes():
    names = np.array(["age", "color_red", "color_blue", "size"])
    g = make_groups({"age": "age", "color": ["color_red", "color_blue"], "size": [3]}, 4,
                    feature_names=names)
    assert as_lists(g) == [[0], [1, 2], [3]]
    assert g.names == ("age", "color", "size")


def test_group_weights_ones_array_and_zero_means_unpenalized():
    assert np.all(make_groups(2, 4, "ones").weights == 1)
    g = make_groups(2, 4, [0.0, 3.0])
    np.testing.assert_array_equal(g.penalized, [False, True])


def test_group_norms_span_all_outputs():
    g = make_groups([[0, 1], [2]], 3)
    coef = np.array([[3.0, 0.0, 1.0], [0.0, 4.0, 0.0]])
    np.testing.assert_allclose(g.group_norms(coef), [5.0, 1.0])


@pytest.mark.parametrize("spec, match", [
    ([[0, 1], [1, 2]], "overlap"),
    ([[0], [2]], "gap"),
    ([[0, 1, 5]], "outside"),
    ({"a": ["nope"]}, "unknown column"),
    (4, "divisor"),
    ([1, 1], "sum"),
    ([], "empty"),
    (np.array([0, 1]), "one label per column"),
    (np.array([0.0, np.nan, 1.0]), "missing"),
    ([[0, 0, 1, 2]], "twice"),
])
def test_bad_specs_raise_clear_value_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        make_groups(spec, 3, feature_names=["x", "y", "z"])


@pytest.mark.parametrize("spec", [1.5, "abc", True, [[0], "a b"]])
def test_bad_types_raise_type_errors(spec):
    with pytest.raises((TypeError, ValueError)):
        make_groups(spec, 3)


def test_names_without_feature_names_are_rejected():
    with pytest.raises(ValueError, match="no column names"):
        make_groups([["a"], [0, 1, 2]], 3)


@pytest.mark.parametrize("weights, match", [([1.0], "groups"), ([1.0, -1.0, 1.0], "non-negative"),
                                            ("sqrt", "sqrt_size"), ([1.0, np.inf, 1.0], "finite")])
def test_bad_group_weights(weights, match):
    with pytest.raises(ValueError, match=match):
        make_groups(None, 3, weights)


def test_names_behind_a_numpy_scaler_say_how_to_keep_them():
    # The pipeline from issue 15: a DataFrame, groups by column name, a scaler in front.
    data = load_breast_cancer(as_frame=True)
    X, y = data.data, data.target
    mean_cols = [c for c in X.columns if c.startswith("mean ")]
    groups = {"mean": mean_cols, "rest": [c for c in X.columns if c not in mean_cols]}
    est = DGatingLogisticGroupLasso(groups=groups, D=2, alpha=0.05)
    with pytest.raises(ValueError, match=r"no column names") as info:
        make_pipeline(StandardScaler(), est).fit(X, y)
    message = str(info.value)
    assert 'StandardScaler().set_output(transform="pandas")' in message
    assert 'sklearn.set_config(transform_output="pandas")' in message
    # Both remedies the message names work, and give the same groups by name.
    fitted = make_pipeline(StandardScaler().set_output(transform="pandas"), clone(est)).fit(X, y)
    with config_context(transform_output="pandas"):
        fitted_config = make_pipeline(StandardScaler(), clone(est)).fit(X, y)
    for model in (fitted, fitted_config):
        np.testing.assert_array_equal(model[-1].groups_[0], [X.columns.get_loc(c) for c in mean_cols])
