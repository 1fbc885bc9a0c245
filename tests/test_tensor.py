"""Tensor basics: factories and their dtypes, seeding, metadata, conversions, NumPy interop, repr, deepcopy."""

import copy

import numpy as np
import pytest

import dagrad as dg
from dagrad.errors import DtypeError, GradientError

# ---- dtype inference of dg.tensor ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data,dtype",
    [
        ([1.0, 2.0], dg.float32),
        ([1, 2.5], dg.float32),
        (3.0, dg.float32),
        ([1, 2], dg.int64),
        (7, dg.int64),
        ([True, False], dg.bool),
        (True, dg.bool),
        ([[1.0], [2.0]], dg.float32),
        (np.array([1.0, 2.0]), dg.float64),
        (np.array([1, 2], dtype=np.int32), dg.int32),
        (np.array([1.0], dtype=np.float32), dg.float32),
    ],
)
def test_tensor_infers_dtype_like_torch(data, dtype):
    assert dg.tensor(data).dtype == dtype


def test_tensor_follows_default_dtype():
    dg.set_default_dtype(dg.float64)
    assert dg.tensor([1.0]).dtype == dg.float64
    assert dg.zeros(2).dtype == dg.float64
    assert dg.tensor([1]).dtype == dg.int64


def test_tensor_explicit_dtype():
    assert dg.tensor([1, 2], dtype=dg.float64).dtype == dg.float64
    assert dg.tensor([1.7, 2.2], dtype=dg.int64).tolist() == [1, 2]


def test_tensor_copies_its_input():
    a = np.array([1.0, 2.0])
    t = dg.tensor(a)
    a[0] = 9.0
    assert t.tolist() == [1.0, 2.0]
    u = dg.tensor(t)
    t.data[1] = 5.0
    assert u.tolist() == [1.0, 2.0]


def test_tensor_from_list_of_tensors():
    t = dg.tensor([dg.tensor(1.0), dg.tensor(2.0)])
    assert t.shape == (2,) and t.dtype == dg.float32


def test_tensor_rejects_non_numbers():
    with pytest.raises(DtypeError, match="numbers"):
        dg.tensor(["a", "b"])


def test_from_numpy_and_as_tensor_share_memory():
    a = np.zeros(3)
    t = dg.from_numpy(a)
    a[0] = 1.0
    assert t.tolist()[0] == 1.0 and t.dtype == dg.float64
    s = dg.as_tensor(a)
    a[1] = 2.0
    assert s.tolist()[1] == 2.0


# ---- factories ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make,shape,dtype,values",
    [
        (lambda: dg.zeros(2, 3), (2, 3), dg.float32, 0.0),
        (lambda: dg.zeros((2, 3)), (2, 3), dg.float32, 0.0),
        (lambda: dg.ones(4), (4,), dg.float32, 1.0),
        (lambda: dg.ones([2, 2], dtype=dg.int64), (2, 2), dg.int64, 1),
        (lambda: dg.full((2, 2), 1.5), (2, 2), dg.float32, 1.5),
        (lambda: dg.full((3,), 7), (3,), dg.int64, 7),
        (lambda: dg.full((3,), True), (3,), dg.bool, True),
        (lambda: dg.full((2,), 2, dtype=dg.float64), (2,), dg.float64, 2.0),
        (lambda: dg.zeros(()), (), dg.float32, 0.0),
        (lambda: dg.zeros(0, 3), (0, 3), dg.float32, None),
    ],
)
def test_constant_factories(make, shape, dtype, values):
    t = make()
    assert t.shape == shape and t.dtype == dtype
    assert not t.requires_grad and t.grad_fn is None
    if values is not None:
        assert (t.data == values).all()


def test_empty():
    t = dg.empty(2, 5)
    assert t.shape == (2, 5) and t.dtype == dg.float32
    assert dg.empty(3, dtype=dg.int64).dtype == dg.int64


