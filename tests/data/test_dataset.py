"""Dataset, TensorDataset, Subset, ConcatDataset, random_split and default_collate."""

from collections import namedtuple

import numpy as np
import pytest

import dagrad as dg
from dagrad.data import ConcatDataset, Dataset, Subset, TensorDataset, default_collate, random_split
from dagrad.errors import ArgumentError, ShapeError


def make(n=10):
    x = np.arange(n * 6, dtype=np.float32).reshape(n, 2, 3)
    y = np.arange(n, dtype=np.int64)
    return TensorDataset(dg.tensor(x), y), x, y


class Squares(Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, i):
        return dg.tensor([float(i)]), i * i


def test_tensor_dataset_items_and_batches():
    ds, x, y = make()
    assert len(ds) == 10
    a, b = ds[3]
    np.testing.assert_array_equal(a.numpy(), x[3])
    assert b.item() == 3
    idx = np.array([4, 0, 9])
    xb, yb = ds.get_batch(idx)
    assert isinstance(xb, dg.Tensor) and xb.shape == (3, 2, 3)
    np.testing.assert_array_equal(xb.numpy(), x[idx])
    np.testing.assert_array_equal(yb.numpy(), y[idx])
    xb.data[...] = -1  # batches are copies: the dataset is untouched
    np.testing.assert_array_equal(ds.tensors[0].numpy(), x)


def test_tensor_dataset_rejects_unequal_lengths():
    with pytest.raises(ShapeError, match="TensorDataset"):
        TensorDataset(dg.zeros(3, 2), dg.zeros(4))
    with pytest.raises(ArgumentError, match="TensorDataset"):
        TensorDataset()


def test_base_get_batch_collates_samples():
    xb, yb = Squares().get_batch(np.array([2, 3]))
    np.testing.assert_array_equal(xb.numpy(), [[2.0], [3.0]])
    assert yb.dtype == dg.int64 and yb.tolist() == [4, 9]


def test_subset_maps_indices_and_batches():
    ds, x, y = make()
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3
    assert sub[1][1].item() == 2
    xb, yb = sub.get_batch(np.array([2, 0]))
    np.testing.assert_array_equal(yb.numpy(), [5, 7])
    np.testing.assert_array_equal(xb.numpy(), x[[5, 7]])


def test_concat_dataset_batches_in_requested_order():
    a, xa, ya = make(4)
    b = TensorDataset(dg.tensor(xa + 100), dg.tensor(ya + 100))
    both = a + b
    assert isinstance(both, ConcatDataset) and len(both) == 8
    assert both[5][1].item() == 101 and both[-1][1].item() == 103
    idx = np.array([6, 1, 4, 0, 7])
    xb, yb = both.get_batch(idx)
    np.testing.assert_array_equal(yb.numpy(), [102, 1, 100, 0, 103])
    np.testing.assert_array_equal(xb.numpy()[0], xa[2] + 100)
    with pytest.raises(IndexError, match="ConcatDataset"):
        both.get_batch(np.array([8]))
    mixed = ConcatDataset([Squares(), TensorDataset(dg.ones(3, 1), dg.arange(3))])  # a part without a fast path
    xs, ys = mixed.get_batch(np.array([8, 1, 3]))
    assert ys.tolist() == [1, 1, 9] and xs.numpy().ravel().tolist() == [1.0, 1.0, 3.0]
    with pytest.raises(ShapeError, match="ConcatDataset"):
        ConcatDataset([Squares(), a]).get_batch(np.array([8, 1]))


def test_random_split_sizes_and_disjoint():
    ds, _, _ = make(10)
    parts = random_split(ds, [3, 7], generator=dg.Generator(1))
    assert [len(p) for p in parts] == [3, 7]
    seen = np.concatenate([p.indices for p in parts])
    assert sorted(seen.tolist()) == list(range(10))
    fractions = random_split(ds, [0.5, 0.3, 0.2])
    assert [len(p) for p in fractions] == [5, 3, 2]
    assert [len(p) for p in random_split(range(11), [0.5, 0.5])] == [6, 5]
    again = random_split(ds, [3, 7], generator=dg.Generator(1))
    np.testing.assert_array_equal(again[0].indices, parts[0].indices)
    with pytest.raises(ArgumentError, match="random_split"):
        random_split(ds, [3, 3])


def test_random_split_follows_manual_seed():
    dg.manual_seed(5)
    a = random_split(range(20), [10, 10])[0].indices
    dg.manual_seed(5)
    np.testing.assert_array_equal(random_split(range(20), [10, 10])[0].indices, a)


def test_default_collate_structures():
    Point = namedtuple("Point", "x y")
    batch = default_collate([(np.ones(2), 1, 0.5, "a", {"k": True}), (np.zeros(2), 2, 1.5, "b", {"k": False})])
    arr, ints, floats, strs, maps = batch
    assert arr.shape == (2, 2) and ints.dtype == dg.int64 and floats.dtype == dg.float64
    assert strs == ["a", "b"] and maps["k"].dtype == dg.bool
    pts = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(pts, Point) and pts.x.tolist() == [1, 3]
    with pytest.raises(ShapeError, match="default_collate"):
        default_collate([np.ones(2), np.ones(3)])
