"""The command line, on small CSV files the tests write.

The fits run end to end in a subprocess (``python -m skdgating``); the ``runs``
fixture starts all independent ones at once, a few at a time, and each test waits for
the ones it checks. Input problems, ``--version`` and ``--help`` stop before any fit
and run in this process (no interpreter start-up per case).
"""

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from skdgating import __version__
from skdgating.cli import main

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
SIGNAL = {"age", "income", "color"}
NOISE = {"noise0", "noise1", "noise2", "noise3", "visits"}
UNUSABLE = {"customer_id", "row", "account_id", "country", "comment", "rating"}


def run(*args):
    return subprocess.run([sys.executable, "-m", "skdgating", *map(str, args)], capture_output=True, text=True,
                          env=ENV, timeout=300)


def run_here(capsys, args):
    """The command line in this process: (exit code, stdout, stderr)."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def reported_selection(stdout):
    """The column names listed under "selected k of n columns" (one per indented line)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("selected "))
    names = []
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        names.append(line.split()[0])
    return names


def make_frame(seed):
    """240 rows: price depends on age, income and color; id, constant and free-text columns; gaps."""
    rng = np.random.default_rng(seed)
    n = 240
    notes = [f"called on day {d}" for d in range(400)]
    df = pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in rng.permutation(n)],
        "row": rng.permutation(n) + 1,              # a row number, shuffled
        "age": rng.normal(40, 10, n),
        "income": rng.normal(5e4, 1e4, n),
        "color": rng.choice(["red", "green", "blue"], n),
        "country": "NZ",
        "comment": rng.choice(notes, n),            # ~190 distinct texts in 240 rows
        **{f"noise{i}": rng.normal(size=n) for i in range(4)},
        "visits": rng.choice(10**6, n, replace=False),     # distinct integers, but no row count
        "account_id": rng.choice(10**6, n, replace=False),  # the same, named like an id
        "rating": rng.integers(1, 100, n).astype(str),
    })
    df.loc[[3, 30, 60], "rating"] = "?"
    df["price"] = ((df.age - 40) / 10 + 2.0 * (df.color == "red") + (df.income - 5e4) / 1e4
                   + 0.3 * rng.normal(size=n))
    df["label"] = np.where(df.price > df.price.median(), "high", "low")
    df["income"] = df.income.map(lambda v: f"${v:,.2f}")     # "$51,234.56"
    df.loc[rng.choice(n, 12, replace=False), "age"] = np.nan
    df.loc[rng.choice(n, 5, replace=False), ["price", "label"]] = np.nan
    return df


@pytest.fixture(scope="module")
def frame():
    return make_frame(0)


