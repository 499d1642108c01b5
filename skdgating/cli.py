"""Command line: ``skdgating demo`` and ``skdgating select`` (also ``python -m skdgating``).

``skdgating select data.csv --target COL`` reads a CSV (separator detected, or
``--sep``; ``--encoding``), reports and leaves out the columns that cannot be features
(identifiers, constants, free text), reads formatted numbers such as "$1,234.56" as
numbers, one-hot encodes categorical columns (the dummies of one column form one
group, so a feature enters or leaves as a whole), imputes missing values and
standardises numeric columns, fits a D-gated model on 75% of the rows, and prints the
alpha it fitted, the selected columns with their importances and the score on the
held-out 25%. Without ``--alpha`` the library chooses it: the linear model by 5-fold
cross-validation (1-SE rule), the MLP by its own ``alpha="auto"`` (or, with ``--cv``,
its cross-validated estimator). Every problem with the input ends with a one-line
message and exit code 2.
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np

from ._tabular import InputError, read_table
from ._version import __version__

__all__ = ["main"]

# The MLP's learning rate is halved at most this often when its training diverges.
MAX_HALVINGS = 3
LINEAR_N_ALPHAS = 20
LINEAR_CV = 5


def demo(args):
    """Select features of the breast-cancer data (shipped with scikit-learn)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from .linear import DGatingLogisticGroupLasso, alpha_max

    t0 = time.perf_counter()
    data = load_breast_cancer(as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.3, stratify=data.target, random_state=0)
    X_fit, X_val, y_fit, y_val = train_test_split(
        X_train, y_train, test_size=0.3, stratify=y_train, random_state=0)
    scaler = StandardScaler().fit(X_fit)
    amax = alpha_max(scaler.transform(X_fit), y_fit, task="classification")
    print(f"D-Gating logistic regression (D={args.D}) on breast cancer: "
          f"{X_train.shape[0]} training rows, {X_train.shape[1]} features")
    print("alpha      features  validation accuracy")
    results = []
    for alpha in amax * np.geomspace(0.5, 0.005, 10):
        model = make_pipeline(StandardScaler(), DGatingLogisticGroupLasso(D=args.D, alpha=alpha, random_state=0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            model.fit(X_fit, y_fit)
        n_sel = model[-1].selected_features_.size
        score = model.score(X_val, y_val)
        print(f"{alpha:9.3g}  {n_sel:8d}  {score:.3f}")
        results.append((score, n_sel, alpha))
    # the sparsest model within one point of the best validation accuracy
    top = max(r[0] for r in results)
    alpha = min((r for r in results if r[0] >= top - 0.01), key=lambda r: (r[1], -r[2]))[2]
    model = make_pipeline(StandardScaler(), DGatingLogisticGroupLasso(D=args.D, alpha=alpha, random_state=0))
    model.fit(X_train, y_train)
    selected = np.asarray(data.data.columns)[model[-1].selected_features_]
    baseline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_train, y_train)
    print(f"\nchosen alpha = {alpha:.3g}; selected {len(selected)} of {X_train.shape[1]} features:")
    for name, importance in zip(selected, model[-1].feature_importances_[model[-1].selected_features_]):
        print(f"  {name:25s} {importance:.3f}")
    print(f"\ntest accuracy with the {len(selected)} selected features: {model.score(X_test, y_test):.3f}")
    print(f"test accuracy of plain logistic regression on all {X_train.shape[1]}: "
          f"{baseline.score(X_test, y_test):.3f}")
    _print_thread_timing(lambda: model.fit(X_train, y_train))

    from .mlp import DGatingMLPClassifier

    print(f"\nD-gated MLP, the default call DGatingMLPClassifier(D={args.D}).fit(X, y) "
          "(alpha chosen on 3 internal folds):")
    t1 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        mlp = make_pipeline(StandardScaler(), DGatingMLPClassifier(D=args.D, random_state=0)).fit(X_train, y_train)
    names = np.asarray(data.data.columns)[mlp[-1].selected_features_]
    print(f"  alpha_ = {mlp[-1].alpha_:.3g}; selected {len(names)} of {X_train.shape[1]} features: "
          f"{', '.join(names)}")
    print(f"  test accuracy {mlp.score(X_test, y_test):.3f} ({time.perf_counter() - t1:.1f} s)")
    print(f"\n(total {time.perf_counter() - t0:.1f} s)")
    return 0


def _print_thread_timing(fit, repeats=7):
    """Time ``fit`` as it runs (the library sizes its own thread pools) and with every
    BLAS/OpenMP pool pinned to one thread, the figure a tuned environment would give;
    alternately, so that other work on the machine slows both alike."""
    from threadpoolctl import threadpool_limits

    def timed():
        start = time.perf_counter()
        fit()
        return time.perf_counter() - start

    default, pinned = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(repeats):
            default.append(timed())
            with threadpool_limits(limits=1):
                pinned.append(timed())
    print(f"final fit: {np.median(default) * 1e3:.1f} ms as you run it, {np.median(pinned) * 1e3:.1f} ms "
          f"with every thread pool pinned to 1 thread (medians of {repeats})")


def _infer_task(y, task):
    import pandas as pd

    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    if task == "auto":
        # numbers with a fraction, or many distinct integers: regression; else classes
        integer_valued = numeric and np.all(np.asarray(y, dtype=float) == np.round(np.asarray(y, dtype=float)))
        task = "regression" if numeric and (not integer_valued or y.nunique() > 20) else "classification"
    if task == "regression" and not numeric:
        raise InputError(f"the target {y.name!r} is not numeric, so it cannot be regressed: "
                         "use --task classification")
    return task


def _preprocessor(X):
    """Standardise numeric columns, one-hot encode the others; group dummies per column."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    import pandas as pd

    numeric = [c for c in X.columns
               if pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])]
    categorical = [c for c in X.columns if c not in numeric]
    # keep_empty_features: a column missing in every training row keeps its place,
    # so the group labels below stay aligned with the output columns
    transformer = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()),
         numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent", keep_empty_features=True),
                              OneHotEncoder(handle_unknown="ignore", sparse_output=False)), categorical),
    ], verbose_feature_names_out=False)
    transformer.fit(X)
    # the group of every output column: the input column it came from
    labels = []
    for name, _, columns in transformer.transformers_:
        if name == "num":
            labels += list(columns)
        elif name == "cat" and len(columns):  # no categorical column: the encoder is never fitted
            encoder = transformer.named_transformers_["cat"][-1]
            for column, cats in zip(columns, encoder.categories_):
                labels += [column] * len(cats)
    return transformer, np.array(labels, dtype=object)


class _FoldProgress:
    """A cross-validation splitter that shows on stderr how many folds are done.

    The CV estimators take the folds one at a time (joblib consumes the generator
    lazily), so the bar advances when a fold's path has been fitted and scored.
    """

    def __init__(self, splitter, show):
        self.splitter, self.show = splitter, show

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.splitter.get_n_splits(X, y, groups)

    def split(self, X, y=None, groups=None):
        from tqdm.auto import tqdm

        yield from tqdm(self.splitter.split(X, y, groups), total=self.get_n_splits(X, y, groups),
                        desc="cross-validating", unit="fold", disable=not self.show, file=sys.stderr)


def _alpha_text(est):
    """The alpha an MLP fit was asked for: a number, "auto", or chosen by its CV."""
    alpha = getattr(est, "alpha", None)
    return f"{alpha:g}" if isinstance(alpha, (int, float)) else "auto" if alpha == "auto" else "chosen by CV"


def _fit_mlp(est, X, y):
    """Fit an MLP (or its alpha search); when its training diverges, halve
    ``learning_rate_init`` and retry.

    Returns the fitted estimator (with the learning rate that worked).
    """
    for halvings in range(MAX_HALVINGS + 1):
        try:
            return est.fit(X, y)
        except ValueError as exc:
            if "diverged" not in str(exc):  # the MLP's message when the loss became nan or grew
                raise
            lr = est.learning_rate_init
            if halvings == MAX_HALVINGS:
                raise InputError(f"the MLP's training diverged (alpha={_alpha_text(est)}) even at "
                                 f"--learning-rate {lr:g}, after halving it {MAX_HALVINGS} times: lower "
                                 "--learning-rate or --alpha") from None
            print(f"skdgating: the MLP's training diverged at learning rate {lr:g} (alpha={_alpha_text(est)}); "
                  f"retrying with {lr / 2:g}", file=sys.stderr)
            est.set_params(learning_rate_init=lr / 2)


def _model(args, task, labels, y):
    """The estimator to fit: its alpha given, or chosen by the library's own search."""
    from sklearn.model_selection import check_cv

    from .linear import DGatingGroupLasso, DGatingLogisticGroupLasso
    from .path import DGatingGroupLassoCV, DGatingLogisticGroupLassoCV

    groups = labels.astype(str)
    classification = task == "classification"
    if args.model == "linear":
        if args.alpha is not None:
            Est = DGatingLogisticGroupLasso if classification else DGatingGroupLasso
            return Est(groups=groups, D=args.D, alpha=args.alpha, random_state=0)
        Est = DGatingLogisticGroupLassoCV if classification else DGatingGroupLassoCV
        # the same folds as cv=args.cv, shown as they are done
        folds = _FoldProgress(check_cv(args.cv or LINEAR_CV, y, classifier=classification), show=not args.quiet)
        # the sparsest model within one standard error of the best (glmnet's lambda.1se)
        return Est(groups=groups, D=args.D, alphas=LINEAR_N_ALPHAS, cv=folds, selection="1se", random_state=0)
    from .mlp import DGatingMLPClassifier, DGatingMLPRegressor
    from .mlp_cv import DGatingMLPClassifierCV, DGatingMLPRegressorCV

    params = dict(groups=groups, D=args.D, random_state=0)
    params.update({name: value for name, value in [("learning_rate_init", args.learning_rate),
                                                   ("max_epochs", args.max_epochs)] if _given(value)})
    if args.cv is not None:  # K-fold search of the CV estimator
        return (DGatingMLPClassifierCV if classification else DGatingMLPRegressorCV)(cv=args.cv, **params)
    Est = DGatingMLPClassifier if classification else DGatingMLPRegressor
    # alpha="auto" (the default): chosen on internal folds of the training rows
    return Est(**params, alpha="auto" if args.alpha is None else args.alpha,
               verbose=0 if args.quiet or args.alpha is None else 1)


def _fit(model, X, y, args):
    """Fit; return the fitted final estimator and how its alpha was chosen.

    The estimators' warnings are silenced, except that an MLP stopped by
    ``max_epochs`` while its selection still changed is reported with the option
    that changes it.
    """
    from sklearn.exceptions import ConvergenceWarning

    from .path import DGatingGroupLassoCV, DGatingLogisticGroupLassoCV

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if isinstance(model, (DGatingGroupLassoCV, DGatingLogisticGroupLassoCV)):
            model.fit(X, y)
            # refitted at alpha_1se_ (selection="1se"); alpha_ scored best
            fitted, how = model.estimator_, (f"1-SE rule of {model.cv.get_n_splits()}-fold CV; "
                                             f"best mean CV score at alpha_min={model.alpha_:.6g}")
        elif args.model == "linear":
            fitted, how = model.fit(X, y), "given"
        elif hasattr(model, "cv"):  # an MLP CV estimator (--cv)
            fitted = _fit_mlp(model, X, y).estimator_
            how = f"best mean validation loss of {model.cv}-fold CV"
        elif model.alpha == "auto":
            fitted = _fit_mlp(model, X, y)
            search = fitted.alpha_search_
            how = (f'alpha="auto": best mean validation loss on {search["n_splits"]} internal folds'
                   if search.get("fallback") is None else f'alpha="auto": {search["fallback"]}')
        else:
            fitted, how = _fit_mlp(model, X, y), "given"
    if any(issubclass(w.category, ConvergenceWarning) and "max_epochs" in str(w.message) for w in caught):
        print(f"skdgating: note: the MLP's selected columns were still changing when --max-epochs "
              f"{args.max_epochs} ran out; raise --max-epochs for a stable selection", file=sys.stderr)
    return fitted, how


def _check_output_path(out):
    if out is None:
        return
    if os.path.isdir(out):
        raise InputError(f"--out {out} is a directory; give a file name")
    if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        raise InputError(f"--out {out}: the directory {os.path.dirname(out)!r} does not exist")


def select(args):
    """Fit a D-gated model on a CSV file and report the selected columns."""
    import json

    from sklearn.model_selection import train_test_split

    table = read_table(args.data, args.target, sep=args.sep, encoding=args.encoding)
    _check_output_path(args.out)
    X, y = table.X, table.y
    task = _infer_task(y, args.task)
    _report_input(args, table)
    stratify = y if task == "classification" and y.value_counts().min() >= 2 else None
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=stratify)
    transformer, labels = _preprocessor(X_train)
    Xt_train, Xt_test = transformer.transform(X_train), transformer.transform(X_test)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    model = _model(args, task, labels, y_train)
    mlp = args.model == "mlp"
    if args.alpha is None and not args.quiet:
        search = (f"by {args.cv or LINEAR_CV}-fold cross-validation over {LINEAR_N_ALPHAS} values" if not mlp
                  else f"by {args.cv}-fold cross-validation" if args.cv else 'on internal folds (alpha="auto")')
        print(f"choosing alpha {search} ({args.model}, D={args.D}, {len(Xt_train)} rows, "
              f"{Xt_train.shape[1]} encoded columns)", file=sys.stderr)
    t0 = time.perf_counter()
    fitted, how = _fit(model, Xt_train, y_train, args)
    elapsed = time.perf_counter() - t0
    score = float(fitted.score(Xt_test, y_test))
    importance = np.asarray(fitted.feature_importances_)
    chosen = {}
    for column in dict.fromkeys(labels):
        mask = labels == column
        if np.any(np.asarray(fitted.support_)[mask]):
            chosen[str(column)] = float(np.sqrt(np.sum(importance[mask] ** 2)))
    alpha = float(getattr(fitted, "alpha_", fitted.alpha))  # the alpha of the model fitted and reported
    score_name = "accuracy" if task == "classification" else "R^2"
    lr = f", learning rate {fitted.learning_rate_init:g}" if mlp else ""
    print(f"{task}: {args.model} model, D={args.D}, alpha={alpha:.6g} ({how}){lr}, fitted in {elapsed:.1f} s")
    left_out = f" ({len(table.left_out)} left out)" if table.left_out else ""
    print(f"selected {len(chosen)} of {_count(X.shape[1], 'column')}{left_out}:")
    for name, value in sorted(chosen.items(), key=lambda kv: -kv[1]):
        print(f"  {name:30s} {value:.4f}")
    print(f"held-out {score_name}: {score:.4f} ({len(X_test)} rows)")
    if args.out:
        result = {"task": task, "model": args.model, "D": args.D, "alpha": alpha, "alpha_chosen_by": how,
                  "selected": [{"column": k, "importance": v} for k, v in chosen.items()],
                  "n_columns": int(X.shape[1]), "test_score": score, "score": score_name,
                  "left_out": table.left_out, "parsed_as_numbers": list(table.parsed_numbers),
                  "rows_without_target_dropped": table.rows_without_target,
                  "missing_values_imputed": table.n_missing, "separator": table.separator}
        if hasattr(model, "alpha_1se_"):
            result.update(alpha_1se=model.alpha_1se_, alpha_min=model.alpha_)
        if mlp:
            result["learning_rate"] = float(fitted.learning_rate_init)
        try:
            with open(args.out, "w") as f:
                json.dump(result, f, indent=2)
        except OSError as exc:
            raise InputError(f"cannot write {args.out}: {exc.strerror or exc}") from None
        print(f"wrote {args.out}")
    return 0


