"""Plots of paths, cross-validation curves and feature importances (matplotlib).

Import them from this module (they are not in the top-level ``skdgating``
namespace, so that ``import skdgating`` does not need matplotlib)::

    from skdgating.plotting import plot_path, plot_cv, plot_importances

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
        # constrained layout keeps legends placed outside the axes inside the figure
        _, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    return ax


# Colours repeat every 10 lines; from the 11th line on the line style changes too,
# so 40 groups are drawn in 40 distinct (colour, style) pairs.
_LINE_STYLES = ("-", "--", ":", "-.")


def _group_names(path):
    """A readable name per group (dict key, column name or ``group<j>``)."""
    n_groups = path.group_norms.shape[1]
    if path.estimators:
        from .groups import make_groups

        est = path.estimators[0]
        names = make_groups(est.groups, est.n_features_in_, est.group_weights, path.feature_names).names
        if len(names) == n_groups:
            return list(names)
    return [f"group{j}" for j in range(n_groups)]


def plot_path(path, ax=None, chosen_alpha=None, n_labels=10):
    """Norm of every group against alpha, one line per group.

    The groups are ranked by their largest norm along the path; the
    ``n_labels`` largest are named in the legend. Line ``r`` of that ranking
    gets colour ``C{r % 10}`` and, from the 11th on, a different line style,
    so no two of the first 40 lines look alike.

    Parameters
    ----------
    path : DGatingPath
        Result of :func:`skdgating.dgating_path`.
    ax : matplotlib Axes, optional
    chosen_alpha : float, optional
        Marked with a dashed vertical line (e.g. a CV estimator's ``alpha_``).
    n_labels : int, default=10
        Number of groups named in the legend (the largest ones); 0 for no
        group in the legend.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    names = _group_names(path)
    ranking = np.argsort(-path.group_norms.max(axis=0), kind="stable")  # largest first
    for rank, j in enumerate(ranking):
        ax.plot(path.alphas, path.group_norms[:, j], lw=1.2, color=f"C{rank % 10}",
                ls=_LINE_STYLES[(rank // 10) % len(_LINE_STYLES)],
                label=names[j] if rank < n_labels else "_nolegend_")
    if chosen_alpha is not None:
        ax.axvline(chosen_alpha, color="k", ls="--", lw=1, label=f"chosen alpha = {chosen_alpha:.3g}")
    ax.set_xscale("log")
    ax.invert_xaxis()  # dense models on the right, as in glmnet's plots
    ax.set_xlabel("alpha")
    ax.set_ylabel(r"group norm $\|w_j\|_2$")
    ax.set_title(f"D-Gating path (D={path.D})")
    if n_labels > 0 or chosen_alpha is not None:
        more = len(ranking) - min(n_labels, len(ranking))
        # Outside, right of the axes: inside, it would cover some group's curve.
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
                  title=f"largest groups (+{more} more)" if more else None, title_fontsize="small")
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
        The legend, for the lines of both, sits below the axes, off the curves.
    """
    ax = _axes(ax)
    res = cv_estimator.cv_results_
    alphas = res["alphas"]
    handles = [
        ax.errorbar(alphas, res["mean_test_score"], yerr=res["std_test_score"], color="C0", capsize=2,
                    label="CV score (mean +/- std)"),
        ax.axvline(cv_estimator.alpha_, color="C0", ls="--", lw=1, label="alpha_ (best)"),
        ax.axvline(cv_estimator.alpha_1se_, color="C2", ls=":", lw=1, label="alpha_1se_")]
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("alpha")
    ax.set_ylabel("mean CV score")
    right = ax.twinx()
    handles += right.plot(alphas, res["mean_n_selected"], color="C1", marker=".", label="selected features")
    right.set_ylabel("mean number of selected features")
    ax.right_ax = right
    # One legend for the lines of both axes, below the x-axis label: inside, it covered
    # the curves; above, it would collide with a title. The offset is in inches.
    from matplotlib.transforms import ScaledTranslation

    below = ax.transAxes + ScaledTranslation(0, -0.5, ax.figure.dpi_scale_trans)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=below,
              ncol=2, fontsize="small", frameon=False)
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
    if selected_only:
        ax.set_title(f"{len(idx)} selected feature{'' if len(idx) == 1 else 's'}")
    else:
        ax.set_title("feature importances")
    return ax
