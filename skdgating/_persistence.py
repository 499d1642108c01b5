"""Version stamp on pickled estimators.

Compatibility policy: a fitted estimator pickled (``pickle``, ``joblib``) with one
skdgating version is supported only by that same version, with the same
scikit-learn and PyTorch versions. Loading it under another skdgating version works
when the stored attributes still fit, but emits :class:`InconsistentVersionWarning`;
for long-term storage keep the training code and data, or the plain numpy arrays
(``coef_``, ``intercept_``, ``selected_features_``), not the pickle.
"""

import warnings

from ._version import __version__


class InconsistentVersionWarning(UserWarning):
    """A pickled skdgating estimator is loaded under another skdgating version."""


class VersionedPickleMixin:
    """Record the skdgating version in pickles and warn when it differs on load."""

    def __getstate__(self):
        state = super().__getstate__()
        state["_skdgating_version"] = __version__
        return state

    def __setstate__(self, state):
        saved = state.pop("_skdgating_version", "pre-0.1")
        if saved != __version__:
            warnings.warn(
                f"This {type(self).__name__} was pickled with skdgating {saved} and is loaded "
                f"with skdgating {__version__}; only the same version is supported. Refit it to "
                "be safe.", InconsistentVersionWarning)
        super().__setstate__(state)
