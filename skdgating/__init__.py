"""skdgating: D-Gating feature selection for scikit-learn.

D-Gating (Kolb, Frost, Bischl, Ruegamer, NeurIPS 2025) writes each group of weights
as one vector times D-1 scalar gates and adds plain L2 weight decay on the factors;
at balance this is the structured penalty alpha * sum_j c_j ||w_j||^(2/D), so whole
groups of features (or neurons, or convolution filters) leave the model during ordinary
gradient-based training, and ``compact`` then removes them physically.
"""

import importlib

from ._persistence import InconsistentVersionWarning
from ._version import __version__
from .exceptions import EmptyModelWarning
from .groups import Groups, make_groups
from .linear import DGatingGroupLasso, DGatingLogisticGroupLasso, alpha_max
from .path import DGatingGroupLassoCV, DGatingLogisticGroupLassoCV, DGatingPath, dgating_path

# The torch-backed names load their module (and torch, skorch) on first use (PEP 562),
# so `import skdgating` and the linear models never import torch.
_LAZY = {
    "DGate": "gating", "collapse_": "gating", "dgating_penalty": "gating", "gate": "gating",
    "rebalance_": "gating", "compact": "compaction",
    "DGatingMLPClassifier": "mlp", "DGatingMLPRegressor": "mlp",
    "DGatingMLPClassifierCV": "mlp_cv", "DGatingMLPRegressorCV": "mlp_cv",
}
_LAZY_SUBMODULES = {"compaction", "gating", "mlp", "mlp_cv"}  # skdgating.mlp works after `import skdgating`


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


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # later look-ups skip __getattr__
        return value
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | _LAZY_SUBMODULES)
