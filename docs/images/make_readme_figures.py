"""Draw docs/images/path.png, the path figure of the README.

Run:  OMP_NUM_THREADS=1 python docs/images/make_readme_figures.py
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skdgating import DGatingGroupLasso, dgating_path  # noqa: E402
from skdgating.datasets import make_group_problem  # noqa: E402
from skdgating.plotting import plot_path  # noqa: E402

X, y, true_groups = make_group_problem(600, 30, 4, 4, rho=0.5, snr=3.0, random_state=0)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
for ax, D in zip(axes, (2, 3)):
    path = dgating_path(DGatingGroupLasso(groups=4, D=D), X, y, alphas=40, eps=1e-3)
    plot_path(path, ax=ax, n_labels=0)  # no legend: the planted groups are drawn in black
    for j in true_groups:  # the planted groups in black
        ax.plot(path.alphas, path.group_norms[:, j], color="k", lw=2)
    ax.set_title(f"D={D}: " + ("group lasso" if D == 2 else "L_{2,2/3}, non-convex"))
axes[0].set_ylabel("group norm ||w_j||")
fig.suptitle("Regularization paths, 30 groups of 4, the 4 planted groups in black")
fig.tight_layout()
fig.savefig(Path(__file__).with_name("path.png"), dpi=110)
