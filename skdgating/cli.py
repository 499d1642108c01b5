"""Command line: ``skdgating demo`` and ``skdgating select`` (also ``python -m skdgating``).

``skdgating select data.csv --target COL`` reads a CSV, one-hot encodes categorical
columns (the dummies of one column form one group, so a feature enters or leaves as a
whole), standardises numeric ones, fits a D-gated model on 75% of the rows, and prints
the selected columns with their importances and the score on the held-out 25%.
Errors in the input end with a one-line message and exit code 2.
"""

import argparse
import sys
import time
import warnings

import numpy as np

__all__ = ["main"]


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
    print(f"({time.perf_counter() - t0:.1f} s)")
    return 0


class InputError(Exception):
    """A problem with the user's data or options: one line on stderr, exit code 2."""


def _read_table(path, target):
    import pandas as pd

    try:
        data = pd.read_csv(path)
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path} as CSV: {str(exc).splitlines()[0]}") from None
    if target not in data.columns:
        raise InputError(f"target column {target!r} is not in {path} (columns: {', '.join(map(str, data.columns[:10]))}"
                         f"{', ...' if data.shape[1] > 10 else ''})")
    data = data[data[target].notna()]
    X, y = data.drop(columns=[target]), data[target]
    if X.shape[1] == 0:
        raise InputError("the CSV has no feature columns besides the target")
    if len(X) < 8:
        raise InputError(f"need at least 8 rows with a target value, got {len(X)}")
    return X, y


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
    transformer = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore", sparse_output=False)), categorical),
    ], verbose_feature_names_out=False)
    transformer.fit(X)
    # the group of every output column: the input column it came from
    labels = []
    for name, _, columns in transformer.transformers_:
        if name == "num":
            labels += list(columns)
        elif name == "cat":
            encoder = transformer.named_transformers_["cat"][-1]
            for column, cats in zip(columns, encoder.categories_):
                labels += [column] * len(cats)
    return transformer, np.array(labels, dtype=object)


def _model(args, task, labels):
    from .linear import DGatingGroupLasso, DGatingLogisticGroupLasso
    from .path import DGatingGroupLassoCV, DGatingLogisticGroupLassoCV

    groups = labels.astype(str)
    if args.model == "linear":
        if args.alpha is not None:
            Est = DGatingLogisticGroupLasso if task == "classification" else DGatingGroupLasso
            return Est(groups=groups, D=args.D, alpha=args.alpha, random_state=0)
        Est = DGatingLogisticGroupLassoCV if task == "classification" else DGatingGroupLassoCV
        # the sparsest model within one standard error of the best (glmnet's lambda.1se)
        return Est(groups=groups, D=args.D, alphas=20, cv=args.cv, selection="1se", random_state=0)
    from .mlp import DGatingMLPClassifier, DGatingMLPRegressor

    Est = DGatingMLPClassifier if task == "classification" else DGatingMLPRegressor
    est = Est(groups=groups, D=args.D, random_state=0, verbose=0 if args.quiet else 1)
    if args.alpha is not None:
        return est.set_params(alpha=args.alpha)
    return _MLPAlphaSearch(est, [1e-3, 3e-3, 1e-2, 3e-2], args.cv, progress=not args.quiet)


class _MLPAlphaSearch:
    """Choose the MLP's alpha by K-fold CV with a progress bar over the fits, then refit.

    (GridSearchCV does the same without a progress bar.)
    """

    def __init__(self, estimator, alphas, cv, progress):
        self.estimator, self.alphas, self.cv, self.progress = estimator, alphas, cv, progress

    def fit(self, X, y):
        from sklearn.base import clone, is_classifier
        from sklearn.model_selection import check_cv
        from tqdm.auto import tqdm

        folds = list(check_cv(self.cv, y, classifier=is_classifier(self.estimator)).split(X, y))
        quiet = clone(self.estimator).set_params(verbose=0)
        scores = np.zeros(len(self.alphas))
        with tqdm(total=len(self.alphas) * len(folds) + 1, desc="choosing alpha", unit="fit",
                  disable=not self.progress, file=sys.stderr) as bar:
            for i, alpha in enumerate(self.alphas):
                for train, test in folds:
                    model = clone(quiet).set_params(alpha=alpha).fit(X[train], y[train])
                    scores[i] += model.score(X[test], y[test]) / len(folds)
                    bar.update()
            self.alpha_ = self.alphas[int(np.argmax(scores))]
            self.best_estimator_ = clone(quiet).set_params(alpha=self.alpha_).fit(X, y)
            bar.update()
        return self

    def score(self, X, y):
        return self.best_estimator_.score(X, y)


