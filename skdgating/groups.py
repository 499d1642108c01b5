"""One parser for every way a user can name groups of features.

Every estimator turns its ``groups`` and ``group_weights`` hyperparameters into a
:class:`Groups` object with :func:`make_groups`; nothing else in the package
interprets group specifications.
"""

from dataclasses import dataclass
from functools import cached_property
from numbers import Integral, Real

import numpy as np

__all__ = ["Groups", "make_groups"]


@dataclass(frozen=True, eq=False)
class Groups:
    """A partition of ``n_features`` columns into penalized groups.

    Attributes
    ----------
    indices : tuple of ndarray of int
        Sorted column indices of each group; together they cover every column
        exactly once.
    weights : ndarray of shape (n_groups,)
        Penalty multiplier ``c_j`` of each group; ``0`` means unpenalized.
    names : tuple of str
        A readable name per group (the dict key or label it came from).
    n_features : int
        Number of columns that were partitioned.
    """

    indices: tuple
    weights: np.ndarray
    names: tuple
    n_features: int

    @property
    def n_groups(self):
        return len(self.indices)

    @property
    def sizes(self):
        return np.array([len(idx) for idx in self.indices], dtype=np.intp)

    @cached_property
    def feature_group(self):
        """Group id of every column, shape (n_features,)."""
        out = np.empty(self.n_features, dtype=np.intp)
        for j, idx in enumerate(self.indices):
            out[idx] = j
        return out

    @cached_property
    def penalized(self):
        """Boolean mask of the groups with a positive weight."""
        return self.weights > 0

    def group_norms(self, coef):
        """Euclidean norm of each group of ``coef``.

        ``coef`` has shape (n_features,) or (n_outputs, n_features); a group's
        norm runs over all outputs of its columns.
        """
        coef = np.asarray(coef, dtype=float)
        sq = (coef.reshape(-1, self.n_features) ** 2).sum(axis=0)
        return np.sqrt(np.bincount(self.feature_group, weights=sq, minlength=self.n_groups))

    def __repr__(self):
        return f"Groups(n_groups={self.n_groups}, n_features={self.n_features})"


