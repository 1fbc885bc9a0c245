"""Callbacks: EarlyStopping (stops, restores the best weights), CSVLogger, LearningRateScheduler,
ModelCheckpoint, TensorBoard and their errors."""

import csv
import sys

import numpy as np
import pytest

from dagrad import io
from dagrad.errors import ArgumentError, DagradError
from dagrad.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    OptionalDependencyError,
    TensorBoard,
    Trainer,
    TrainingWarning,
)  # fmt: skip
from tests.train import setup


class Scripted(Callback):
    """Puts scripted values of 'score' into the epoch logs and keeps a copy of the parameters of each epoch."""

    def __init__(self, scores):
        self.scores = scores
        self.snapshots = []

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = self.scores[epoch]
        self.snapshots.append({k: v.data.copy() for k, v in self.model.state_dict().items()})


def test_early_stopping_stops_and_restores_best_weights():
    model, loss_fn, opt, train, _ = setup()
    script = Scripted([3.0, 2.0, 1.0, 1.5, 1.2, 0.5, 0.1])
    stop = EarlyStopping(monitor="score", patience=2)
    hist = Trainer(model, loss_fn, opt, callbacks=[script, stop]).fit(train, epochs=7, verbose=0)
    assert hist.epoch == [0, 1, 2, 3, 4] and stop.stopped_epoch == 4
    assert stop.best_epoch == 2 and stop.best == 1.0
    state = model.state_dict()
    for k, v in script.snapshots[2].items():
        np.testing.assert_array_equal(state[k].data, v)
    assert not np.array_equal(script.snapshots[4]["0.weight"], script.snapshots[2]["0.weight"])


def test_early_stopping_max_mode_min_delta_and_no_restore():
    model, loss_fn, opt, train, _ = setup()
    script = Scripted([0.5, 0.6, 0.605, 0.61, 0.9])
    stop = EarlyStopping(monitor="score", mode="max", min_delta=0.05, patience=1, restore_best_weights=False)
    hist = Trainer(model, loss_fn, opt, callbacks=[script, stop]).fit(train, epochs=5, verbose=0)
    assert hist.epoch == [0, 1, 2] and stop.best == 0.6
    np.testing.assert_array_equal(model.state_dict()["0.weight"].data, script.snapshots[-1]["0.weight"])


def test_early_stopping_on_val_accuracy_and_missing_monitor():
    model, loss_fn, opt, train, val = setup()
    stop = EarlyStopping(monitor="val_accuracy", patience=0)
    assert stop.greater
    Trainer(model, loss_fn, opt, callbacks=[stop]).fit(train, epochs=6, val_loader=val, verbose=0)
    assert stop.best == 1.0
    with pytest.warns(TrainingWarning, match="val_loss"):
        Trainer(model, loss_fn, opt, callbacks=[EarlyStopping()]).fit(train, verbose=0)
    with pytest.raises(ArgumentError, match="mode"):
        EarlyStopping(mode="up")


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    path = tmp_path / "log.csv"
    model, loss_fn, opt, train, val = setup()
    hist = Trainer(model, loss_fn, opt, callbacks=[CSVLogger(path)]).fit(train, epochs=3, val_loader=val, verbose=0)
    rows = list(csv.DictReader(path.read_text().splitlines()))
    assert path.read_text().splitlines()[0] == "epoch,accuracy,loss,lr,val_accuracy,val_loss"
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert [float(r["val_loss"]) for r in rows] == hist.history["val_loss"]
    Trainer(model, loss_fn, opt, callbacks=[CSVLogger(path, append=True)]).fit(
        train, epochs=5, val_loader=val, verbose=0, initial_epoch=3
    )
    rows = list(csv.DictReader(path.read_text().splitlines()))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3, 4]


