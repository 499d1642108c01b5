"""skdgating: D-Gating feature selection for scikit-learn.

D-Gating (Kolb, Frost, Bischl, Ruegamer, NeurIPS 2025) writes each group of weights
as one vector times D-1 scalar gates and adds plain L2 weight decay on the factors;
at balance this is the structured penalty alpha * sum_j c_j ||w_j||^(2/D), so whole
groups of features (or neurons, or convolution filters) leave the model during ordinary
gradient-based training, and ``compact`` then removes them physically.
"""

from ._persistence import InconsistentVersionWarning
from ._version import __version__
from .compaction import compact
from .exceptions import EmptyModelWarning
from .gating import DGate, collapse_, dgating_penalty, gate, rebalance_
from .groups import Groups, make_groups
from .linear import DGatingGroupLasso, DGatingLogisticGroupLasso, alpha_max
from .mlp import DGatingMLPClassifier, DGatingMLPRegressor
from .mlp_cv import DGatingMLPClassifierCV, DGatingMLPRegressorCV
from .path import DGatingGroupLassoCV, DGatingLogisticGroupLassoCV, DGatingPath, dgating_path


__all__ = [
    "DGate",
    "DGatingGroupLasso",
    "DGatingGroupLassoCV",
    "DGatingLogisticGroupLasso",
    "DGatingLogisticGroupLassoCV",
    "DGatingMLPClassifier",
    "DGatingMLPClassifierCV",
    "DGatingMLPRegressor",
    "DGatingMLPRegressorCV",
    "DGatingPath",
    "EmptyModelWarning",
    "Groups",
    "InconsistentVersionWarning",
    "alpha_max",
    "collapse_",
    "compact",
    "dgating_path",
    "dgating_penalty",
    "gate",
    "make_groups",
    "rebalance_",
]