def make_groups(groups, n_features, group_weights="sqrt_size", feature_names=None):
    """Parse a group specification into a :class:`Groups` partition.

    Parameters
    ----------
    groups : None, int, list, array-like or dict
        - ``None``: every column is its own group.
        - ``int`` k: contiguous blocks of k columns (k must divide n_features).
        - list of ints: contiguous blocks with these sizes (they must sum to
          n_features).
        - list of lists: the columns of each group, as integer positions or, when
          ``feature_names`` is given, as column names.
        - 1-D ndarray or pandas Series of length n_features: a label per column;
          columns with equal labels form a group (any hashable labels, numpy
          integers included).
        - dict ``name -> columns``: named groups, columns given by name or position.

        Groups must not overlap and must cover every column: put a column you do
        not want penalized in its own group with weight 0.
    n_features : int
        Number of columns of the data.
    group_weights : {"sqrt_size", "ones"} or array-like of shape (n_groups,)
        Penalty multiplier ``c_j`` of each group. ``"sqrt_size"`` (default) uses
        ``sqrt(p_j)``, the usual group-lasso choice that makes groups of different
        sizes comparable; a weight of 0 leaves a group unpenalized (and ungated).
    feature_names : array-like of str, optional
        Column names, used to resolve names in ``groups``.

    Returns
    -------
    Groups
    """
    n_features = int(n_features)
    names_lookup = None
    if feature_names is not None:
        names_lookup = {str(name): i for i, name in enumerate(feature_names)}

    if groups is None:
        indices = [np.array([i]) for i in range(n_features)]
        names = _default_names(feature_names, indices)
    elif isinstance(groups, (bool, np.bool_)):
        raise TypeError(f"groups must be None, an int, a list, an array or a dict, got {groups!r}.")
    elif isinstance(groups, Integral):
        size = int(groups)
        if size < 1 or n_features % size != 0:
            raise ValueError(
                f"groups={size} asks for contiguous blocks of {size} columns, which must be a "
                f"positive divisor of n_features={n_features}; pass a list of sizes instead."
            )
        indices = [np.arange(start, start + size) for start in range(0, n_features, size)]
        names = _default_names(feature_names, indices)
    elif isinstance(groups, dict):
        names = tuple(str(k) for k in groups)
        indices = [_resolve_columns(cols, names_lookup, n_features, key) for key, cols in groups.items()]
    elif _is_label_array(groups):
        labels = np.asarray(groups)
        if labels.ndim != 1 or labels.shape[0] != n_features:
            raise ValueError(
                f"A group label array must be 1-D with one label per column "
                f"(n_features={n_features}); got shape {labels.shape}."
            )
        if _has_missing(labels):
            raise ValueError("The group label array contains missing values (NaN/None).")
        uniques = _unique_in_order(labels)
        indices = [np.flatnonzero(labels == u) for u in uniques]
        names = tuple(str(u) for u in uniques)
    elif isinstance(groups, (list, tuple)):
        if len(groups) == 0:
            raise ValueError("groups is an empty list; pass None for one group per column.")
        if all(_is_int(g) for g in groups):
            sizes = [int(g) for g in groups]
            if min(sizes) < 1 or sum(sizes) != n_features:
                raise ValueError(
                    f"A list of ints is read as group sizes: they must be positive and sum to "
                    f"n_features={n_features}, got sizes summing to {sum(sizes)}. "
                    "For a label per column, pass a numpy array."
                )
            bounds = np.cumsum([0] + sizes)
            indices = [np.arange(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
            names = _default_names(feature_names, indices)
        elif all(isinstance(g, (list, tuple, np.ndarray, range)) for g in groups):
            indices = [_resolve_columns(g, names_lookup, n_features, k) for k, g in enumerate(groups)]
            names = _default_names(feature_names, indices)
        else:
            raise TypeError(
                "A list passed as groups must hold either group sizes (ints) or column lists "
                f"(lists of ints or names); got {groups!r}."
            )
    else:
        raise TypeError(
            "groups must be None, an int, a list of sizes, a list of column lists, a label "
            f"array or a dict of name -> columns; got {type(groups).__name__}."
        )

    _check_partition(indices, n_features, names)
    weights = _make_weights(group_weights, indices)
    return Groups(
        indices=tuple(np.sort(idx).astype(np.intp) for idx in indices),
        weights=weights,
        names=tuple(names),
        n_features=n_features,
    )


def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def _is_label_array(groups):
    if isinstance(groups, np.ndarray):
        return True
    # pandas Series / Index without importing pandas
    return hasattr(groups, "to_numpy") and hasattr(groups, "dtype") and not isinstance(groups, dict)


def _has_missing(labels):
    if labels.dtype.kind == "f":
        return bool(np.isnan(labels).any())
    if labels.dtype.kind == "O":
        return any(v is None or (isinstance(v, float) and np.isnan(v)) for v in labels)
    return False


def _unique_in_order(labels):
    # Groups are numbered in order of first appearance, so names follow the columns.
    return list(dict.fromkeys(labels.tolist()))


def _default_names(feature_names, indices):
    if feature_names is not None and all(len(idx) == 1 for idx in indices):
        return tuple(str(feature_names[idx[0]]) for idx in indices)
    return tuple(f"group{j}" for j in range(len(indices)))


def _resolve_columns(columns, names_lookup, n_features, key):
    if isinstance(columns, (str, bytes)) or _is_int(columns):
        columns = [columns]
    out = []
    for col in list(columns):
        if _is_int(col):
            col = int(col)
            if not 0 <= col < n_features:
                raise ValueError(
                    f"Group {key!r} names column {col}, outside 0..{n_features - 1}."
                )
            out.append(col)
        elif isinstance(col, str):
            if names_lookup is None:
                # The common cause: a DataFrame went through a transformer (StandardScaler)
                # that returns a numpy array, so the names were lost on the way.
                raise ValueError(
                    f"Group {key!r} names column {col!r}, but the data the estimator received has "
                    "no column names. Fit on a pandas DataFrame; in a pipeline, make the steps "
                    "before it output DataFrames too: StandardScaler().set_output(transform=\"pandas\"), "
                    "or sklearn.set_config(transform_output=\"pandas\") for all transformers. "
                    "Or use integer column positions."
                )
            if col not in names_lookup:
                raise ValueError(f"Group {key!r} names unknown column {col!r}.")
            out.append(names_lookup[col])
        else:
            raise TypeError(f"Group {key!r} holds {col!r}; columns are ints or names.")
    if not out:
        raise ValueError(f"Group {key!r} is empty.")
    return np.asarray(out, dtype=np.intp)


def _check_partition(indices, n_features, names):
    counts = np.bincount(np.concatenate(indices), minlength=n_features) if len(indices) else np.zeros(n_features, int)
    if np.any(counts > 1):  # a column listed twice: within one group, or in two
        for idx in indices:
            if len(np.unique(idx)) != len(idx):
                raise ValueError("A group lists the same column twice.")
    overlap = np.flatnonzero(counts > 1)
    if overlap.size:
        raise ValueError(f"Groups overlap: columns {overlap[:10].tolist()} are in more than one group.")
    gaps = np.flatnonzero(counts == 0)
    if gaps.size:
        raise ValueError(
            f"Groups leave columns {gaps[:10].tolist()} out (a gap); every column must be in "
            "exactly one group (give a column its own group with weight 0 to leave it unpenalized)."
        )


def _make_weights(group_weights, indices):
    sizes = np.array([len(idx) for idx in indices], dtype=float)
    if isinstance(group_weights, str):
        if group_weights == "sqrt_size":
            return np.sqrt(sizes)
        if group_weights == "ones":
            return np.ones_like(sizes)
        raise ValueError(
            f"group_weights must be 'sqrt_size', 'ones' or an array, got {group_weights!r}."
        )
    if isinstance(group_weights, Real):
        raise TypeError("group_weights must be 'sqrt_size', 'ones' or an array of one weight per group.")
    weights = np.asarray(group_weights, dtype=float)
    if weights.shape != sizes.shape:
        raise ValueError(
            f"group_weights has shape {weights.shape}, but there are {len(sizes)} groups."
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("group_weights must be finite and non-negative (0 = unpenalized).")
    return weights.copy()
