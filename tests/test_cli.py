"""The `dagrad` command line, run in-process through main(argv): train, evaluate, info, argument errors."""

import contextlib
import csv
import io
import json
import re
import subprocess
import sys

import pytest

from dagrad.cli import main

ACCURACY_LINE = re.compile(r"^Test accuracy: (\d+\.\d\d)%  loss: (\d+\.\d{4})  \(([\d,]+) images\)$", re.M)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One short training run on the embedded data, shared by the tests below: (out dir, what it printed)."""
    out = tmp_path_factory.mktemp("cli") / "run"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(["train", "--epochs", "1", "--limit", "512", "--out", str(out), "--seed", "1"])
    assert status == 0
    return out, printed.getvalue()


def test_train_writes_checkpoint_history_and_plot(run):
    out, _ = run
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint.json", "checkpoint.safetensors", "history.csv", "history.png",
    ]  # fmt: skip
    rows = list(csv.DictReader((out / "history.csv").read_text().splitlines()))
    assert len(rows) == 1 and {"loss", "accuracy", "val_loss", "val_accuracy", "lr"} <= set(rows[0])
    doc = json.loads((out / "checkpoint.json").read_text())
    assert doc["epoch"] == 1 and doc["model"]["class"].endswith("LeNet5")
    assert doc["extra"]["model"] == {
        "name": "lenet5",
        "kwargs": {"num_classes": 10, "in_channels": 1, "input_size": 28},
    }
    assert doc["extra"]["cli"]["limit"] == 512 and doc["optimizer"]["class"].endswith("Adam")
    assert (out / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_prints_the_test_accuracy(run):
    out, printed = run
    match = ACCURACY_LINE.search(printed)
    assert match, printed
    assert 10.0 < float(match[1]) <= 100.0 and match[3] == "512"
    doc = json.loads((out / "checkpoint.json").read_text())
    assert float(match[1]) == pytest.approx(100 * doc["extra"]["test"]["accuracy"], abs=0.005)
    assert "Training LeNet5 (61,706 parameters) on embedded: 512 train, 512 test images" in printed
    assert f"Wrote {out}/" in printed


def test_evaluate_reproduces_the_test_accuracy(run, capsys):
    out, printed = run
    assert main(["evaluate", str(out), "--limit", "512"]) == 0
    assert ACCURACY_LINE.search(capsys.readouterr().out)[0] == ACCURACY_LINE.search(printed)[0]
    assert main(["evaluate", str(out / "checkpoint.json"), "--limit", "100", "--dataset", "embedded"]) == 0
    assert ACCURACY_LINE.search(capsys.readouterr().out)[3] == "100"


def test_info_prints_versions_backend_blas_and_threads(capsys):
    assert main(["info"]) == 0
    printed = capsys.readouterr().out
    for key in ("dagrad:", "python:", "numpy:", "backend:", "blas:", "threads:", "kernels:", "packages:"):
        assert re.search(rf"^{key}\s+\S", printed, re.M), key


def test_python_dash_m_runs_the_same_command_line():
    done = subprocess.run([sys.executable, "-m", "dagrad", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("dagrad ")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--model", "resnet"], r"invalid choice: 'resnet' \(choose from 'lenet5', 'mlp'\)"),
        (["train", "--dataset", "cifar"], r"'cifar' \(choose from 'embedded', 'fashion-mnist', 'mnist'\)"),
        (["train", "--optimizer", "lbfgs"], "invalid choice: 'lbfgs'"),
        (["train", "--limit", "0"], "expected a positive integer, received '0'"),
        (["train", "--epochs", "-1"], "expected an integer >= 0"),
        ([], "the following arguments are required: COMMAND"),
    ],
)  # fmt: skip
def test_bad_arguments_are_argparse_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def test_missing_dataset_and_checkpoint_are_reported_without_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DAGRAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert main(["train", "--dataset", "mnist", "--root", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dagrad train: error: MNIST: expected the train files") and "download=True" in err
    assert main(["evaluate", str(tmp_path / "none")]) == 1
    assert "dagrad evaluate: error: load_checkpoint: expected the checkpoint files" in capsys.readouterr().err


def test_train_without_matplotlib_skips_the_plot(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    argv = ["train", "--model", "mlp", "--epochs", "1", "--limit", "64", "--out", str(tmp_path), "-q"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Note: matplotlib is not installed, so history.png was skipped" in printed
    assert not (tmp_path / "history.png").exists() and (tmp_path / "checkpoint.json").exists()
