"""Plots of paths, cross-validation curves and feature importances (matplotlib).

matplotlib is an optional dependency: ``pip install matplotlib``. Every function
takes an optional ``ax`` and returns the Axes it drew on.
"""

import numpy as np

__all__ = ["plot_path", "plot_cv", "plot_importances"]


def _axes(ax):
    try:
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - exercised only without matplotlib
        raise ImportError(
            "skdgating.plotting needs matplotlib: pip install matplotlib "
            "(or pip install 'skdgating[docs]').") from None
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    return ax


def plot_path(path, ax=None, chosen_alpha=None):
    """Norm of every group against alpha, one line per group.

    Parameters
    ----------
    path : DGatingPath
        Result of :func:`skdgating.dgating_path`.
    ax : matplotlib Axes, optional
    chosen_alpha : float, optional
        Marked with a dashed vertical line (e.g. a CV estimator's ``alpha_``).

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    for j in range(path.group_norms.shape[1]):
        ax.plot(path.alphas, path.group_norms[:, j], lw=1)
    if chosen_alpha is not None:
        ax.axvline(chosen_alpha, color="k", ls="--", lw=1, label=f"chosen alpha = {chosen_alpha:.3g}")
        ax.legend(loc="upper right")
    ax.set_xscale("log")
    ax.invert_xaxis()  # dense models on the right, as in glmnet's plots
    ax.set_xlabel("alpha")
    ax.set_ylabel(r"group norm $\|w_j\|_2$")
    ax.set_title(f"D-Gating path (D={path.D})")
    return ax


def plot_cv(cv_estimator, ax=None):
    """Cross-validated score (mean +/- std) and number of selected features against alpha.

    Parameters
    ----------
    cv_estimator : DGatingGroupLassoCV or DGatingLogisticGroupLassoCV
        A fitted CV estimator; ``alpha_`` and ``alpha_1se_`` are marked.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        The score axes; the feature counts are on its twin (``ax.right_ax``).
    """
    ax = _axes(ax)
    res = cv_estimator.cv_results_
    alphas = res["alphas"]
    ax.errorbar(alphas, res["mean_test_score"], yerr=res["std_test_score"], color="C0", capsize=2,
                label="CV score")
    ax.axvline(cv_estimator.alpha_, color="C0", ls="--", lw=1, label="alpha_ (best)")
    ax.axvline(cv_estimator.alpha_1se_, color="C2", ls=":", lw=1, label="alpha_1se_")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("alpha")
    ax.set_ylabel("mean CV score")
    right = ax.twinx()
    right.plot(alphas, res["mean_n_selected"], color="C1", marker=".", label="features selected")
    right.set_ylabel("mean number of selected features")
    ax.right_ax = right
    ax.legend(loc="lower left")
    return ax


def plot_importances(estimator, feature_names=None, ax=None, selected_only=True):
    """Horizontal bar chart of ``feature_importances_`` with feature names.

    Parameters
    ----------
    estimator : fitted skdgating estimator
    feature_names : array-like of str, optional
        Default: ``estimator.feature_names_in_`` if present, else ``x0, x1, ...``.
    ax : matplotlib Axes, optional
    selected_only : bool, default=True
        Show only the selected features.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    importances = np.asarray(estimator.feature_importances_)
    if feature_names is None:
        feature_names = getattr(estimator, "feature_names_in_", None)
    if feature_names is None:
        feature_names = [f"x{i}" for i in range(importances.size)]
    feature_names = np.asarray(feature_names, dtype=str)
    idx = np.asarray(estimator.selected_features_) if selected_only else np.arange(importances.size)
    idx = idx[np.argsort(importances[idx])]
    ax.barh(feature_names[idx], importances[idx], color="C0")
    ax.set_xlabel("feature importance (coefficient norm)")
    ax.set_ylabel("feature")
    ax.set_title(f"{len(idx)} selected features" if selected_only else "feature importances")
    return ax