def test_eye():
    np.testing.assert_array_equal(dg.eye(3).data, np.eye(3))
    t = dg.eye(2, 4, dtype=dg.float64)
    assert t.shape == (2, 4) and t.dtype == dg.float64
    np.testing.assert_array_equal(t.data, np.eye(2, 4))


@pytest.mark.parametrize(
    "args,expected,dtype",
    [
        ((5,), [0, 1, 2, 3, 4], dg.int64),
        ((1, 4), [1, 2, 3], dg.int64),
        ((0, 10, 3), [0, 3, 6, 9], dg.int64),
        ((0, 1, 0.25), [0.0, 0.25, 0.5, 0.75], dg.float32),
        ((2.0,), [0.0, 1.0], dg.float32),
    ],
)
def test_arange(args, expected, dtype):
    t = dg.arange(*args)
    assert t.dtype == dtype
    np.testing.assert_allclose(t.data, expected)


def test_arange_dtype_argument():
    assert dg.arange(3, dtype=dg.float64).dtype == dg.float64


def test_linspace():
    t = dg.linspace(0, 1, 5)
    assert t.dtype == dg.float32 and t.shape == (5,)
    np.testing.assert_allclose(t.data, [0, 0.25, 0.5, 0.75, 1.0])
    assert dg.linspace(-1, 1, 3, dtype=dg.float64).dtype == dg.float64


def test_rand_and_randn():
    u = dg.rand(100, 10)
    assert u.shape == (100, 10) and u.dtype == dg.float32
    assert (u.data >= 0).all() and (u.data < 1).all()
    n = dg.randn(2000)
    assert n.dtype == dg.float32 and abs(float(n.data.mean())) < 0.1 and 0.9 < float(n.data.std()) < 1.1
    assert dg.randn(3, dtype=dg.float64).dtype == dg.float64
    assert dg.rand(2, requires_grad=True).requires_grad


def test_randint():
    t = dg.randint(3, 7, (50,))
    assert t.dtype == dg.int64 and t.shape == (50,)
    assert t.data.min() >= 3 and t.data.max() < 7
    u = dg.randint(5, (4, 2))  # randint(high, size)
    assert u.shape == (4, 2) and u.data.min() >= 0 and u.data.max() < 5


def test_randperm():
    t = dg.randperm(10)
    assert t.dtype == dg.int64
    assert sorted(t.tolist()) == list(range(10))


@pytest.mark.parametrize(
    "fn,args",
    [
        (dg.zeros_like, ()),
        (dg.ones_like, ()),
        (dg.empty_like, ()),
        (dg.full_like, (3,)),
        (dg.rand_like, ()),
        (dg.randn_like, ()),
    ],
)
def test_like_factories_keep_shape_and_dtype(fn, args):
    x = dg.tensor(np.zeros((2, 3)))  # float64
    t = fn(x, *args)
    assert t.shape == (2, 3) and t.dtype == dg.float64 and not t.requires_grad
    assert fn(x, *args, dtype=dg.float32).dtype == dg.float32


def test_like_factories_values():
    x = dg.tensor([[1, 2], [3, 4]])
    assert dg.zeros_like(x).tolist() == [[0, 0], [0, 0]] and dg.zeros_like(x).dtype == dg.int64
    assert dg.ones_like(x).tolist() == [[1, 1], [1, 1]]
    assert dg.full_like(x, 5).tolist() == [[5, 5], [5, 5]]
    r = dg.randint_like(x, 10)
    assert r.shape == (2, 2) and r.dtype == dg.int64 and r.data.max() < 10
    assert dg.ones_like(dg.ones(2), requires_grad=True).requires_grad


# ---- random generators ----------------------------------------------------------------------------------------


def test_manual_seed_reproduces_every_random_factory():
    def draw():
        return [
            dg.rand(3).tolist(),
            dg.randn(2, 2).tolist(),
            dg.randint(0, 100, (5,)).tolist(),
            dg.randperm(6).tolist(),
        ]

    dg.manual_seed(123)
    first = draw()
    dg.manual_seed(123)
    assert draw() == first
    dg.manual_seed(124)
    assert draw() != first


