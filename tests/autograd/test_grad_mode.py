"""Grad modes: no_grad, enable_grad, set_grad_enabled, inference_mode record and save nothing, and restore."""

import threading
import weakref

import numpy as np
import pytest

import dagrad as dg


def leaf(values=(1.0, 2.0)):
    return dg.tensor(list(values), requires_grad=True)


def assert_untracked(t):
    assert t.grad_fn is None
    assert not t.requires_grad


OFF_CONTEXTS = [
    pytest.param(dg.no_grad, id="no_grad"),
    pytest.param(dg.inference_mode, id="inference_mode"),
    pytest.param(lambda: dg.set_grad_enabled(False), id="set_grad_enabled(False)"),
]


@pytest.mark.parametrize("ctx", OFF_CONTEXTS)
def test_context_records_nothing(ctx):
    x = leaf()
    with ctx():
        assert not dg.is_grad_enabled()
        y = x * 2.0 + 1.0
        z = x.exp()
    assert_untracked(y)
    assert_untracked(z)
    assert dg.is_grad_enabled()
    np.testing.assert_allclose(y.data, [3.0, 5.0])


@pytest.mark.parametrize("ctx", OFF_CONTEXTS)
def test_context_saves_nothing(ctx):
    x = leaf()
    with ctx():
        h = x.exp()
        ref = weakref.ref(h)
        y = h * h  # Mul would save h if it were recording
        del h
        assert ref() is None, "an op under a no-grad mode must not keep its inputs"
    assert_untracked(y)


def test_tracking_mode_does_keep_inputs():
    """The control for test_context_saves_nothing: with recording on, Mul keeps h alive."""
    x = leaf()
    h = x.exp()
    ref = weakref.ref(h)
    y = h * h
    del h
    assert ref() is not None
    assert y.grad_fn is not None


def test_no_grad_input_is_freed_right_after_the_op():
    x = leaf()
    with dg.no_grad():
        a = x * 3.0
        ref = weakref.ref(a)
        b = a.exp()
        del a
        assert ref() is None
    assert_untracked(b)


@pytest.mark.parametrize("ctx", OFF_CONTEXTS)
def test_decorators_record_nothing_and_restore(ctx):
    @ctx()
    def f(x):
        assert not dg.is_grad_enabled()
        return x * 2.0

    assert dg.is_grad_enabled(), "decorating with set_grad_enabled(False) must leave grad mode as it was"

    y = f(leaf())
    assert_untracked(y)
    assert dg.is_grad_enabled()


def test_no_grad_as_bare_decorator_class_instance():
    @dg.no_grad()
    def f(x):
        return x * x

    assert f.__name__ == "f"
    assert_untracked(f(leaf()))


def test_enable_grad_inside_no_grad_records():
    x = leaf()
    with dg.no_grad():
        with dg.enable_grad():
            y = x * 2.0
        z = x * 2.0
    assert y.requires_grad and y.grad_fn is not None
    assert_untracked(z)


def test_enable_grad_decorator_inside_no_grad():
    @dg.enable_grad()
    def f(x):
        return x * 2.0

    with dg.no_grad():
        y = f(leaf())
        assert not dg.is_grad_enabled()
    assert y.grad_fn is not None


def test_set_grad_enabled_as_a_function_call():
    try:
        dg.set_grad_enabled(False)
        assert not dg.is_grad_enabled()
        assert_untracked(leaf() * 2.0)
    finally:
        dg.set_grad_enabled(True)
    assert dg.is_grad_enabled()


def test_set_grad_enabled_true_inside_no_grad():
    with dg.no_grad():
        with dg.set_grad_enabled(True):
            y = leaf() * 2.0
        assert not dg.is_grad_enabled()
    assert y.grad_fn is not None


def test_inference_mode_false_keeps_recording():
    with dg.inference_mode(False):
        y = leaf() * 2.0
    assert y.grad_fn is not None


def test_nesting_restores_each_previous_mode():
    modes = []
    with dg.no_grad():
        modes.append(dg.is_grad_enabled())
        with dg.enable_grad():
            modes.append(dg.is_grad_enabled())
            with dg.set_grad_enabled(False):
                modes.append(dg.is_grad_enabled())
                with dg.inference_mode():
                    modes.append(dg.is_grad_enabled())
                modes.append(dg.is_grad_enabled())
            modes.append(dg.is_grad_enabled())
        modes.append(dg.is_grad_enabled())
    modes.append(dg.is_grad_enabled())
    assert modes == [False, True, False, False, False, True, False, True]


def test_mode_is_restored_when_the_block_raises():
    with pytest.raises(KeyError):
        with dg.no_grad():
            raise KeyError("boom")
    assert dg.is_grad_enabled()

    @dg.no_grad()
    def fail():
        raise KeyError("boom")

    with pytest.raises(KeyError):
        fail()
    assert dg.is_grad_enabled()


def test_decorated_function_is_reentrant():
    @dg.no_grad()
    def f(n):
        assert not dg.is_grad_enabled()
        return f(n - 1) if n else leaf() * 2.0

    assert_untracked(f(3))
    assert dg.is_grad_enabled()


def test_decorated_function_in_threads_restores_mode():
    @dg.no_grad()
    def work(out, i):
        out[i] = (leaf() * 2.0).grad_fn

    results = [object()] * 4
    for i in range(4):  # one after another: grad mode is process-wide, not per thread
        t = threading.Thread(target=work, args=(results, i))
        t.start()
        t.join()
    assert results == [None] * 4
    assert dg.is_grad_enabled()
    assert (leaf() * 2.0).grad_fn is not None


def test_backward_still_works_after_a_no_grad_block():
    x = leaf()
    with dg.no_grad():
        x * 2.0
    y = x * 3.0
    y.backward(dg.ones(2))
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0])


def test_is_inference_mode_enabled_only_inside_inference_mode():
    from dagrad.autograd.grad_mode import is_inference_mode_enabled

    assert not is_inference_mode_enabled()
    with dg.no_grad():
        assert not is_inference_mode_enabled()
    with dg.inference_mode():
        assert is_inference_mode_enabled()
        with dg.inference_mode(False):
            assert not is_inference_mode_enabled()
        assert is_inference_mode_enabled()
    assert not is_inference_mode_enabled()
