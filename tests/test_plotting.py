"""What the plots show (labels, legends, titles, line styles) and the path's summary repr."""

import matplotlib
import numpy as np
import pytest

from skdgating import DGatingGroupLasso, DGatingGroupLassoCV, alpha_max, dgating_path
from skdgating.datasets import make_group_problem

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skdgating.plotting import plot_cv, plot_importances, plot_path  # noqa: E402

N_GROUPS, SIZE = 30, 2


@pytest.fixture(scope="module")
def problem():
    return make_group_problem(200, N_GROUPS, SIZE, 4, rho=0.3, snr=3.0, random_state=0)


@pytest.fixture(scope="module")
def named_path(problem):
    X, y, _ = problem
    groups = {f"block{j:02d}": list(range(SIZE * j, SIZE * j + SIZE)) for j in range(N_GROUPS)}
    return dgating_path(DGatingGroupLasso(groups=groups, D=2), X, y, alphas=8, eps=1e-2,
                        validation_fraction=0.25, random_state=0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_plot_path_names_the_largest_groups_and_keeps_lines_apart(named_path):
    ax = plot_path(named_path, chosen_alpha=named_path.alphas[3])
    assert ax.get_xlabel() == "alpha" and "norm" in ax.get_ylabel()
    # the 10 groups with the largest norm anywhere on the path, largest first
    largest = np.argsort(-named_path.group_norms.max(axis=0), kind="stable")[:10]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == [f"block{j:02d}" for j in largest] + [f"chosen alpha = {named_path.alphas[3]:.3g}"]
    assert ax.get_legend().get_title().get_text() == "largest groups (+20 more)"
    group_lines = ax.lines[:N_GROUPS]
    styles = {(matplotlib.colors.to_hex(line.get_color()), line.get_linestyle()) for line in group_lines}
    assert len(styles) == N_GROUPS  # 30 lines, 30 distinct looks
    for line, j in zip(group_lines, np.argsort(-named_path.group_norms.max(axis=0), kind="stable")):
        np.testing.assert_array_equal(line.get_ydata(), named_path.group_norms[:, j])


def test_path_plot_method_is_plot_path_and_n_labels(named_path):
    ax = named_path.plot(n_labels=3)
    assert len(ax.get_legend().get_texts()) == 3
    assert len(ax.lines) == N_GROUPS
    ax = named_path.plot(n_labels=0)
    assert ax.get_legend() is None


def test_plot_cv_legend_lists_every_line_and_stays_off_the_curves(problem):
    X, y, _ = problem
    cv = DGatingGroupLassoCV(groups=SIZE, D=2, alphas=5, cv=2).fit(X, y)
    ax = plot_cv(cv)
    legend = ax.get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts == ["CV score (mean +/- std)", "alpha_ (best)", "alpha_1se_", "selected features"]
    np.testing.assert_array_equal(ax.right_ax.lines[0].get_ydata(), cv.cv_results_["mean_n_selected"])
    ax.figure.canvas.draw()
    assert not legend.get_window_extent().overlaps(ax.get_window_extent())
    # and inside the figure, not cut off when saved
    assert ax.figure.bbox.contains(*legend.get_window_extent().p0)


def test_plot_importances_title_counts_features_in_the_singular_and_plural(problem):
    X, y, _ = problem
    X6 = X[:, :6]
    # just below alpha_max of the group lasso exactly one group (here one feature) enters
    one = DGatingGroupLasso(D=2, alpha=(1 - 1e-3) * alpha_max(X6, y)).fit(X6, y)
    assert one.selected_features_.size == 1
    assert plot_importances(one).get_title() == "1 selected feature"
    many = DGatingGroupLasso(D=2, alpha=0.01).fit(X6, y)
    assert many.selected_features_.size > 1
    assert plot_importances(many).get_title() == f"{many.selected_features_.size} selected features"


def test_path_repr_is_a_short_summary(named_path):
    text = repr(named_path)
    assert len(text) < 250, text
    assert text.startswith("DGatingPath(DGatingGroupLasso, D=2, 8 alphas from ")
    assert f"{named_path.alphas[0]:.3g} to {named_path.alphas[-1]:.3g}" in text
    assert f"n_selected {named_path.n_selected.min()} to {named_path.n_selected.max()}" in text
    scores = named_path.validation_scores
    assert f"validation scores {scores.min():.3g} to {scores.max():.3g}" in text
