"""Metrics: accuracy for index, one-hot and binary targets, top-k against torch.topk, accumulation, names."""

import numpy as np
import pytest

import dagrad as dg
from dagrad.errors import ArgumentError, ShapeError
from dagrad.train import metrics as M

torch = pytest.importorskip("torch")


def _scores(n=12, c=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, c)).astype(np.float32), rng.integers(0, c, n)


def test_accuracy_with_indices_one_hot_and_tensors():
    out, y = _scores()
    expected = float((out.argmax(1) == y).mean())
    assert M.accuracy(out, y) == expected
    assert M.accuracy(dg.tensor(out), dg.tensor(y)) == expected
    assert M.accuracy(out, np.eye(5, dtype=np.float32)[y]) == expected
    assert M.accuracy((dg.tensor(out), dg.tensor(out)), dg.tensor(y)) == expected  # a model with two outputs


def test_accuracy_per_position_for_dense_outputs():
    rng = np.random.default_rng(1)
    out, y = rng.standard_normal((2, 4, 3, 3)), rng.integers(0, 4, (2, 3, 3))
    assert M.accuracy(out, y) == float((out.argmax(1) == y).mean())


def test_binary_accuracy_with_threshold():
    p = np.array([0.9, 0.2, 0.6, 0.4], np.float32)
    y = np.array([1, 0, 0, 0])
    assert M.accuracy(p, y) == 0.75
    assert M.accuracy(p[:, None], y.astype(np.float32)[:, None]) == 0.75
    assert M.accuracy(p - 0.5, y, threshold=0.0) == 0.75


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_accuracy_matches_torch_topk(k):
    out, y = _scores(n=20, c=6, seed=k)
    top = torch.topk(torch.tensor(out), k, dim=1).indices.numpy()
    expected = float((top == y[:, None]).any(1).mean())
    assert M.top_k_accuracy(out, y, k) == expected
    metric = M.get(f"top{k}_accuracy")
    metric.update(out[:7], y[:7])
    metric.update(out[7:], y[7:])
    assert metric.compute() == pytest.approx(expected)


def test_metrics_accumulate_weighted_by_samples():
    out, y = _scores(n=10)
    acc = M.Accuracy()
    acc.update(out[:8], y[:8])
    acc.update(out[8:], y[8:])
    assert acc.compute() == pytest.approx(M.accuracy(out, y))
    acc.reset()
    assert np.isnan(acc.compute())
    mean = M.Mean()
    mean.update(1.0, 3)
    mean.update(2.0, 1)
    assert mean.compute() == 1.25


def test_regression_metrics_and_functions():
    a, b = np.arange(6.0).reshape(3, 2), np.ones((3, 2))
    mse, mae = M.get("mse"), M.get("mae")
    mse.update(a, b)
    mae.update(a, b)
    assert mse.compute() == pytest.approx(((a - b) ** 2).mean())
    assert mae.compute() == pytest.approx(np.abs(a - b).mean())
    fn = M.get(lambda o, t: 1.0)
    fn.update(a, b)
    assert fn.compute() == 1.0


def test_names_and_errors():
    assert isinstance(M.get("accuracy"), M.Accuracy)
    assert M.get("top_k_accuracy").k == 5 and M.get("top_k_accuracy").name == "top5_accuracy"
    assert M.get("top3_acc").name == "top3_acc"
    with pytest.raises(ArgumentError, match="received 'f1'"):
        M.get("f1")
    with pytest.raises(ArgumentError, match="k"):
        M.TopKAccuracy(0)
    with pytest.raises(ShapeError, match="batch size"):
        M.accuracy(np.zeros((4, 3)), np.zeros(5, np.int64))
    with pytest.raises(ShapeError, match=r"class indices"):
        M.accuracy(np.zeros((4, 3)), np.zeros((4, 2, 2), np.int64))