def test_learning_rate_scheduler_functions_and_objects():
    model, loss_fn, opt, train, _ = setup()
    hist = Trainer(model, loss_fn, opt, callbacks=[LearningRateScheduler(lambda e: 0.1 / (e + 1))]).fit(
        train, epochs=3, verbose=0
    )
    assert hist.history["lr"] == pytest.approx([0.1, 0.05, 0.1 / 3])
    halve = LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    hist = Trainer(model, loss_fn, opt, callbacks=[halve]).fit(train, epochs=2, verbose=0)
    assert hist.history["lr"] == pytest.approx([0.1 / 3 / 2, 0.1 / 3 / 4])

    class Halving:
        def __init__(self, opt):
            self.opt = opt

        def step(self):
            self.opt.param_groups[0]["lr"] /= 2

        def get_last_lr(self):
            return [self.opt.param_groups[0]["lr"]]

    opt.param_groups[0]["lr"] = 0.4
    hist = Trainer(model, loss_fn, opt, callbacks=[LearningRateScheduler(Halving(opt))]).fit(train, 3, verbose=0)
    assert hist.history["lr"] == [0.4, 0.2, 0.1]
    with pytest.raises(ArgumentError, match="float"):
        Trainer(model, loss_fn, opt, callbacks=[LearningRateScheduler(lambda e: "fast")]).fit(train, verbose=0)


def test_model_checkpoint_without_dagrad_io_says_so(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "dagrad.io", None)
    model, loss_fn, opt, train, _ = setup()
    with pytest.raises(DagradError, match="dagrad.io"):
        Trainer(model, loss_fn, opt, callbacks=[ModelCheckpoint(tmp_path)]).fit(train, verbose=0)


def test_model_checkpoint_saves_best_and_patterns(tmp_path):
    model, loss_fn, opt, train, val = setup()
    best = ModelCheckpoint(f"{tmp_path}/best/", save_best_only=True)
    every = ModelCheckpoint(tmp_path / "run-{epoch:02d}-{val_loss:.3f}", save_optimizer=False)
    hist = Trainer(model, loss_fn, opt, callbacks=[best, every]).fit(train, epochs=2, val_loader=val, verbose=0)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert f"run-02-{hist.history['val_loss'][1]:.3f}.safetensors" in names
    assert sorted(p.name for p in (tmp_path / "best").iterdir()) == ["best.json", "best.safetensors"]
    assert best.best == min(hist.history["val_loss"])
    fresh, _, _, _, _ = setup()
    doc = io.load_checkpoint(best.last_path, fresh)
    assert doc["epoch"] == 2 and doc["extra"]["logs"]["val_loss"] == hist.history["val_loss"][1]
    assert doc["optimizer"] is not None
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[k].data, v.data)


def test_tensorboard_missing_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(OptionalDependencyError, match=r"dagrad\[tensorboard\]"):
        TensorBoard("runs")


def test_tensorboard_writes_event_files(tmp_path):
    pytest.importorskip("tensorboardX")
    model, loss_fn, opt, train, val = setup()
    tb = TensorBoard(tmp_path, histogram_freq=1, update_freq="batch")
    Trainer(model, loss_fn, opt, callbacks=[tb]).fit(train, epochs=2, val_loader=val, verbose=0)
    events = list(tmp_path.glob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 0 and tb.writer is None


def test_resume_from_a_checkpoint_continues_the_run(tmp_path):
    model, loss_fn, opt, train, _ = setup()
    ckpt = ModelCheckpoint(f"{tmp_path}/", monitor="loss")
    Trainer(model, loss_fn, opt, callbacks=[ckpt]).fit(train, epochs=3, verbose=0)
    resumed, _, opt2, _, _ = setup()
    doc = io.load_checkpoint(tmp_path / "epoch_001", resumed, opt2)
    hist = Trainer(resumed, loss_fn, opt2).fit(train, epochs=3, verbose=0, initial_epoch=doc["epoch"])
    assert hist.epoch == [1, 2]
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[k].data, v.data)