def test_generator_is_independent_of_the_global_stream():
    g1 = dg.Generator().manual_seed(7)
    g2 = dg.Generator().manual_seed(7)
    dg.manual_seed(0)
    a = dg.randn(4, generator=g1).tolist()
    glob = dg.randn(4).tolist()
    b = dg.randn(4, generator=g2).tolist()
    assert a == b
    dg.manual_seed(0)
    assert dg.randn(4).tolist() == glob, "drawing from a Generator must not advance the global stream"
    assert g1.initial_seed() == 7


def test_generator_state_round_trip():
    g = dg.Generator(3)
    state = g.get_state()
    a = dg.rand(5, generator=g).tolist()
    g.set_state(state)
    assert dg.rand(5, generator=g).tolist() == a


# ---- metadata and conversions ---------------------------------------------------------------------------------


def test_metadata():
    t = dg.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.dim() == 3
    assert t.numel() == 24 and t.size() == (2, 3, 4) and t.size(1) == 3
    assert t.dtype == dg.float32 and t.is_floating_point() and t.is_leaf
    assert t.device == dg.device("cpu") and str(t.device) == "cpu"
    assert len(t) == 2
    assert not dg.tensor([1]).is_floating_point()


def test_item_and_scalar_conversions():
    assert dg.tensor([[2.5]]).item() == 2.5
    assert isinstance(dg.tensor(3).item(), int)
    assert isinstance(dg.tensor(True).item(), bool)
    assert float(dg.tensor(1.5)) == 1.5 and int(dg.tensor(4)) == 4
    assert [10, 20, 30][dg.tensor(1)] == 20


def test_tolist():
    assert dg.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert dg.tensor(2.0).tolist() == 2.0


def test_numpy_shares_memory():
    t = dg.zeros(3)
    a = t.numpy()
    a[0] = 4.0
    assert t.tolist()[0] == 4.0


def test_detach_shares_data_and_cuts_the_graph():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.data, y.data)
    d.numpy()[0] = 7.0
    assert y.data[0] == 7.0


def test_clone_copies_and_keeps_the_graph():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.grad_fn is not None and not np.shares_memory(c.data, x.data)
    c.backward(dg.tensor([1.0, 1.0]))
    assert x.grad.tolist() == [1.0, 1.0]


def test_to_dtype():
    x = dg.tensor([1.5, -2.5])
    assert x.to(dg.float64).dtype == dg.float64
    assert x.to(dg.int64).tolist() == [1, -2]
    assert x.double().dtype == dg.float64 and x.long().dtype == dg.int64 and x.float() is x
    assert x.to(dg.float32) is x
    assert x.to("cpu") is x


def test_to_dtype_is_differentiable():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(dg.float64)
    assert y.grad_fn is not None
    y.backward(dg.tensor([1.0, 3.0], dtype=dg.float64))
    assert x.grad.dtype == dg.float32 and x.grad.tolist() == [1.0, 3.0]


def test_requires_grad_():
    x = dg.zeros(2)
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    with pytest.raises(DtypeError):
        dg.zeros(2, dtype=dg.int64).requires_grad_()


def test_requires_grad_false_on_non_leaf_raises():
    y = dg.ones(2, requires_grad=True) * 2.0
    with pytest.raises(GradientError, match="detach"):
        y.requires_grad_(False)


# ---- NumPy interop --------------------------------------------------------------------------------------------


def test_array_protocol():
    t = dg.tensor([[1.0, 2.0]])
    a = np.asarray(t)
    assert isinstance(a, np.ndarray) and a.dtype == np.float32 and a.shape == (1, 2)
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.array(dg.tensor([1, 2])).tolist() == [1, 2]


