"""Keras's own callbacks in the Trainer: each one does in ``Trainer.fit`` what it does in
``model.fit`` (model, params, hooks, stop_training, the learning rate), or is refused with
a reason."""

from __future__ import annotations

import csv

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_rnn.training import Callback, Trainer


def dense_model(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)]
    )


def dataset(n: int = 32, batch: int = 8, seed: int = 0, scale: float = 1.0) -> tf.data.Dataset:
    rng = np.random.default_rng(seed)
    x = (scale * rng.normal(size=(n, 3))).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], "float32") + 0.3).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)


def trainer(model: keras.Model | None = None, lr: float = 0.01, **kwargs) -> Trainer:
    return Trainer(model or dense_model(), "mse", keras.optimizers.SGD(lr), verbose=0, **kwargs)


class Recorder(keras.callbacks.Callback):
    """Records every hook call with its arguments, and what it sees as model and params."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple] = []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin",))
        self.seen_params = dict(self.params)
        self.seen_weights = len(self.model.get_weights())

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_train_batch_begin(self, batch, logs=None):
        self.calls.append(("batch_begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, sorted(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, sorted(logs)))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end",))


def test_hooks_params_and_model_as_model_fit_gives_them():
    recorder = Recorder()
    trainer(metrics=["mae"]).fit(
        dataset(16), epochs=2, validation_data=dataset(8, seed=1), callbacks=[recorder]
    )
    assert recorder.seen_params == {"verbose": 0, "epochs": 2, "steps": 2}
    assert recorder.seen_weights == 4
    step_keys = ["grad_norm", "learning_rate", "loss", "mae"]
    epoch_keys = sorted([*step_keys, "val_loss", "val_mae"])
    per_epoch = [
        ("batch_begin", 0),
        ("batch_end", 0, step_keys),
        ("batch_begin", 1),
        ("batch_end", 1, step_keys),
    ]
    assert recorder.calls == [
        ("train_begin",),
        ("epoch_begin", 0),
        *per_epoch,
        ("epoch_end", 0, epoch_keys),
        ("epoch_begin", 1),
        *per_epoch,
        ("epoch_end", 1, epoch_keys),
        ("train_end",),
    ]


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    path = tmp_path / "log.csv"
    history = trainer().fit(
        dataset(),
        epochs=3,
        validation_data=dataset(seed=1),
        callbacks=[keras.callbacks.CSVLogger(str(path))],
    )
    rows = list(csv.DictReader(path.open()))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    np.testing.assert_allclose([float(r["loss"]) for r in rows], history.history["loss"])
    np.testing.assert_allclose([float(r["val_loss"]) for r in rows], history.history["val_loss"])


def test_early_stopping_stops_the_trainer_and_restores_the_best_weights():
    model = dense_model()
    # A learning rate so high the loss grows from the first epoch: stop after patience 1.
    stopper = keras.callbacks.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    best = {}

    class KeepFirst(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                best["weights"] = self.trainer.model.get_weights()

    history = trainer(model, lr=0.5, clip_norm=None).fit(
        dataset(scale=3.0), epochs=10, callbacks=[KeepFirst(), stopper]
    )
    losses = history.history["loss"]
    assert len(losses) < 10, losses
    assert stopper.stopped_epoch == len(losses) - 1
    assert stopper.best_epoch == int(np.argmin(losses))
    if stopper.best_epoch == 0:
        for a, b in zip(model.get_weights(), best["weights"], strict=True):
            np.testing.assert_array_equal(a, b)


def test_reduce_lr_on_plateau_changes_the_optimizers_learning_rate():
    t = trainer(lr=0.1)
    # min_delta so large nothing after the first epoch counts as an improvement: the rate
    # halves at the end of epochs 1 and 2.
    reduce = keras.callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=0, min_delta=1e9, min_lr=0.0
    )
    history = t.fit(dataset(), epochs=3, callbacks=[reduce])
    assert float(np.asarray(t.optimizer.learning_rate)) == pytest.approx(0.1 / 4)
    # The logs of each epoch carry the rate the epoch trained with.
    np.testing.assert_allclose(history.history["learning_rate"], [0.1, 0.1, 0.05], rtol=1e-6)


def test_terminate_on_nan_stops_within_the_epoch():
    x = np.ones((32, 3), "float32")
    y = np.full((32, 1), np.nan, "float32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    history = trainer().fit(data, epochs=3, callbacks=[keras.callbacks.TerminateOnNaN()])
    assert len(history.step_grad_norms) == 1  # the first batch's NaN loss ends the run
    assert len(history.history.get("loss", [])) <= 1


def test_model_checkpoint_saves_through_the_real_model(tmp_path):
    path = tmp_path / "best.keras"
    trainer().fit(
        dataset(), epochs=2, callbacks=[keras.callbacks.ModelCheckpoint(str(path), monitor="loss")]
    )
    assert isinstance(keras.models.load_model(path), keras.Model)


def test_stop_training_from_a_lambda_callback():
    t = trainer()

    def stop(epoch, logs):
        t_model.stop_training = True

    callback = keras.callbacks.LambdaCallback(on_epoch_end=stop)
    t_model = None

    class Grab(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            nonlocal t_model
            t_model = self.model

    history = t.fit(dataset(), epochs=5, callbacks=[Grab(), callback])
    assert len(history.history["loss"]) == 1
    assert t.stop_training is True


def test_backup_and_restore_is_refused_with_the_alternative(tmp_path):
    callback = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    with pytest.raises(ValueError, match=r"BackupAndRestore.*checkpoint_dir"):
        trainer().fit(dataset(), callbacks=[callback])


def test_other_objects_are_refused_by_name():
    with pytest.raises(TypeError, match=r"`callbacks`.*got 'nope'"):
        trainer().fit(dataset(), callbacks=["nope"])


def test_epoch_only_callbacks_do_not_turn_on_step_logs():
    """A Keras callback without batch hooks costs no per-step log (a device-to-host copy)."""
    from keras_rnn.training.keras_callbacks import KerasBatchCallback, KerasCallback, adapt

    plain, batchy = adapt(
        [keras.callbacks.CSVLogger("unused.csv"), keras.callbacks.TerminateOnNaN()], epochs=1
    )
    assert type(plain) is KerasCallback
    assert type(batchy) is KerasBatchCallback
    assert type(plain).on_train_batch_end is Callback.on_train_batch_end


def test_early_stopping_patience_continues_across_a_resume(tmp_path):
    """Nothing improves after epoch 0 and patience is 2: an uninterrupted run stops after
    epoch 2. Split 2 + resume, the resumed run must stop there too (not start counting
    afresh, which would run to epoch 4)."""

    def stopper():
        return keras.callbacks.EarlyStopping(monitor="loss", patience=2, min_delta=1e9)

    ckpt = str(tmp_path / "ckpt")
    first = trainer(dense_model(), checkpoint_dir=ckpt)
    first.fit(dataset(), epochs=2, callbacks=[stopper()])
    resumed_stopper = stopper()
    history = trainer(dense_model(), checkpoint_dir=ckpt).fit(
        dataset(), epochs=6, callbacks=[resumed_stopper]
    )
    assert history.epoch == [0, 1, 2]
    assert resumed_stopper.stopped_epoch == 2
    assert resumed_stopper.wait == 2


def test_reduce_lr_state_is_not_applied_to_another_callback():
    from keras_rnn.training.keras_callbacks import adapt

    (early,) = adapt([keras.callbacks.EarlyStopping(monitor="loss")], epochs=1)
    (reduce,) = adapt([keras.callbacks.ReduceLROnPlateau(monitor="loss")], epochs=1)
    reduce.callback.wait = 3
    state = reduce.get_state()
    assert state["class"] == "ReduceLROnPlateau" and state["wait"] == 3
    early.set_state(state)
    early.set_trainer(trainer())
    early.on_train_begin()
    assert early.callback.wait == 0


def test_keras_learning_rate_scheduler_sets_the_rate_each_epoch():
    t = trainer(lr=0.1)
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    history = t.fit(dataset(), epochs=2, callbacks=[schedule])
    np.testing.assert_allclose(history.history["learning_rate"], [0.05, 0.025], rtol=1e-6)