def select(args):
    """Fit a D-gated model on a CSV file and report the selected columns."""
    import json

    from sklearn.model_selection import train_test_split

    X, y = _read_table(args.data, args.target)
    task = _infer_task(y, args.task)
    stratify = y if task == "classification" and y.value_counts().min() >= 2 else None
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=stratify)
    transformer, labels = _preprocessor(X_train)
    Xt_train, Xt_test = transformer.transform(X_train), transformer.transform(X_test)
    model = _model(args, task, labels)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.fit(Xt_train, np.asarray(y_train))
    elapsed = time.perf_counter() - t0
    fitted = getattr(model, "best_estimator_", model)
    score = float(model.score(Xt_test, np.asarray(y_test)))
    importance = np.asarray(fitted.feature_importances_)
    chosen = {}
    for column in dict.fromkeys(labels):
        mask = labels == column
        norm = float(np.sqrt(np.sum(importance[mask] ** 2)))
        if np.any(np.asarray(fitted.support_)[mask]):
            chosen[str(column)] = norm
    alpha = getattr(model, "alpha_", None) or fitted.get_params().get("alpha")
    score_name = "accuracy" if task == "classification" else "R^2"
    print(f"{task}: {args.model} model, D={args.D}, alpha={alpha:.4g}, fitted in {elapsed:.1f} s")
    print(f"selected {len(chosen)} of {X.shape[1]} columns:")
    for name, value in sorted(chosen.items(), key=lambda kv: -kv[1]):
        print(f"  {name:30s} {value:.4f}")
    print(f"held-out {score_name}: {score:.4f} ({len(X_test)} rows)")
    if args.out:
        result = {"task": task, "model": args.model, "D": args.D, "alpha": float(alpha),
                  "selected": [{"column": k, "importance": v} for k, v in chosen.items()],
                  "n_columns": int(X.shape[1]), "test_score": score, "score": score_name}
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
        print(f"wrote {args.out}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="skdgating", description="D-Gating feature selection.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="select features of a dataset shipped with scikit-learn")
    p_demo.add_argument("--D", type=int, default=3, help="gating depth (2 = group lasso)")
    p_demo.set_defaults(func=demo)
    p_sel = sub.add_parser("select", help="select the columns of a CSV file that predict a target")
    p_sel.add_argument("data", help="CSV file with a header row")
    p_sel.add_argument("--target", required=True, help="name of the target column")
    p_sel.add_argument("--model", choices=["linear", "mlp"], default="linear")
    p_sel.add_argument("--D", type=int, default=3, help="gating depth, >= 2 (2 = group lasso)")
    how = p_sel.add_mutually_exclusive_group()
    how.add_argument("--alpha", type=float, help="penalty strength (default: chosen by --cv)")
    how.add_argument("--cv", type=int, default=5,
                     help="folds to choose alpha by cross-validation (linear: 1-SE rule)")
    p_sel.add_argument("--task", choices=["auto", "classification", "regression"], default="auto",
                       help="auto: classes for text/boolean or few distinct integers, else regression")
    p_sel.add_argument("--out", help="write the selection as JSON to this file")
    p_sel.add_argument("--quiet", action="store_true", help="no progress bar")
    p_sel.set_defaults(func=select)
    args = parser.parse_args(argv)
    if getattr(args, "D", 3) < 2:
        parser.exit(2, f"skdgating: error: --D must be an integer >= 2, got {args.D}\n")
    try:
        return args.func(args)
    except InputError as exc:
        parser.exit(2, f"skdgating: error: {exc}\n")
    except (ValueError, TypeError) as exc:  # the estimators' own input checks
        parser.exit(2, f"skdgating: error: {str(exc).splitlines()[0]}\n")


if __name__ == "__main__":
    sys.exit(main())