def test_np_asarray_shares_and_np_array_copies():
    t = dg.tensor([1.0, 2.0])
    np.asarray(t)[0] = 5.0
    assert t.tolist() == [5.0, 2.0]
    np.array(t)[1] = 7.0
    assert t.tolist() == [5.0, 2.0]


def test_ndarray_plus_tensor_returns_a_tensor():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    a = np.array([10.0, 20.0], dtype=np.float32)
    for r in (a + x, x + a, a * x, a - x, a / x):
        assert isinstance(r, dg.Tensor) and r.requires_grad
    assert (a + x).tolist() == [11.0, 22.0]
    assert (a - x).tolist() == [9.0, 18.0]
    (a * x).backward(dg.ones(2))
    assert x.grad.tolist() == [10.0, 20.0]


def test_numpy_scalar_with_tensor():
    x = dg.tensor([1.0, 2.0])
    r = np.float32(2.0) * x
    assert isinstance(r, dg.Tensor) and r.tolist() == [2.0, 4.0]


# ---- repr -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make,text",
    [
        (lambda: dg.tensor([1.0, 2.0], requires_grad=True), "tensor([1., 2.], requires_grad=True)"),
        (lambda: dg.tensor([1.5, 2.0]), "tensor([1.5000, 2.0000])"),
        (lambda: dg.tensor(2.5), "tensor(2.5000)"),
        (lambda: dg.tensor([1, 2]), "tensor([1, 2])"),
        (lambda: dg.tensor([True, False]), "tensor([ True, False])"),
        (lambda: dg.tensor([True, True]), "tensor([True, True])"),
        (lambda: dg.tensor([1.0, 2.0], dtype=dg.float64), "tensor([1., 2.], dtype=dagrad.float64)"),
        (lambda: dg.tensor([1, 2], dtype=dg.int32), "tensor([1, 2], dtype=dagrad.int32)"),
        (lambda: dg.tensor([1e-5, 2e5]), "tensor([1.0000e-05, 2.0000e+05])"),
        (lambda: dg.tensor([]), "tensor([])"),
        (lambda: dg.zeros(0, dtype=dg.int64), "tensor([], dtype=dagrad.int64)"),
        (lambda: dg.zeros(2, 0), "tensor([], size=(2, 0))"),
        (lambda: dg.tensor([[1.0, 2.0], [3.0, 4.0]]), "tensor([[1., 2.],\n        [3., 4.]])"),
    ],
)
def test_repr_looks_like_torch(make, text):
    assert repr(make()) == text


def test_repr_of_a_non_leaf_names_its_grad_fn():
    y = dg.tensor([1.0, 2.0], requires_grad=True) * 2.0
    assert repr(y).startswith("tensor([2., 4.], grad_fn=<Mul")


def test_repr_matches_torch_on_assorted_values():
    torch = pytest.importorskip("torch")
    for values in ([0.1234567, -3.0], [1.0, 1001.0], [float("inf"), 1.5], [[0.1] * 12] * 2, [-1.0, 2.0]):
        a = np.array(values, dtype=np.float32)
        assert repr(dg.tensor(a)) == repr(torch.tensor(a))


# ---- deepcopy -------------------------------------------------------------------------------------------------


def test_deepcopy_of_a_leaf():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    x.grad = dg.tensor([0.5, 0.5])
    c = copy.deepcopy(x)
    assert c is not x and c.requires_grad and c.is_leaf
    assert c.tolist() == [1.0, 2.0] and c.grad.tolist() == [0.5, 0.5]
    assert not np.shares_memory(c.data, x.data) and not np.shares_memory(c.grad.data, x.grad.data)
    c.data[0] = 9.0
    assert x.tolist() == [1.0, 2.0]


def test_deepcopy_keeps_shared_references_shared():
    x = dg.ones(2)
    a, b = copy.deepcopy([x, x])
    assert a is b and a is not x


def test_deepcopy_of_a_non_leaf_raises():
    y = dg.ones(2, requires_grad=True) * 2.0
    with pytest.raises(GradientError, match="leaf"):
        copy.deepcopy(y)
