"""Trainer: fit reduces the loss, History, callbacks order, schedulers, clipping, evaluate/predict, errors."""

import math

import numpy as np
import pytest

import dagrad as dg
from dagrad import data, optim
from dagrad.errors import ArgumentError
from dagrad.train import Callback, Trainer, fit
from tests.train import batches, blobs, setup


def test_fit_reduces_loss_and_separates_blobs():
    model, loss_fn, opt, train, val = setup()
    before = Trainer(model, loss_fn, opt).evaluate(val)
    hist = Trainer(model, loss_fn, opt).fit(train, epochs=8, val_loader=val, verbose=0)
    assert hist.history["loss"][-1] < 0.3 * hist.history["loss"][0]
    assert hist.history["val_loss"][-1] < before["loss"]
    assert hist.history["val_accuracy"][-1] == 1.0


def test_history_keys_and_lengths():
    model, loss_fn, opt, train, val = setup()
    trainer = Trainer(model, loss_fn, opt, metrics=("accuracy", "top2_accuracy"))
    hist = trainer.fit(train, epochs=3, val_loader=val, verbose=0)
    keys = {"loss", "accuracy", "top2_accuracy", "val_loss", "val_accuracy", "val_top2_accuracy", "lr"}
    assert set(hist.history) == keys
    assert all(len(v) == 3 for v in hist.history.values())
    assert hist.epoch == [0, 1, 2] and trainer.history is hist
    assert hist.history["lr"] == [0.1] * 3
    assert all(isinstance(v, float) for vs in hist.history.values() for v in vs)
    assert trainer.global_step == 3 * len(train)


def test_epoch_loss_is_weighted_by_batch_size():
    model, loss_fn, opt, _, _ = setup(lr=0.0)
    x, y = blobs(40)
    uneven = batches(x, y, size=16)  # 16, 16, 8
    logs = Trainer(model, loss_fn, opt).evaluate(uneven)
    whole = float(loss_fn(model(dg.tensor(x)), dg.tensor(y)).data)
    assert math.isclose(logs["loss"], whole, rel_tol=1e-5)
    hist = Trainer(model, loss_fn, opt).fit(uneven, verbose=0)
    assert math.isclose(hist.history["loss"][0], whole, rel_tol=1e-5)


class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_train_end(self, logs=None):
        self.calls.append("train_end")

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(f"epoch_begin {epoch}")

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(f"epoch_end {epoch}")

    def on_batch_begin(self, batch, logs=None):
        self.calls.append(f"batch_begin {batch}")

    def on_batch_end(self, batch, logs=None):
        self.calls.append(f"batch_end {batch}")
        assert {"loss", "accuracy", "size"} <= set(logs)


def test_callbacks_called_in_order():
    model, loss_fn, opt, train, _ = setup()
    rec = Recorder()
    Trainer(model, loss_fn, opt, callbacks=[rec]).fit(train[:2], epochs=2, verbose=0, initial_epoch=0)
    epoch = ["batch_begin 0", "batch_end 0", "batch_begin 1", "batch_end 1"]
    expected = ["train_begin", "epoch_begin 0", *epoch, "epoch_end 0", "epoch_begin 1", *epoch, "epoch_end 1"]
    assert rec.calls == [*expected, "train_end"]
    assert rec.trainer is not None and rec.model is model


def test_two_callbacks_run_in_the_order_given():
    order = []

    class A(Callback):
        def on_epoch_end(self, epoch, logs=None):
            order.append("A")
            logs["from_a"] = 1.0

    class B(Callback):
        def on_epoch_end(self, epoch, logs=None):
            order.append("B")
            assert logs["from_a"] == 1.0

    model, loss_fn, opt, train, _ = setup()
    hist = Trainer(model, loss_fn, opt, callbacks=[A(), B()]).fit(train, verbose=0)
    assert order == ["A", "B"] and hist.history["from_a"] == [1.0]


def test_stop_training_from_a_callback_and_initial_epoch():
    class Stop(Callback):
        def on_batch_end(self, batch, logs=None):
            if batch == 1:
                self.trainer.stop_training = True

    model, loss_fn, opt, train, _ = setup()
    trainer = Trainer(model, loss_fn, opt, callbacks=[Stop()])
    hist = trainer.fit(train, epochs=5, verbose=0, initial_epoch=2)
    assert hist.epoch == [2] and trainer.global_step == 2


def test_clip_grad_norm_is_applied():
    norms = []

    class GradNorm(Callback):
        def on_batch_end(self, batch, logs=None):
            sq = sum(float((p.grad.data.astype(np.float64) ** 2).sum()) for p in self.model.parameters())
            norms.append(math.sqrt(sq))

    model, loss_fn, opt, train, _ = setup(lr=1.0)
    Trainer(model, loss_fn, opt, callbacks=[GradNorm()], clip_grad_norm=0.05).fit(train, verbose=0)
    assert max(norms) <= 0.05 * (1 + 1e-4)
    norms.clear()
    model, loss_fn, opt, train, _ = setup(lr=1.0)
    Trainer(model, loss_fn, opt, callbacks=[GradNorm()]).fit(train, verbose=0)
    assert max(norms) > 0.05


class StepCounter:
    def __init__(self):
        self.steps = []

    def step(self, *args):
        self.steps.append(args)


class OneCycleLR(StepCounter):
    """Named like the per-step schedule, so the Trainer steps it every batch."""


class ReduceLROnPlateau(StepCounter):
    """Named like the plateau schedule, so the Trainer passes it the validation loss."""


