"""The command line, end to end in a subprocess, on a CSV the test writes."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def run(*args):
    return subprocess.run([sys.executable, "-m", "skdgating", *args], capture_output=True, text=True,
                          env=ENV, timeout=300)


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame({
        "age": rng.normal(40, 10, n),
        "income": rng.normal(5e4, 1e4, n),      # raw scales: the CLI standardises
        "color": rng.choice(["red", "green", "blue"], n),
        "city": rng.choice(["a", "b", "c", "d"], n),
        **{f"noise{i}": rng.normal(size=n) for i in range(6)},
    })
    df["price"] = (df.age - 40) / 10 + 2.0 * (df.color == "red") + 0.3 * rng.normal(size=n)
    df["label"] = np.where(df.price > df.price.median(), "high", "low")
    path = tmp_path_factory.mktemp("cli") / "data.csv"
    df.to_csv(path, index=False)
    return path


def test_demo_runs():
    out = run("demo")
    assert out.returncode == 0, out.stderr
    assert "selected" in out.stdout and "test accuracy" in out.stdout


def test_select_regression_finds_the_signal_and_writes_json(csv, tmp_path):
    out_file = tmp_path / "sel.json"
    out = run("select", str(csv), "--target", "price", "--out", str(out_file))
    assert out.returncode == 0, out.stderr
    result = json.loads(out_file.read_text())
    selected = {s["column"] for s in result["selected"]}
    assert {"age", "color"} <= selected and "label" not in selected
    assert not selected & {"noise0", "noise1", "noise2", "noise3", "noise4", "noise5"}
    assert result["task"] == "regression" and result["test_score"] > 0.8
    assert "held-out R^2" in out.stdout


def test_select_classification_with_fixed_alpha(csv):
    df = pd.read_csv(csv).drop(columns=["price"])
    path = csv.parent / "cls.csv"
    df.to_csv(path, index=False)
    out = run("select", str(path), "--target", "label", "--D", "2", "--alpha", "0.02")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("classification") and "held-out accuracy" in out.stdout
    assert "color" in out.stdout and "age" in out.stdout


@pytest.mark.parametrize("args, message", [
    (["--target", "nope"], "target column 'nope' is not in"),
    (["--target", "color", "--task", "regression"], "not numeric"),
    (["--target", "price", "--D", "1"], "--D must be"),
])
def test_bad_input_is_one_line_and_exit_code_2(csv, args, message):
    out = run("select", str(csv), *args)
    assert out.returncode == 2
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_unreadable_files(tmp_path):
    out = run("select", str(tmp_path / "missing.csv"), "--target", "y")
    assert out.returncode == 2 and "no such file" in out.stderr
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe\x00garbage\x00\n\x00")
    out = run("select", str(bad), "--target", "y")
    assert out.returncode == 2 and out.stderr.startswith("skdgating: error:")


def test_select_with_the_mlp_shows_progress_and_finds_the_signal(csv, tmp_path):
    out_file = tmp_path / "mlp.json"
    out = run("select", str(csv), "--target", "price", "--model", "mlp", "--cv", "2", "--out", str(out_file))
    assert out.returncode == 0, out.stderr
    assert "choosing alpha" in out.stderr  # the progress bar
    selected = {s["column"] for s in json.loads(out_file.read_text())["selected"]}
    # ("label" is derived from the target, so it is a legitimate signal here)
    assert {"age", "color"} <= selected and not selected & {f"noise{i}" for i in range(6)}