@pytest.fixture(scope="module")
def csv(frame, tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "data.csv"
    frame.drop(columns=["label"]).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def latin1_semicolon_csv(frame, tmp_path_factory):
    """The classification data with accented labels, ';'-separated, in latin-1."""
    df = frame.drop(columns=["price"]).assign(color=frame.color.map({"red": "rojo", "green": "verde",
                                                                     "blue": "azul café"}))
    path = tmp_path_factory.mktemp("cli") / "semi.csv"
    df.to_csv(path, index=False, sep=";", encoding="latin-1")
    return path


# Input problems: (arguments, a part of the one-line message). "{csv}", "{semi}" and
# "{tmp}" are the files and the directory of the ``problem_paths`` fixture.
INPUT_PROBLEMS = [
    (["select", "{tmp}", "--target", "price"], "is a directory"),
    (["select", "{tmp}/missing.csv", "--target", "price"], "no such file"),
    (["select", "{semi}", "--target", "label"],
     "is not valid utf-8 text (byte 0xe9); pass its encoding, e.g. --encoding latin-1"),
    (["select", "{semi}", "--target", "label", "--encoding", "latin-1", "--sep", ","],
     "target column 'label' is not in"),
    (["select", "{tmp}/ids.csv", "--target", "price"], "no usable feature column"),
    (["select", "{csv}", "--target", "color", "--task", "regression"], "use --task classification"),
    (["select", "{csv}", "--target", "price", "--D", "1"], "argument --D: must be >= 2"),
    (["select", "{csv}", "--target", "price", "--learning-rate", "0.1"], "apply to --model mlp only"),
    (["select", "{csv}", "--target", "price", "--out", "{tmp}/no/such/dir/out.json"], "does not exist"),
    (["select", "{csv}", "--target", "price", "--model", "mlp", "--alpha", "0.03", "--learning-rate", "1000",
      "--max-epochs", "2", "--quiet"], "even at --learning-rate 125, after halving it 3 times: lower --learning-rate"),
]


@pytest.fixture(scope="module")
def runs(frame, csv, latin1_semicolon_csv, tmp_path_factory):
    """Start every independent run at once (3 at a time); name -> future of its CompletedProcess."""
    tmp = tmp_path_factory.mktemp("runs")
    specs = {
        "mlp auto": ["select", csv, "--target", "price", "--model", "mlp", "--out", tmp / "mlp.json"],
        "mlp cv": ["select", csv, "--target", "price", "--model", "mlp", "--cv", "2", "--max-epochs", "40",
                   "--out", tmp / "mlp_cv.json", "--quiet"],
        "demo": ["demo"],
        "linear cv": ["select", csv, "--target", "price", "--out", tmp / "cv.json"],
        "latin-1": ["select", latin1_semicolon_csv, "--target", "label", "--encoding", "latin-1", "--D", "2",
                    "--alpha", "0.02", "--out", tmp / "cls.json"],
        "mlp retry": ["select", csv, "--target", "price", "--model", "mlp", "--alpha", "0.03",
                      "--learning-rate", "1.6", "--max-epochs", "20", "--quiet"],
        "mlp epochs": ["select", csv, "--target", "price", "--model", "mlp", "--alpha", "0.1", "--learning-rate",
                       "0.2", "--max-epochs", "15", "--quiet"],
    }
    with ThreadPoolExecutor(max_workers=3) as pool:
        yield {name: pool.submit(run, *args) for name, args in specs.items()}, tmp


def test_demo_runs(runs):
    out = runs[0]["demo"].result()
    assert out.returncode == 0, out.stderr
    assert "selected" in out.stdout and "test accuracy" in out.stdout
    # the default-environment and pinned timings side by side, and the default MLP call
    assert "as you run it" in out.stdout and "pinned to 1 thread" in out.stdout
    assert "DGatingMLPClassifier(D=3).fit(X, y)" in out.stdout and "alpha_ = " in out.stdout


def test_select_reports_what_it_left_out_parsed_dropped_and_imputed(frame, runs):
    out = runs[0]["linear cv"].result()
    assert out.returncode == 0, out.stderr
    result = json.loads((runs[1] / "cv.json").read_text())
    # identifiers, the constant and the free text are left out, each with its reason
    assert set(result["left_out"]) == UNUSABLE
    for column, reason in [("customer_id", "unique per row"), ("row", "unique per row"),
                           ("account_id", "unique per row"), ("country", "constant"),
                           ("comment", f"text with {frame.comment.nunique()} distinct values in 240 rows"),
                           ("rating", r"numbers, except 3 values such as '\?'")]:
        assert re.search(rf"^  {column} +{reason}", out.stdout, re.MULTILINE), out.stdout
    # "$51,234.56" is read as a number, so the planted income signal can be found
    assert result["parsed_as_numbers"] == ["income"] and "read 'income' as numbers" in out.stdout
    assert {s["column"] for s in result["selected"]} == SIGNAL and result["test_score"] > 0.8
    assert set(reported_selection(out.stdout)) == SIGNAL
    # the counts, against the frame the test wrote
    n_dropped = int(frame.price.isna().sum())
    features = frame[frame.price.notna()].drop(columns=["price", "label", *UNUSABLE])
    n_imputed = int(features.isna().to_numpy().sum())
    assert n_dropped == 5 and n_imputed > 0
    assert f"dropped {n_dropped} rows without a target value; imputed {n_imputed} missing values" in out.stdout
    assert (result["rows_without_target_dropped"], result["missing_values_imputed"]) == (n_dropped, n_imputed)
    # the cross-validation announces itself and counts its folds on stderr
    assert "choosing alpha by 5-fold cross-validation" in out.stderr and "5/5" in out.stderr


def test_the_reported_alpha_is_the_fitted_one(csv, runs):
    cv = runs[0]["linear cv"].result()
    assert cv.returncode == 0, cv.stderr
    result = json.loads((runs[1] / "cv.json").read_text())
    alpha = re.search(r"alpha=([0-9.e+-]+) \(1-SE rule", cv.stdout).group(1)
    # the model is refitted at alpha_1se_; the best-scoring alpha_ is shown only with its label
    assert float(alpha) == pytest.approx(result["alpha_1se"], rel=1e-5)
    assert result["alpha"] == result["alpha_1se"] > result["alpha_min"]
    assert f"alpha_min={result['alpha_min']:.6g}" in cv.stdout
    # rerunning at the printed alpha fits the same model: same selection, same held-out score
    again = run("select", csv, "--target", "price", "--alpha", alpha)
    assert again.returncode == 0, again.stderr
    assert f"alpha={alpha} (given)" in again.stdout
    assert reported_selection(again.stdout) == reported_selection(cv.stdout)
    score = re.compile(r"held-out R\^2: (\S+)")
    assert score.search(again.stdout).group(1) == score.search(cv.stdout).group(1)


def test_detected_separator_and_encoding_option(runs):
    out = runs[0]["latin-1"].result()
    assert out.returncode == 0, out.stderr
    assert "separator ';', encoding latin-1" in out.stdout
    assert re.search(r"^classification: linear model, D=2, alpha=0.02 \(given\)", out.stdout, re.MULTILINE)
    result = json.loads((runs[1] / "cls.json").read_text())
    assert result["task"] == "classification" and result["test_score"] > 0.8
    assert SIGNAL <= {s["column"] for s in result["selected"]}


def test_mlp_divergence_is_retried_at_half_the_learning_rate(csv, runs):
    out = runs[0]["mlp retry"].result()
    assert out.returncode == 0, out.stderr
    retries = re.findall(r"diverged at learning rate (\S+) \(alpha=0.03\); retrying with (\S+)", out.stderr)
    assert retries and retries[0] == ("1.6", "0.8") and len(retries) <= 3
    assert all(float(new) == float(old) / 2 for old, new in retries)
    final = retries[-1][1]
    assert f"learning rate {final}, fitted" in out.stdout
    # the retried fit is the fit a user would get starting at the final learning rate
    # (a rate just below divergence: its selection is not the point here)
    fresh = run("select", csv, "--target", "price", "--model", "mlp", "--alpha", "0.03", "--learning-rate", final,
                "--max-epochs", "20", "--quiet")
    assert fresh.returncode == 0 and "diverged" not in fresh.stderr, fresh.stderr
    result = re.compile(r"^regression: .*?, fitted|^selected.*|^  .*|^held-out.*", re.MULTILINE)
    assert result.findall(out.stdout) == result.findall(fresh.stdout)


def test_the_mlp_chooses_alpha_itself_and_reports_the_fitted_one(runs):
    out = runs[0]["mlp auto"].result()
    assert out.returncode == 0, out.stderr
    assert 'choosing alpha on internal folds (alpha="auto") (mlp, D=3' in out.stderr
    printed = re.search(r'alpha=(\S+) \(alpha="auto": best mean validation loss on 3 internal folds\)', out.stdout)
    result = json.loads((runs[1] / "mlp.json").read_text())
    # the reported alpha is the fitted model's alpha_, in the JSON under the same key
    assert printed and float(printed.group(1)) == pytest.approx(result["alpha"], rel=1e-5) and result["alpha"] > 0
    assert result["alpha_chosen_by"].startswith('alpha="auto"')
    # the planted support, and no noise column
    assert {s["column"] for s in result["selected"]} == SIGNAL
    assert set(reported_selection(out.stdout)) == SIGNAL and result["test_score"] > 0.8


def test_the_mlp_with_cv_uses_the_cross_validated_estimator(runs):
    out = runs[0]["mlp cv"].result()
    assert out.returncode == 0, out.stderr
    assert "(best mean validation loss of 2-fold CV)" in out.stdout
    result = json.loads((runs[1] / "mlp_cv.json").read_text())
    # selection="min": the fitted alpha is the best-scoring one; the 1-SE alpha is recorded too
    assert result["alpha"] == result["alpha_min"] and result["alpha_1se"] >= result["alpha_min"]
    assert SIGNAL <= {s["column"] for s in result["selected"]}


def test_an_mlp_stopped_by_max_epochs_names_the_option(runs):
    out = runs[0]["mlp epochs"].result()
    assert out.returncode == 0, out.stderr
    # the estimator's ConvergenceWarning names max_epochs; the command line names its option
    assert out.stderr.strip() == ("skdgating: note: the MLP's selected columns were still changing when "
                                  "--max-epochs 15 ran out; raise --max-epochs for a stable selection")


def test_version_and_help_with_defaults(capsys):
    code, out, _ = run_here(capsys, ["--version"])
    assert code == 0 and out.strip() == f"skdgating {__version__}"
    code, out, _ = run_here(capsys, ["select", "--help"])
    assert code == 0
    text = " ".join(out.split())
    for default in ["--cv CV folds", "None: 5 folds for linear", "(default: utf-8)", "(default: linear)",
                    "(default: 3)", "(default: 0.05)", "(default: 200)"]:
        assert default in text, default


@pytest.fixture(scope="module")
def problem_paths(csv, latin1_semicolon_csv, frame, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("problems")
    frame[["customer_id", "country", "price"]].to_csv(tmp / "ids.csv", index=False)
    return {"csv": csv, "semi": latin1_semicolon_csv, "tmp": tmp}


@pytest.mark.parametrize("i", range(len(INPUT_PROBLEMS)), ids=[m[:30] for _, m in INPUT_PROBLEMS])
def test_every_input_problem_is_one_line_and_exit_code_2(problem_paths, capsys, i):
    code, _, err = run_here(capsys, [a.format(**problem_paths) for a in INPUT_PROBLEMS[i][0]])
    # (the MLP reports each retry at a halved learning rate before it gives up)
    lines = [line for line in err.strip().splitlines() if "retrying with" not in line]
    assert code == 2, err
    assert INPUT_PROBLEMS[i][1] in err and len(lines) == 1 and lines[0].startswith("skdgating")
