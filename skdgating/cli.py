"""Command line: ``skdgating demo`` (also ``python -m skdgating demo``)."""

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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="skdgating", description="D-Gating feature selection.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="select features of a dataset shipped with scikit-learn")
    p_demo.add_argument("--D", type=int, default=3, help="gating depth (2 = group lasso)")
    p_demo.set_defaults(func=demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
