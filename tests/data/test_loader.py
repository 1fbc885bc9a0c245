"""DataLoader: len, drop_last, shuffling under a seed, the fast path, collate_fn and prefetch."""

import threading

import numpy as np
import pytest

import dagrad as dg
from dagrad.data import DataLoader, Dataset, TensorDataset
from dagrad.errors import ArgumentError


def dataset(n=10):
    return TensorDataset(dg.tensor(np.arange(n * 2, dtype=np.float32).reshape(n, 2)), dg.arange(n))


class Slow(Dataset):
    """No get_batch: the loader falls back to one sample at a time."""

    def __init__(self, n=10):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return dg.tensor([2.0 * i, 2.0 * i + 1]), i


def labels(loader):
    return [b[1].tolist() for b in loader]


def test_len_and_drop_last():
    assert len(DataLoader(dataset(10), batch_size=3)) == 4
    assert len(DataLoader(dataset(10), batch_size=3, drop_last=True)) == 3
    assert labels(DataLoader(dataset(10), batch_size=3)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert labels(DataLoader(dataset(10), batch_size=3, drop_last=True))[-1] == [6, 7, 8]
    assert len(DataLoader(dataset(2), batch_size=5, drop_last=True)) == 0


def test_batches_are_tensors_from_the_fast_path():
    x, y = next(iter(DataLoader(dataset(), batch_size=4)))
    assert isinstance(x, dg.Tensor) and x.shape == (4, 2) and x.dtype == dg.float32
    assert y.dtype == dg.int64


def test_fast_and_sample_paths_agree():
    a = list(DataLoader(dataset(), batch_size=4))
    b = list(DataLoader(Slow(), batch_size=4))
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())


def test_shuffle_is_a_permutation_and_deterministic_under_a_seed():
    dg.manual_seed(3)
    first = sum(labels(DataLoader(dataset(), batch_size=4, shuffle=True)), [])
    assert sorted(first) == list(range(10)) and first != list(range(10))
    dg.manual_seed(3)
    assert sum(labels(DataLoader(dataset(), batch_size=4, shuffle=True)), []) == first
    loader = DataLoader(dataset(), batch_size=4, shuffle=True, generator=dg.Generator(7))
    epoch1, epoch2 = labels(loader), labels(loader)
    assert epoch1 != epoch2  # a new order every epoch
    again = DataLoader(dataset(), batch_size=4, shuffle=True, generator=dg.Generator(7))
    assert labels(again) == epoch1


def test_collate_fn_receives_samples():
    seen = []

    def collate(samples):
        seen.append(len(samples))
        return [int(s[1]) for s in samples]

    assert list(DataLoader(dataset(5), batch_size=2, collate_fn=collate)) == [[0, 1], [2, 3], [4]]
    assert seen == [2, 2, 1]


@pytest.mark.parametrize("ds", [dataset(23), Slow(23)], ids=["fast", "samples"])
def test_prefetch_gives_the_same_batches(ds):
    plain = DataLoader(ds, batch_size=5, shuffle=True, generator=dg.Generator(2))
    ahead = DataLoader(ds, batch_size=5, shuffle=True, generator=dg.Generator(2), prefetch=3)
    for (xa, ya), (xb, yb) in zip(plain, ahead, strict=True):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())


def test_prefetch_stops_its_thread_on_early_exit():
    loader = DataLoader(dataset(100), batch_size=2, prefetch=2)
    for i, _ in enumerate(loader):
        if i == 3:
            break
    assert not [t for t in threading.enumerate() if t.name == "dagrad-prefetch"]


def test_prefetch_raises_worker_errors_in_order():
    class Broken(Slow):
        def __getitem__(self, i):
            if i == 6:
                raise KeyError("bad sample 6")
            return super().__getitem__(i)

    got = []
    with pytest.raises(KeyError, match="bad sample 6"):
        for _, y in DataLoader(Broken(), batch_size=2, prefetch=2):
            got.append(y.tolist())
    assert got == [[0, 1], [2, 3], [4, 5]]


def test_bad_arguments():
    with pytest.raises(ArgumentError, match="batch_size"):
        DataLoader(dataset(), batch_size=0)
    with pytest.raises(ArgumentError, match="prefetch"):
        DataLoader(dataset(), prefetch=-1)
