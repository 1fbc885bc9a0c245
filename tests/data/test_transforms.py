"""Transforms: shapes, dtypes, invariants, per-image randomness on a batch, determinism under a seed."""

import numpy as np
import pytest

import dagrad as dg
from dagrad.data import transforms as T
from dagrad.errors import ArgumentError, ShapeError


def batch(n=6, c=2, h=9, w=11, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w), dtype=np.float32)


def test_to_tensor_layouts():
    hw = np.arange(12, dtype=np.uint8).reshape(3, 4)
    t = T.ToTensor()(hw)
    assert isinstance(t, dg.Tensor) and t.shape == (1, 3, 4) and t.dtype == dg.float32
    np.testing.assert_allclose(t.numpy()[0], hw / 255, rtol=1e-6)
    hwc = np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    np.testing.assert_allclose(T.ToTensor()(hwc).numpy(), hwc.transpose(2, 0, 1) / 255, rtol=1e-6)
    nhwc = np.stack([hwc, hwc])
    assert T.ToTensor()(nhwc).shape == (2, 3, 5, 4) and T.ToTensor()(nhwc).data.flags.c_contiguous
    already = dg.rand(3, 5, 4)
    assert T.ToTensor()(already) is already


def test_normalize_and_its_inverse():
    x = batch(c=3)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    y = T.Normalize(mean, std)(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    back = y * np.array(std, np.float32)[:, None, None] + np.array(mean, np.float32)[:, None, None]
    np.testing.assert_allclose(back, x, atol=1e-6)
    single = T.Normalize(mean, std)(dg.tensor(x[0]))
    assert isinstance(single, dg.Tensor)
    np.testing.assert_allclose(single.numpy(), y[0], atol=1e-6)
    with pytest.raises(ShapeError, match="Normalize"):
        T.Normalize((0.1, 0.2), (1, 1))(x)
    with pytest.raises(ArgumentError, match="std"):
        T.Normalize(0, 0)


def test_flip_twice_is_identity_and_per_image():
    x = batch(n=64)
    once = T.RandomHorizontalFlip(0.5, generator=dg.Generator(1))(x)
    flipped = [not np.array_equal(once[i], x[i]) for i in range(64)]
    assert 10 < sum(flipped) < 54  # each image draws its own coin
    for i in range(64):
        np.testing.assert_array_equal(once[i], x[i, :, :, ::-1] if flipped[i] else x[i])
    always = T.RandomHorizontalFlip(1.0)
    np.testing.assert_array_equal(always(always(x)), x)
    np.testing.assert_array_equal(T.RandomVerticalFlip(1.0)(x), x[:, :, ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(0.0)(x), x)


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_crop_with_padding_keeps_size_and_content(mode):
    x = batch(n=20)
    out = T.RandomCrop((9, 11), padding=2, padding_mode=mode, generator=dg.Generator(0))(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)), mode=mode)
    for i in range(20):  # every crop is some window of its own padded image
        assert any(np.array_equal(padded[i, :, a : a + 9, b : b + 11], out[i]) for a in range(5) for b in range(5))
    offsets = {tuple(np.argwhere(out[i, 0] == x[i, 0, 4, 5])[0]) for i in range(20)}
    assert len(offsets) > 1  # crops differ between images


def test_crop_smaller_and_pad_if_needed():
    x = batch(n=3, h=5, w=5)
    assert T.RandomCrop(3)(x).shape == (3, 2, 3, 3)
    assert T.RandomCrop(3)(x[0]).shape == (2, 3, 3)
    assert T.RandomCrop((7, 6), pad_if_needed=True)(x).shape == (3, 2, 7, 6)
    with pytest.raises(ShapeError, match="RandomCrop"):
        T.RandomCrop(7)(x)
    with pytest.raises(ArgumentError, match="padding"):
        T.RandomCrop(3, padding=(1, 2, 3))


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_rotation_by_zero_is_identity(interpolation):
    x = batch()
    np.testing.assert_array_equal(T.RandomRotation((0, 0), interpolation=interpolation)(x), x)
    u8 = (x * 255).astype(np.uint8)
    np.testing.assert_array_equal(T.RandomAffine(0, interpolation=interpolation)(u8), u8)


def test_rotation_by_90_degrees_turns_counter_clockwise():
    x = batch(n=2, h=8, w=8)
    out = T.RandomRotation((90, 90))(x)
    np.testing.assert_array_equal(out, np.rot90(x, 1, axes=(2, 3)))
    np.testing.assert_allclose(T.RandomRotation((90, 90), interpolation="bilinear")(x), out, atol=1e-6)


def test_affine_translate_scale_and_fill():
    x = np.ones((4, 1, 10, 10), np.float32)
    shifted = T.RandomAffine(0, translate=(0.3, 0.3), fill=-1, generator=dg.Generator(3))(x)
    assert shifted.shape == x.shape and set(np.unique(shifted)) <= {-1.0, 1.0}
    assert (shifted == -1).any()
    shrunk = T.RandomAffine(0, scale=(0.5, 0.5))(x)
    assert shrunk[0, 0, 0, 0] == 0 and shrunk[0, 0, 5, 5] == 1
    sheared = T.RandomAffine(0, shear=(20, 20, 10, 10), interpolation="bilinear")(x)
    assert (sheared < 1).any() and sheared.dtype == np.float32
    with pytest.raises(ArgumentError, match="interpolation"):
        T.RandomAffine(10, interpolation="cubic")
    with pytest.raises(ArgumentError, match="degrees"):
        T.RandomRotation(-5)


def test_random_transforms_draw_per_image_angles():
    x = np.zeros((8, 1, 15, 15), np.float32)
    x[:, :, 7, :] = 1  # a horizontal bar
    out = T.RandomRotation(90, generator=dg.Generator(4))(x)
    assert len({out[i].tobytes() for i in range(8)}) == 8


def test_determinism_under_a_seed():
    pipeline = T.Compose([T.RandomCrop(9, padding=1), T.RandomHorizontalFlip(), T.RandomAffine(15, (0.1, 0.1))])
    assert pipeline.batched
    x = batch(h=9, w=9)
    dg.manual_seed(11)
    a = pipeline(x)
    dg.manual_seed(11)
    np.testing.assert_array_equal(pipeline(x), a)
    assert not np.array_equal(pipeline(x), a)
    b = T.RandomCrop(5, generator=dg.Generator(8))(x)
    np.testing.assert_array_equal(T.RandomCrop(5, generator=dg.Generator(8))(x), b)


def test_tensor_in_tensor_out_and_bad_shapes():
    t = dg.tensor(batch())
    out = T.Compose([T.RandomHorizontalFlip(), T.Normalize(0.5, 0.5)])(t)
    assert isinstance(out, dg.Tensor) and out.shape == t.shape
    assert not T.Compose([T.Normalize(0, 1), lambda v: v]).batched
    with pytest.raises(ShapeError, match="RandomHorizontalFlip"):
        T.RandomHorizontalFlip()(np.zeros((4, 4)))
    assert "RandomCrop(size=(3, 3)" in repr(T.RandomCrop(3))