def test_scheduler_stepping():
    model, loss_fn, opt, train, val = setup()
    per_epoch, per_step, plateau = StepCounter(), OneCycleLR(), ReduceLROnPlateau()
    Trainer(model, loss_fn, opt, scheduler=per_epoch).fit(train, epochs=3, verbose=0)
    assert per_epoch.steps == [()] * 3
    Trainer(model, loss_fn, opt, scheduler=per_step).fit(train, epochs=2, verbose=0)
    assert len(per_step.steps) == 2 * len(train)
    hist = Trainer(model, loss_fn, opt, scheduler=plateau).fit(train, epochs=2, val_loader=val, verbose=0)
    assert [s[0] for s in plateau.steps] == hist.history["val_loss"]
    forced = StepCounter()
    Trainer(model, loss_fn, opt, scheduler=forced, scheduler_interval="step").fit(train, verbose=0)
    assert len(forced.steps) == len(train)


def test_evaluate_and_predict_shapes_and_modes():
    model, loss_fn, opt, train, val = setup()
    trainer = Trainer(model, loss_fn, opt, metrics=["accuracy", "top_k_accuracy"])
    logs = trainer.evaluate(val)
    assert set(logs) == {"loss", "accuracy", "top5_accuracy"} and logs["top5_accuracy"] == 1.0
    assert model.training
    x, _ = blobs(50)
    out = trainer.predict(dg.tensor(x), batch_size=16)
    assert out.shape == (50, 3) and not out.requires_grad
    np.testing.assert_allclose(out.data, model(dg.tensor(x)).data, rtol=1e-6)
    assert trainer.predict(x).shape == (50, 3)
    assert trainer.predict(val).shape == (48, 3)
    assert trainer.predict([b[0] for b in val]).shape == (48, 3)
    assert model.training


def test_function_style_fit_and_numpy_batches():
    model, loss_fn, opt, _, _ = setup()
    x, y = blobs()
    loader = [(x[i : i + 32], y[i : i + 32]) for i in range(0, len(x), 32)]
    hist = fit(model, loss_fn, opt, loader, epochs=2, metrics=(), verbose=0)
    assert set(hist.history) == {"loss", "lr"} and len(hist.history["loss"]) == 2


def test_verbose_prints_one_line_per_epoch(capsys):
    model, loss_fn, opt, train, val = setup()
    Trainer(model, loss_fn, opt).fit(train, epochs=2, val_loader=val, verbose=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2")
    assert "loss: " in lines[1] and "val_accuracy: " in lines[1] and "img/s" in lines[1]
    Trainer(model, loss_fn, opt).fit(train, verbose=1)  # not a terminal under pytest: plain lines too
    assert capsys.readouterr().out.startswith("Epoch 1/1")
    Trainer(model, loss_fn, opt).fit(train, verbose=0)
    assert capsys.readouterr().out == ""


def test_progress_bar_on_a_terminal():
    import io

    class Tty(io.StringIO):
        def isatty(self):
            return True

    from dagrad.train import ProgressBar

    out = Tty()
    model, loss_fn, opt, train, _ = setup()
    bar = ProgressBar(verbose=1, file=out, refresh_s=0.0)
    Trainer(model, loss_fn, opt, callbacks=[bar]).fit(train, epochs=1, verbose=0)
    text = out.getvalue()
    assert "Epoch 1/1" in text and "img/s" in text and "loss: " in text


def test_errors_name_what_was_expected():
    model, loss_fn, opt, train, _ = setup()
    trainer = Trainer(model, loss_fn, opt)
    with pytest.raises(ArgumentError, match="pair"):
        trainer.fit([(train[0][0],)], verbose=0)
    with pytest.raises(ArgumentError, match="at least one batch"):
        trainer.fit([], verbose=0)
    with pytest.raises(ArgumentError, match="epochs"):
        trainer.fit(train, epochs=-1)
    with pytest.raises(ArgumentError, match="clip_grad_norm"):
        Trainer(model, loss_fn, opt, clip_grad_norm=0)
    with pytest.raises(ArgumentError, match="top<k>_accuracy"):
        Trainer(model, loss_fn, opt, metrics=["precision"])
    with pytest.raises(ArgumentError, match="distinct"):
        Trainer(model, loss_fn, opt, metrics=["accuracy", "acc"])


def test_fit_with_dagrad_optim_and_data_loader():
    model, loss_fn, _, _, _ = setup()
    x, y = blobs()
    loader = data.DataLoader(data.TensorDataset(dg.tensor(x), dg.tensor(y)), batch_size=16, shuffle=True)
    hist = Trainer(model, loss_fn, optim.SGD(model.parameters(), lr=0.1)).fit(loader, epochs=4, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]


def test_real_schedulers_one_cycle_per_step_and_plateau_on_val_loss():
    model, loss_fn, _, train, val = setup()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    one_cycle = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, epochs=2, steps_per_epoch=len(train))
    Trainer(model, loss_fn, opt, scheduler=one_cycle).fit(train, epochs=2, verbose=0)
    assert one_cycle.last_epoch == 2 * len(train)
    opt = optim.SGD(model.parameters(), lr=0.1)
    plateau = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, threshold=10.0, threshold_mode="abs")
    hist = Trainer(model, loss_fn, opt, scheduler=plateau).fit(train, epochs=3, val_loader=val, verbose=0)
    assert hist.history["lr"] == pytest.approx([0.1, 0.1, 0.01])
    assert plateau.best == hist.history["val_loss"][0]  # only the first epoch beat the best by 10