def _report_input(args, table):
    """What was read, left out, converted, dropped and imputed (on stdout, before the fit)."""
    n_rows = len(table.X) + table.rows_without_target
    print(f"read {args.data}: {_count(n_rows, 'row')}, separator {table.separator!r}, encoding {args.encoding}")
    for column, example in table.parsed_numbers.items():
        print(f"read {column!r} as numbers (values such as {example!r})")
    if table.left_out:
        print(f"left out {_count(len(table.left_out), 'column')} that cannot be features:")
        for column, why in table.left_out.items():
            print(f"  {column:30s} {why}")
    print(f"dropped {_count(table.rows_without_target, 'row')} without a target value; imputed "
          f"{_count(table.n_missing, 'missing value')} in {_count(table.columns_with_missing, 'column')} "
          "(median for numbers, most frequent value otherwise)")


def _count(n, noun):
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _number(kind, low, low_inclusive=True):
    """An argparse type: a number of ``kind`` >= (or >) ``low``, with the option's name in the error."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if not np.isfinite(value) or value < low or (value == low and not low_inclusive):
            raise argparse.ArgumentTypeError(f"must be {'>=' if low_inclusive else '>'} {low}, got {text}")
        return value
    return parse


def _separator(text):
    """An argparse type: one character, or "tab" / "\\t" (as typed in a shell) for a tab."""
    if text in ("tab", "\\t"):
        return "\t"
    if len(text) != 1:
        raise argparse.ArgumentTypeError(f"expected one character (or tab), got {text!r}")
    return text


class _MLPDefault:
    """An option left at the MLP's own default, shown by ``--help`` (``str``) without
    importing the MLP (and torch) for the runs that never use it."""

    def __init__(self, name):
        self.name = name

    def __str__(self):
        from .mlp import DGatingMLPRegressor

        return str(DGatingMLPRegressor().get_params()[self.name])


def _given(value):
    return not isinstance(value, _MLPDefault)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block), like every other input problem."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser():
    formatter = argparse.ArgumentDefaultsHelpFormatter
    parser = _Parser(prog="skdgating", description="D-Gating feature selection.", formatter_class=formatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="select features of a dataset shipped with scikit-learn",
                            formatter_class=formatter)
    p_demo.add_argument("--D", type=_number(int, 2), default=3, help="gating depth (2 = group lasso)")
    p_demo.set_defaults(func=demo)
    p_sel = sub.add_parser("select", help="select the columns of a CSV file that predict a target",
                           formatter_class=formatter)
    p_sel.add_argument("data", help="CSV file with a header row")
    p_sel.add_argument("--target", required=True, default=argparse.SUPPRESS, help="name of the target column")
    p_sel.add_argument("--sep", type=_separator, help="column separator, one character or 'tab'; None: "
                                                     "detected among , ; tab |")
    p_sel.add_argument("--encoding", default="utf-8", help="text encoding of the file, e.g. latin-1 or cp1252")
    p_sel.add_argument("--model", choices=["linear", "mlp"], default="linear", help="model to fit")
    p_sel.add_argument("--D", type=_number(int, 2), default=3, help="gating depth, >= 2 (2 = group lasso)")
    how = p_sel.add_mutually_exclusive_group()
    how.add_argument("--alpha", type=_number(float, 0.0), help="penalty strength; None: chosen by --cv")
    how.add_argument("--cv", type=_number(int, 2),
                     help=f"folds to choose alpha by cross-validation (linear: 1-SE rule; mlp: the best mean "
                          f"validation loss); None: {LINEAR_CV} folds for linear, the MLP's alpha='auto' "
                          "(internal folds) for mlp")
    p_sel.add_argument("--learning-rate", type=_number(float, 0.0, low_inclusive=False),
                       default=_MLPDefault("learning_rate_init"),
                       help=f"--model mlp: initial SGD learning rate; halved up to {MAX_HALVINGS} times "
                            "if the training diverges")
    p_sel.add_argument("--max-epochs", type=_number(int, 1), default=_MLPDefault("max_epochs"),
                       help="--model mlp: training epochs of each fit")
    p_sel.add_argument("--task", choices=["auto", "classification", "regression"], default="auto",
                       help="auto: classes for text/boolean or few distinct integers, else regression")
    p_sel.add_argument("--out", help="write the selection as JSON to this file")
    p_sel.add_argument("--quiet", action="store_true", help="no progress bars")
    p_sel.set_defaults(func=select)
    return parser


def main(argv=None):
    """Run the command line; returns the exit code (errors in the input exit with 2)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "select" and args.model == "linear" and (_given(args.learning_rate)
                                                                or _given(args.max_epochs)):
        parser.exit(2, "skdgating: error: --learning-rate and --max-epochs apply to --model mlp only\n")
    try:
        return args.func(args)
    except InputError as exc:
        parser.exit(2, f"skdgating: error: {exc}\n")
    except (ValueError, TypeError) as exc:  # the estimators' own input checks
        parser.exit(2, f"skdgating: error: {str(exc).splitlines()[0]}\n")


if __name__ == "__main__":
    sys.exit(main())
