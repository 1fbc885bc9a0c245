"""The training-experiment examples (lenet_mnist, regularisation, transfer_learning) run end to end at tiny sizes."""

import importlib.util
import math
from pathlib import Path

import pytest

from dagrad.data import DatasetError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def load(name):
    """The example script examples/<name>.py as a module (it is not part of the package)."""
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_figure(result, out, name):
    if HAS_MATPLOTLIB:
        assert result["figure"] == str(out / name)
        assert (out / name).stat().st_size > 1000
    else:
        assert result["figure"] is None and not (out / name).exists()


def test_lenet_mnist_reports_error_per_class_accuracy_and_misclassified_grid(tmp_path):
    example = load("lenet_mnist")
    argv = ["--data", "embedded", "--limit", "1000", "--epochs", "2", "--batch-size", "64", "--quiet"]
    result = example.main([*argv, "--out", str(tmp_path)])
    assert result["dataset"] == "embedded" and result["train_size"] == result["test_size"] == 1000
    assert result["test_accuracy"] > 0.3  # ten classes: chance is 0.1
    assert result["test_error"] + result["test_accuracy"] == pytest.approx(1.0)
    assert result["n_misclassified"] == round(result["test_error"] * result["test_size"])
    per_class = result["per_class_accuracy"]
    assert list(per_class) == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                               "Bag", "Ankle boot"]  # fmt: skip
    assert all(0 <= a <= 1 for a in per_class.values())
    assert min(per_class.values()) < result["test_accuracy"] < max(per_class.values())
    check_figure(result, tmp_path, "lenet_mnist_errors.png")


def test_lenet_mnist_names_a_missing_data_set(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGRAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(DatasetError, match="MNIST"):
        load("lenet_mnist").main(["--data", "mnist", "--root", str(tmp_path), "--out", str(tmp_path)])


def test_regularisation_trains_six_variants_and_a_five_member_ensemble(tmp_path):
    example = load("regularisation")
    argv = ["--train-size", "400", "--test-size", "400", "--epochs", "4", "--width", "64", "--lr", "0.05"]
    result = example.main([*argv, "--out", str(tmp_path)])
    results = result["results"]
    assert list(results) == ["none", "dropout", "weight decay", "augmentation", "early stopping",
                             "ensemble (5, bagging)"]  # fmt: skip
    assert results["ensemble (5, bagging)"]["members"] == 5
    for row in results.values():
        assert 0.1 < row["test_accuracy"] <= 1 and 0.1 < row["train_accuracy"] <= 1  # chance is 0.1
    stopped = results["early stopping"]
    assert 1 <= stopped["best_epoch"] <= stopped["epochs"] <= 4
    assert all(row["epochs"] == 4 for name, row in results.items() if name != "early stopping")
    check_figure(result, tmp_path, "regularisation.png")


def test_transfer_learning_compares_frozen_fine_tuned_and_scratch(tmp_path):
    example = load("transfer_learning")
    argv = ["--train-limit", "3000", "--test-limit", "600", "--sizes", "5,20", "--source-epochs", "1", "--steps", "20"]
    result = example.main([*argv, "--out", str(tmp_path)])
    assert result["source_accuracy"] > 0.4  # five classes: chance is 0.2
    assert result["sizes"] == [5, 20]
    assert list(result["results"]) == ["frozen top + head", "frozen s4 + head", "fine-tuning", "from scratch"]
    for accuracies in result["results"].values():
        assert len(accuracies) == 2 and all(0 <= a <= 1 and not math.isnan(a) for a in accuracies)
    assert result["results"]["frozen s4 + head"][-1] > 0.4
    lenet5_for_5_classes = 61_706 - 84 * 5 - 5  # LeNet-5 has 61,706 parameters with a 10-class output layer
    assert result["trainable_parameters"] == {  # a new head only on the frozen features: 84 or 16*5*5 inputs
        "frozen top + head": 84 * 5 + 5, "frozen s4 + head": 400 * 5 + 5, "fine-tuning": lenet5_for_5_classes,
        "from scratch": lenet5_for_5_classes,
    }  # fmt: skip
    check_figure(result, tmp_path, "transfer_learning.png")
