"""Ensemble: averaging equals the mean of the members' outputs, voting picks the majority (ties by the mean),
binary members, and bagging on bootstrap samples from a seeded generator."""

import numpy as np
import pytest

import dagrad as dg
from dagrad import data
from dagrad.errors import ArgumentError
from dagrad.nn.loss import CrossEntropyLoss
from dagrad.nn.module import Module
from dagrad.train import Ensemble, Trainer, bagging
from tests.train import SGD, blobs, mlp


class Fixed(Module):
    """A 'model' returning fixed outputs, to script the members' votes."""

    def __init__(self, out):
        super().__init__()
        self.out = np.asarray(out, np.float32)

    def forward(self, x):
        return dg.tensor(self.out)


def test_average_is_the_mean_of_members_outputs_and_differentiable():
    members = [mlp() for _ in range(3)]
    ens = Ensemble(members)
    x = dg.tensor(blobs(10)[0])
    out = ens(x)
    np.testing.assert_allclose(out.data, np.mean([m(x).data for m in members], axis=0), rtol=1e-6)
    out.sum().backward()
    assert all(p.grad is not None for p in ens.parameters())
    assert len(list(ens.parameters())) == 3 * len(list(members[0].parameters()))
    np.testing.assert_array_equal(ens.predict(x).data, out.data.argmax(1))


def test_vote_picks_the_majority_and_breaks_ties_by_the_mean():
    a = [[0.9, 0.1, 0.0], [0.0, 0.2, 0.8]]
    b = [[0.6, 0.4, 0.0], [0.0, 0.7, 0.3]]
    c = [[0.0, 0.0, 1.0], [0.1, 0.0, 0.9]]
    ens = Ensemble([Fixed(a), Fixed(b), Fixed(c)], mode="vote")
    x = dg.zeros(2, 1)
    np.testing.assert_allclose(ens(x).data, [[2 / 3, 0, 1 / 3], [0, 1 / 3, 2 / 3]], rtol=1e-6)
    assert ens.predict(x).tolist() == [0, 2]
    tie = Ensemble([Fixed([[0.6, 0.4]]), Fixed([[0.0, 1.0]])], mode="vote")  # 1 vote each; mean favours class 1
    assert tie.predict(x).tolist() == [1]
    assert Ensemble([Fixed(a), Fixed(b), Fixed(c)]).predict(x).tolist() == [0, 2]


def test_binary_members():
    members = [Fixed([[0.9], [0.2]]), Fixed([[0.8], [0.6]]), Fixed([[0.1], [0.3]])]
    x = dg.zeros(2, 1)
    assert Ensemble(members, mode="vote").predict(x).tolist() == [1, 0]
    np.testing.assert_allclose(Ensemble(members, mode="vote")(x).data, [[2 / 3], [1 / 3]], rtol=1e-6)
    assert Ensemble(members).predict(x).tolist() == [1, 0]


def test_errors():
    with pytest.raises(ArgumentError, match="at least one"):
        Ensemble([])
    with pytest.raises(ArgumentError, match="mode"):
        Ensemble([mlp()], mode="median")


def test_bagging_trains_members_on_seeded_bootstrap_samples():
    x, y = blobs(64)
    dataset = (dg.tensor(x), dg.tensor(y))

    def train(seed):
        opt = lambda p: SGD(p, lr=0.1)
        return bagging(mlp, 3, dataset, CrossEntropyLoss(), opt, epochs=3, batch_size=16, generator=dg.Generator(seed))

    ens = train(7)
    assert len(ens) == 3 and len(ens.bootstrap_indices) == 3
    idx = ens.bootstrap_indices[0]
    assert idx.shape == (64,) and len(np.unique(idx)) < 64  # drawn with replacement
    again = Ensemble.fit_bagging(
        mlp, 3, data.TensorDataset(*dataset), CrossEntropyLoss(), SGD, generator=dg.Generator(7)
    )
    for i, j in zip(ens.bootstrap_indices, again.bootstrap_indices):
        np.testing.assert_array_equal(i, j)
    xv, yv = blobs(48, seed=1)
    assert float((ens.predict(dg.tensor(xv)).data == yv).mean()) > 0.9
    logs = Trainer(ens, CrossEntropyLoss(), SGD(ens.parameters())).evaluate([(dg.tensor(xv), dg.tensor(yv))])
    assert logs["accuracy"] > 0.9
