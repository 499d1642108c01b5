"""Warnings raised by skdgating (filter them by category, not by message text)."""

__all__ = ["EmptyModelWarning"]


class EmptyModelWarning(UserWarning):
    """A fit removed every penalized feature (or group): its predictions ignore X.

    Expected at the sparse end of a regularization path, where
    :func:`~skdgating.dgating_path` and the cross-validated estimators silence
    it; on a single fit it means that ``alpha`` is too large.
    """
