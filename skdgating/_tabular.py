"""Reading a user's CSV file for the command line, and screening its columns.

Everything here reports instead of guessing silently: the separator it detected, the
columns it read as formatted numbers ("$1,234.56"), and the columns it left out
because they cannot be features (identifiers, constants, free text).
"""

import codecs
import csv
import os
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["InputError", "Table", "read_table"]

# separators the detection chooses from (csv.Sniffer would also accept letters)
SEPARATORS = ",;\t|"
SNIFF_CHARS = 64 * 1024
MIN_ROWS_FOR_AN_ID = 20
# A number written with an optional sign, currency symbol, thousands commas, decimals
# and percent sign: "$1,234.56", "-€12", "1,000", "12.5%".
_FORMATTED_NUMBER = re.compile(r"[-+]?[$€£¥]?[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?%?")
_NUMBER_DECORATION = re.compile(r"[$€£¥,%]")
# a column name that says "identifier": id, ID, customer_id, customerId, CustomerID, row id
# (case matters only for camel case: "paid" and "valid" are not ids)
_ID_NAME = re.compile(r"(?i:(?:^|[_\s.\-])(?:id|uuid|key))$|[a-z](?:Id|ID)$")


class InputError(Exception):
    """A problem with the user's data or options: one line on stderr, exit code 2."""


@dataclass
class Table:
    """A CSV file split into features and target, with what was done to it on the way."""

    X: pd.DataFrame
    y: pd.Series
    separator: str
    left_out: dict = field(default_factory=dict)      # column -> why it is not a feature
    parsed_numbers: dict = field(default_factory=dict)  # column -> an example of its text
    rows_without_target: int = 0

    @property
    def n_missing(self):
        """Missing feature values (the command line imputes them)."""
        return int(self.X.isna().to_numpy().sum())

    @property
    def columns_with_missing(self):
        """Feature columns with at least one missing value."""
        return int(self.X.isna().any().sum())


def read_table(path, target, sep=None, encoding="utf-8"):
    """Read ``path``, parse formatted numbers, drop rows without a target, screen the columns.

    Parameters
    ----------
    path : str
        CSV file with a header row.
    target : str
        Name of the target column.
    sep : str, optional
        Column separator; default: detected among ``, ; tab |``.
    encoding : str, default="utf-8"

    Returns
    -------
    Table

    Raises
    ------
    InputError
        For every problem with the file or its content, with a one-line message.
    """
    data, separator = _read_csv(path, sep, encoding)
    if target not in data.columns:
        shown = ", ".join(map(str, data.columns[:10])) + (", ..." if data.shape[1] > 10 else "")
        hint = "" if sep is not None else "; if the columns are split wrongly, pass --sep"
        raise InputError(f"target column {target!r} is not in {path} (columns, separated by "
                         f"{separator!r}: {shown}){hint}")
    parsed = {}
    for column in data.columns:
        example = _parse_formatted_numbers(data, column)
        if example is not None:
            parsed[column] = example
    X = data.drop(columns=[target])
    if X.shape[1] == 0:
        raise InputError(f"{path} has no columns besides the target {target!r}")
    # screened on every row of the file: what a column is does not depend on the target
    left_out = {column: why for column in X.columns if (why := _why_not_a_feature(X[column])) is not None}
    if len(left_out) == X.shape[1]:
        raise InputError(f"no usable feature column: every one was left out ("
                         + "; ".join(f"{c}: {why}" for c, why in list(left_out.items())[:3]) + ")")
    has_target = data[target].notna()
    if has_target.sum() < 8:
        raise InputError(f"need at least 8 rows with a target value, got {has_target.sum()}")
    return Table(X=X.drop(columns=list(left_out))[has_target], y=data[target][has_target], separator=separator,
                 left_out=left_out, parsed_numbers=parsed, rows_without_target=int((~has_target).sum()))


def _read_csv(path, sep, encoding):
    if os.path.isdir(path):
        raise InputError(f"{path} is a directory, not a CSV file")
    if not os.path.exists(path):
        raise InputError(f"no such file: {path}")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r} (--encoding takes a Python codec name "
                         "such as utf-8, latin-1 or cp1252)") from None
    try:
        with open(path, encoding=encoding, newline="") as f:
            sample = f.read(SNIFF_CHARS)
        separator = sep if sep is not None else _detect_separator(sample)
        return pd.read_csv(path, sep=separator, encoding=encoding), separator
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not valid {encoding} text (byte 0x{exc.object[exc.start]:02x}"
                         f"); pass its encoding, e.g. --encoding latin-1") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, ValueError) as exc:
        raise InputError(f"cannot read {path} as CSV: {str(exc).strip().splitlines()[0]}") from None


def _detect_separator(sample):
    """The separator of the complete lines of ``sample`` (',' when there is no other)."""
    sample = sample.lstrip("\ufeff")
    if "\n" in sample:
        sample = sample[:sample.rindex("\n")]  # a cut-off last line would confuse the counts
    try:
        return csv.Sniffer().sniff(sample, delimiters=SEPARATORS).delimiter
    except csv.Error:  # a single column, or nothing to go by
        return ","


def _parse_formatted_numbers(data, column):
    """Convert a text column whose values are all formatted numbers ("$1,234.56") in place.

    Returns one original value as an example, or None if the column was left alone.
    """
    values = data[column]
    if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
        return None
    present = _compact_text(values.dropna())
    if present.empty or not present.str.fullmatch(_FORMATTED_NUMBER).all():
        return None
    digits = _compact_text(values).str.replace(_NUMBER_DECORATION, "", regex=True)
    data[column] = pd.to_numeric(digits.where(values.notna()), errors="coerce")
    return str(values.dropna().iloc[0])


def _compact_text(values):
    return values.astype(str).str.replace(r"\s+", "", regex=True)


def _why_not_a_feature(values):
    """Why a column cannot be a feature (identifier, constant, free text), or None."""
    present = values.dropna()
    if present.empty:
        return "empty (no values)"
    n_distinct = present.nunique()
    if n_distinct == 1:
        return f"constant (every value is {present.iloc[0]!r})"
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    unique_per_row = n_distinct == len(values)
    if not numeric:
        # (columns of numbers only were converted already: these have some text too)
        is_number = _compact_text(present).str.fullmatch(_FORMATTED_NUMBER)
        if is_number.mean() >= 0.9:
            odd = present[~is_number]
            return (f"numbers, except {len(odd)} values such as {odd.iloc[0]!r} (empty those cells to have "
                    "them imputed)")
        if unique_per_row:
            return "unique per row (an identifier)"
        # one-hot dummies of a category seen on average less than twice cannot be learned
        if 2 * n_distinct > len(present) and n_distinct > 10:
            return f"text with {n_distinct} distinct values in {len(present)} rows (free text or an identifier)"
        return None
    if unique_per_row and pd.api.types.is_integer_dtype(values) and _looks_like_row_id(values):
        return "unique per row (an identifier)"
    return None


def _looks_like_row_id(values):
    """Distinct integers that count rows or are named like an id.

    Counting rows: they fill at least half of their range (1..n in any order, with
    some gaps), or increase down the file. Distinct integers alone are not enough:
    incomes in whole dollars are distinct too, but spread over a wide range.
    """
    if values.size < MIN_ROWS_FOR_AN_ID:  # in a few rows, distinct integers are common
        return False
    v = np.asarray(values, dtype=np.int64)
    dense = 2 * v.size >= v.max() - v.min() + 1
    increasing = bool(np.all(np.diff(v) > 0))
    return dense or increasing or bool(_ID_NAME.search(str(values.name)))
