"""ImageFolder: class folders, Pillow decoding (an optional extra), the error without Pillow."""

import builtins

import numpy as np
import pytest

import dagrad as dg
from dagrad.data import DataLoader, DatasetError
from dagrad.data.datasets import ImageFolder


def write_pngs(root, image_mode="RGB"):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    arrays = {}
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            shape = (6, 5, 3) if image_mode == "RGB" else (6, 5)
            a = rng.integers(0, 256, shape, dtype=np.uint8)
            Image.fromarray(a, image_mode).save(root / cls / f"{i}.png")
            arrays[(cls, i)] = a
    (root / "dog" / "notes.txt").write_text("not an image")
    return arrays


def test_image_folder_items_and_loader(tmp_path):
    arrays = write_pngs(tmp_path)
    ds = ImageFolder(tmp_path)
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    assert len(ds) == 6 and ds.targets.tolist() == [0, 0, 0, 1, 1, 1]
    image, label = ds[4]
    assert image.shape == (3, 6, 5) and image.dtype == dg.float32 and label == 1
    np.testing.assert_allclose(image.numpy(), arrays[("dog", 1)].transpose(2, 0, 1) / 255, rtol=1e-6)
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert xb.shape == (4, 3, 6, 5) and yb.tolist() == [0, 0, 0, 1]
    td = ds.as_tensor_dataset()
    np.testing.assert_array_equal(td.tensors[0].numpy()[4], image.numpy())


def test_grey_mode(tmp_path):
    arrays = write_pngs(tmp_path, "L")
    image, _ = ImageFolder(tmp_path, mode="L")[0]
    np.testing.assert_allclose(image.numpy()[0], arrays[("cat", 0)] / 255, rtol=1e-6)


def test_errors(tmp_path, monkeypatch):
    with pytest.raises(DatasetError, match="directory"):
        ImageFolder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="received none"):
        ImageFolder(tmp_path)
    (tmp_path / "empty" / "a.png").write_bytes(b"\x89PNG but no image")
    real_import = builtins.__import__

    def no_pillow(name, *args, **kwargs):
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError("No module named 'PIL'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pillow)
    with pytest.raises(DatasetError, match=r"dagrad\[images\]"):
        ImageFolder(tmp_path)[0]
    monkeypatch.undo()
    pytest.importorskip("PIL")
    with pytest.raises(DatasetError, match="readable image"):
        ImageFolder(tmp_path)[0]
