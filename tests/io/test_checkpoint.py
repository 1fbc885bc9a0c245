"""Checkpoints: round trip, bit-identical resume, file layout, atomic writes, clear errors."""

import hashlib
import json
import os

import numpy as np
import pytest
import safetensors.numpy

import dagrad as dg
from dagrad import optim
from dagrad.data import DataLoader, TensorDataset
from dagrad.io import CheckpointError, CheckpointNotFoundError, checkpoint_paths, load_checkpoint, save_checkpoint
from dagrad.models import MLP
from dagrad.nn import StateDictError
from dagrad.nn.loss import CrossEntropyLoss
from dagrad.train import Trainer


def make(seed=0):
    """A small model with dropout (so the RNG matters), Adam (arrays and a step count) and a schedule."""
    dg.manual_seed(seed)
    model = MLP(in_features=12, hidden=(16,), num_classes=3, dropout=0.25)
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    return model, opt, sched


def data():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 12)).astype(np.float32)
    return TensorDataset(x, (x[:, :3].argmax(1)).astype(np.int64))


def fit(model, opt, sched, epochs, initial_epoch=0):
    trainer = Trainer(model, CrossEntropyLoss(), opt, scheduler=sched)
    trainer.fit(DataLoader(data(), batch_size=16, shuffle=True), epochs=epochs, initial_epoch=initial_epoch, verbose=0)


def params(model):
    return {k: v.data.copy() for k, v in model.state_dict().items()}


def test_round_trip_restores_model_optimizer_scheduler_epoch_and_extra(tmp_path):
    model, opt, sched = make()
    fit(model, opt, sched, 1)
    path = save_checkpoint(tmp_path / "ckpt", model, opt, sched, epoch=1, extra={"note": "hi", "w": np.arange(3)})
    assert path == tmp_path / "ckpt.json"
    model2, opt2, sched2 = make(seed=5)
    doc = load_checkpoint(tmp_path / "ckpt", model2, opt2, sched2)
    for k, v in params(model).items():
        np.testing.assert_array_equal(model2.state_dict()[k].data, v)
    for p, q in zip(model.parameters(), model2.parameters()):
        s, t = opt.state[p], opt2.state[q]
        assert s["step"] == t["step"] == 4
        np.testing.assert_array_equal(s["exp_avg"], t["exp_avg"])
        np.testing.assert_array_equal(s["exp_avg_sq"], t["exp_avg_sq"])
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == 0.005
    assert opt2.param_groups[0]["betas"] == (0.9, 0.999)
    assert sched2.last_epoch == sched.last_epoch == 1 and sched2.get_last_lr() == sched.get_last_lr()
    assert doc["epoch"] == 1 and doc["extra"]["note"] == "hi"
    np.testing.assert_array_equal(doc["extra"]["w"], np.arange(3))
    assert doc["model"]["class"] == "dagrad.models.mlp.MLP"
    assert doc["optimizer"]["class"] == "dagrad.optim.adam.Adam"


def test_resume_continues_bit_identically(tmp_path):
    model, opt, sched = make()
    fit(model, opt, sched, 2)
    straight = params(model)

    model, opt, sched = make()
    fit(model, opt, sched, 1)
    save_checkpoint(tmp_path / "ckpt", model, opt, sched, epoch=1)
    dg.manual_seed(123)  # what happens between the runs must not matter
    model, opt, sched = make(seed=7)
    doc = load_checkpoint(tmp_path / "ckpt", model, opt, sched)
    fit(model, opt, sched, 2, initial_epoch=doc["epoch"])
    resumed = params(model)
    assert straight.keys() == resumed.keys()
    for k in straight:
        np.testing.assert_array_equal(resumed[k], straight[k], err_msg=k)


def test_rng_state_is_saved_and_restored_unless_asked_not_to(tmp_path):
    model, _, _ = make()
    dg.manual_seed(3)
    save_checkpoint(tmp_path / "c", model)
    expected = dg.rand(4).data
    dg.manual_seed(9)
    load_checkpoint(tmp_path / "c", rng=False)
    assert not np.array_equal(dg.rand(4).data, expected)
    load_checkpoint(tmp_path / "c")
    np.testing.assert_array_equal(dg.rand(4).data, expected)


def test_files_hold_arrays_in_safetensors_and_plain_json(tmp_path):
    model, opt, sched = make()
    fit(model, opt, sched, 1)
    save_checkpoint(tmp_path, model, opt, sched, epoch=1)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.json", "checkpoint.safetensors"]  # no temporary files left
    arrays = safetensors.numpy.load_file(str(tmp_path / "checkpoint.safetensors"))
    assert set(arrays) >= {f"model/{k}" for k in model.state_dict()}
    assert "optimizer/state/0/exp_avg" in arrays
    np.testing.assert_array_equal(arrays["model/layers.0.weight"], model.layers[0].weight.data)
    doc = json.loads((tmp_path / "checkpoint.json").read_text())
    assert doc["format"] == "dagrad.checkpoint" and doc["version"] == 1 and doc["epoch"] == 1
    assert doc["model"]["state_dict"]["layers.0.weight"] == {"__array__": "model/layers.0.weight"}
    assert doc["optimizer"]["state_dict"]["state"]["0"]["step"] == 4
    assert doc["scheduler"]["state_dict"]["last_epoch"] == 1
    assert doc["rng"]["bit_generator"] == "PCG64"


@pytest.mark.parametrize(
    "saved, loaded",
    [
        ("run/", "run"),
        ("run/ckpt", "run/ckpt.json"),
        ("run/ckpt.json", "run/ckpt.safetensors"),
        ("run/ckpt", "run/ckpt"),
    ],
)
def test_paths_may_name_a_directory_a_prefix_or_either_file(tmp_path, saved, loaded):
    model, _, _ = make()
    save_checkpoint(f"{tmp_path}/{saved}", model)  # creates the missing directory
    fresh = make(seed=4)[0]
    load_checkpoint(tmp_path / loaded, fresh)
    np.testing.assert_array_equal(fresh.layers[0].weight.data, model.layers[0].weight.data)
    assert checkpoint_paths(tmp_path / loaded)[1].is_file()


def test_missing_files_raise_not_found(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="nothing.json"):
        load_checkpoint(tmp_path / "nothing")
    model, _, _ = make()
    save_checkpoint(tmp_path / "c", model)
    (tmp_path / "c.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="received no c.safetensors"):
        load_checkpoint(tmp_path / "c")


def test_corrupt_or_mismatched_files_raise_checkpoint_error(tmp_path):
    model, _, _ = make()
    save_checkpoint(tmp_path / "a", model)
    save_checkpoint(tmp_path / "b", make(seed=1)[0])
    (tmp_path / "a.safetensors").write_bytes((tmp_path / "b.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match="different file"):
        load_checkpoint(tmp_path / "a")
    blob = (tmp_path / "b.safetensors").read_bytes()
    (tmp_path / "b.safetensors").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match="different file"):
        load_checkpoint(tmp_path / "b")
    (tmp_path / "b.json").write_text('{"format": "dagrad.checkpoint", "vers')
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(tmp_path / "b")
    (tmp_path / "b.json").write_text('{"hello": 1}')
    with pytest.raises(CheckpointError, match="expected a dagrad checkpoint"):
        load_checkpoint(tmp_path / "b")


def test_damaged_safetensors_with_matching_hash_is_reported(tmp_path):
    model, _, _ = make()
    save_checkpoint(tmp_path / "a", model)
    doc = json.loads((tmp_path / "a.json").read_text())
    bad = b"not a safetensors file"
    (tmp_path / "a.safetensors").write_bytes(bad)
    doc["arrays"]["sha256"] = hashlib.sha256(bad).hexdigest()
    (tmp_path / "a.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="expected a safetensors file"):
        load_checkpoint(tmp_path / "a")


def test_wrong_model_or_missing_optimizer_state(tmp_path):
    model, _, _ = make()
    save_checkpoint(tmp_path / "a", model)
    with pytest.raises(StateDictError, match="size mismatch"):
        load_checkpoint(tmp_path / "a", MLP(in_features=12, hidden=(8,), num_classes=3))
    with pytest.raises(CheckpointError, match="expected optimizer state"):
        load_checkpoint(tmp_path / "a", optimizer=make()[1])


def test_values_json_cannot_hold_are_refused_before_writing(tmp_path):
    model, _, _ = make()
    with pytest.raises(CheckpointError, match=r"extra, received object at 'extra/fn'"):
        save_checkpoint(tmp_path / "a", model, extra={"fn": object()})
    assert os.listdir(tmp_path) == []


def test_a_failed_write_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    model, _, _ = make()
    save_checkpoint(tmp_path / "a", model)
    before = params(model)
    with dg.no_grad():
        for p in model.parameters():
            p.data += 1
    real_fsync, calls = os.fsync, []

    def failing_fsync(fd):
        calls.append(fd)
        if len(calls) == 1:  # the safetensors file's temporary copy, before it is renamed into place
            raise OSError("disk full")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path / "a", model)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["a.json", "a.safetensors"]
    fresh = make(seed=2)[0]
    load_checkpoint(tmp_path / "a", fresh)
    for k, v in before.items():
        np.testing.assert_array_equal(fresh.state_dict()[k].data, v)


def test_a_crash_between_the_two_renames_is_detected(tmp_path, monkeypatch):
    model, _, _ = make()
    save_checkpoint(tmp_path / "a", model)
    real_replace = os.replace

    def replace_once(src, dst):
        if str(dst).endswith(".json"):
            raise OSError("power cut")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_once)
    with pytest.raises(OSError, match="power cut"):
        save_checkpoint(tmp_path / "a", make(seed=1)[0])
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["a.json", "a.safetensors"]
    with pytest.raises(CheckpointError, match="interrupted save"):
        load_checkpoint(tmp_path / "a")


def test_float64_and_sgd_momentum_state(tmp_path):
    dg.manual_seed(0)
    model = MLP(in_features=12, hidden=(), num_classes=3).double()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = dg.randn(8, 12, dtype=dg.float64)
    CrossEntropyLoss()(model(x), dg.tensor([0, 1, 2, 0, 1, 2, 0, 1])).backward()
    opt.step()
    save_checkpoint(tmp_path / "a", model, opt)
    model2 = MLP(in_features=12, hidden=(), num_classes=3).double()
    opt2 = optim.SGD(model2.parameters(), lr=0.5, momentum=0.9)
    load_checkpoint(tmp_path / "a", model2, opt2)
    assert model2.layers[0].weight.dtype == dg.float64 and opt2.param_groups[0]["lr"] == 0.1
    p, q = model.layers[0].weight, model2.layers[0].weight
    np.testing.assert_array_equal(opt2.state[q]["momentum_buffer"], opt.state[p]["momentum_buffer"])
