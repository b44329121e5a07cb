"""The Trainer against references: model.fit, a hand-made tape step, clipping math."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_rnn
from keras_rnn.training import (
    Callback,
    EarlyStopping,
    LearningRateScheduler,
    Trainer,
    clip_gradients,
)
from keras_rnn.training.data import shuffled_per_epoch


def sequence_data(n: int = 64, steps: int = 5, features: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, steps, features)).astype("float32")
    y = (0.5 * x[:, :, 0].sum(axis=1, keepdims=True)).astype("float32")
    return x, y


def gru_model(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((5, 2)), keras_rnn.GRU(4), keras.layers.Dense(1)])


def dense_model(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)]
    )


def dense_data(n: int = 32, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], "float32") + 0.3).astype("float32")


# --- against references --------------------------------------------------------------------


def test_matches_model_fit_step_for_step():
    """Same model, weights, data and SGD: our loop and Keras's must end at the same weights."""
    x, y = sequence_data()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    ours, theirs = gru_model(), gru_model()
    theirs.set_weights(ours.get_weights())
    history = Trainer(ours, "mse", keras.optimizers.SGD(0.05), clip_norm=None, verbose=0).fit(
        ds, epochs=2
    )
    theirs.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    keras_history = theirs.fit(ds, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(history.history["loss"], keras_history.history["loss"], rtol=1e-5)


def test_one_step_is_the_hand_made_tape_step_with_clipping():
    """w' = w - lr * g * c / max(||g||, c), with g from an independent tape; ||g|| recorded."""
    x, y = dense_data(8)
    model = dense_model()
    before = [w.copy() for w in model.get_weights()]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))
    grads = tape.gradient(loss, model.trainable_variables)
    norm = float(tf.linalg.global_norm(grads))
    clip = 0.01
    assert norm > clip  # the clip binds
    history = Trainer(model, "mse", keras.optimizers.SGD(1.0), clip_norm=clip, verbose=0).fit(
        tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=1
    )
    assert history.step_grad_norms == pytest.approx([norm], rel=1e-5)
    for w0, w1, g in zip(before, model.get_weights(), grads, strict=True):
        np.testing.assert_allclose(w1, w0 - g.numpy() * clip / norm, rtol=1e-5, atol=1e-7)
    moved = math.sqrt(
        sum(float(np.sum((a - b) ** 2)) for a, b in zip(before, model.get_weights(), strict=True))
    )
    assert moved == pytest.approx(clip, rel=1e-4)


def test_loss_decreases_on_a_tiny_task():
    x, y = sequence_data(128)
    train = shuffled_per_epoch(tf.data.Dataset.from_tensor_slices((x, y)), 16, seed=1)
    trainer = Trainer(gru_model(), "mse", keras.optimizers.Adam(0.05), metrics=["mae"], verbose=0)
    history = trainer.fit(train, epochs=6)
    losses = history.history["loss"]
    assert losses[-1] < 0.3 * losses[0], losses
    baseline = float(np.mean((y - y.mean()) ** 2))  # predicting the mean
    assert (
        trainer.evaluate(tf.data.Dataset.from_tensor_slices((x, y)).batch(64))["loss"]
        < 0.3 * baseline
    )


def test_evaluate_is_the_mean_loss_over_all_examples():
    x, y = dense_data(30)
    model = dense_model()
    expected = float(np.mean((model.predict(x, verbose=0) - y) ** 2))
    expected_mae = float(np.mean(np.abs(model.predict(x, verbose=0) - y)))
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)  # a short last batch of 6
    result = Trainer(model, "mse", "sgd", metrics=["mae"], verbose=0).evaluate(ds)
    assert result == {
        "loss": pytest.approx(expected, rel=1e-5),
        "mae": pytest.approx(expected_mae, rel=1e-5),
    }


def test_sample_weights_weight_the_loss():
    x, y = dense_data(16)
    weights = np.r_[np.ones(8), np.zeros(8)].astype("float32")
    model = dense_model()
    residual = (model.predict(x, verbose=0) - y)[:, 0]
    ds = tf.data.Dataset.from_tensor_slices((x, y, weights)).batch(16)
    result = Trainer(model, "mse", "sgd", verbose=0).evaluate(ds)
    assert result["loss"] == pytest.approx(float(np.sum(residual[:8] ** 2) / 16), rel=1e-5)


# --- clipping --------------------------------------------------------------------------------


def test_clip_by_global_norm_keeps_direction_and_caps_norm():
    grads = [tf.constant([3.0, 4.0]), None, tf.constant([[12.0]])]  # ||g|| = 13
    clipped, norm = clip_gradients(grads, clip_norm=1.3)
    assert float(norm) == pytest.approx(13.0)
    assert clipped[1] is None
    np.testing.assert_allclose(clipped[0], [0.3, 0.4], rtol=1e-6)
    np.testing.assert_allclose(clipped[2], [[1.2]], rtol=1e-6)
    small, norm = clip_gradients([tf.constant([0.3, 0.4])], clip_norm=1.0)
    np.testing.assert_allclose(small[0], [0.3, 0.4])  # under the threshold: untouched


def test_clip_by_value_then_norm():
    clipped, norm = clip_gradients([tf.constant([-5.0, 0.5, 5.0])], clip_norm=1.0, clip_value=1.0)
    assert float(norm) == pytest.approx(math.sqrt(50.25))  # before any clipping
    after = clipped[0].numpy()
    assert np.max(np.abs(after)) <= 1.0
    assert float(np.linalg.norm(after)) == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_allclose(after, np.array([-1.0, 0.5, 1.0]) / 1.5, rtol=1e-6)
    by_value, _ = clip_gradients([tf.constant([-5.0, 0.5])], clip_value=2.0)
    np.testing.assert_allclose(by_value[0], [-2.0, 0.5])


def test_recorded_norms_exceed_the_clip_and_training_still_moves():
    x, y = sequence_data(32)
    ds = tf.data.Dataset.from_tensor_slices((x, y * 100)).batch(16)  # huge gradients
    model = gru_model()
    before = model.get_weights()
    history = Trainer(model, "mse", keras.optimizers.SGD(0.1), clip_norm=0.5, verbose=0).fit(
        ds, epochs=1
    )
    assert len(history.step_grad_norms) == 2 and min(history.step_grad_norms) > 0.5
    moved = math.sqrt(
        sum(float(np.sum((a - b) ** 2)) for a, b in zip(before, model.get_weights(), strict=True))
    )
    assert moved <= 2 * 0.1 * 0.5 + 1e-6  # two steps of at most lr * clip each


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "1"])
def test_bad_clip_is_rejected(bad):
    with pytest.raises(ValueError, match="clip_norm"):
        Trainer(dense_model(), "mse", "sgd", clip_norm=bad)


# --- history, callbacks ---------------------------------------------------------------------


def test_history_keys_and_step_norms():
    x, y = dense_data(32)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    history = Trainer(dense_model(), "mse", "adam", metrics=["mae"], verbose=0).fit(
        ds, epochs=2, validation_data=ds
    )
    assert set(history.history) == {
        "loss",
        "mae",
        "grad_norm",
        "learning_rate",
        "val_loss",
        "val_mae",
    }
    assert all(len(v) == 2 for v in history.history.values())
    assert len(history.step_grad_norms) == 8
    assert history.history["grad_norm"][0] == pytest.approx(np.mean(history.step_grad_norms[:4]))


def test_learning_rate_schedule_and_steps_per_epoch():
    x, y = dense_data(64)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8).repeat()
    trainer = Trainer(dense_model(), "mse", keras.optimizers.SGD(0.1), verbose=0)
    history = trainer.fit(
        ds,
        epochs=3,
        steps_per_epoch=2,
        callbacks=[LearningRateScheduler(lambda e, lr: 0.1 * 0.5**e)],
    )
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])
    assert len(history.step_grad_norms) == 6
    with pytest.raises(ValueError, match="steps_per_epoch"):
        trainer.fit(ds, epochs=1)


def test_early_stopping_restores_the_best_weights():
    """A scripted monitor: best at epoch 1, then worse twice -> stop after epoch 3."""
    x, y = dense_data(16)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    scores = iter([3.0, 1.0, 2.0, 2.5, 0.1])
    snapshots = []

    class Score(Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["score"] = next(scores)
            snapshots.append(self.trainer.model.get_weights())

    model = dense_model()
    stopper = EarlyStopping(monitor="score", patience=2, restore_best_weights=True)
    history = Trainer(model, "mse", keras.optimizers.SGD(0.1), verbose=0).fit(
        ds, epochs=5, callbacks=[Score(), stopper]
    )
    assert history.epoch == [0, 1, 2, 3] and stopper.best_epoch == 1 and stopper.stopped_epoch == 3
    for got, best in zip(model.get_weights(), snapshots[1], strict=True):
        np.testing.assert_array_equal(got, best)
    assert not np.allclose(snapshots[1][0], snapshots[3][0])


def test_early_stopping_names_a_missing_monitor():
    x, y = dense_data(8)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    with pytest.raises(KeyError, match="val_loss"):
        Trainer(dense_model(), "mse", "sgd", verbose=0).fit(ds, callbacks=[EarlyStopping()])


def test_tensorboard_scalars(tmp_path):
    x, y = dense_data(16)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    Trainer(dense_model(), "mse", "adam", metrics=["mae"], log_dir=str(tmp_path), verbose=0).fit(
        ds, epochs=2, validation_data=ds
    )
    tags: dict[str, list[int]] = {}
    for path in tmp_path.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append(event.step)
    for tag in ("train/loss", "train/grad_norm", "train/learning_rate", "train/mae"):
        assert tags[tag] == [1, 2, 3, 4], tag
    for tag in ("epoch/loss", "epoch/val_loss", "epoch/grad_norm", "epoch/val_mae"):
        assert tags[tag] == [0, 1], tag


def test_progress_bar_shows_loss_metrics_and_speed(capsys):
    x, y = dense_data(16)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    Trainer(dense_model(), "mse", "adam", metrics=["mae"], verbose=1).fit(ds, epochs=1)
    out = capsys.readouterr().out
    assert "Epoch 1/1" in out and "CPU" in out
    for piece in ("loss:", "mae:", "grad_norm:", "steps/s:", "4/4"):
        assert piece in out, out
    Trainer(dense_model(), "mse", "adam", verbose=0).fit(ds, epochs=1)
    assert capsys.readouterr().out == ""


def test_progress_to_a_file_or_pipe_is_plain_lines(capsys):
    """No carriage returns, backspaces or colour codes in logs; one line per (short) epoch."""
    x, y = dense_data(16)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    Trainer(dense_model(), "mse", "adam", verbose=1).fit(ds, epochs=2)
    out = capsys.readouterr().out
    assert not any(ch in out for ch in "\r\b\x1b"), repr(out)
    ends = [line for line in out.splitlines() if line.startswith("4/4 - ")]
    assert len(ends) == 2 and "loss: " in ends[0] and "steps/s: " in ends[0], out


# --- bad input --------------------------------------------------------------------------------


def test_bad_fit_arguments():
    x, y = dense_data(8)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    trainer = Trainer(dense_model(), "mse", "sgd", verbose=0)
    with pytest.raises(ValueError, match=r"`epochs`.*got 0"):
        trainer.fit(ds, epochs=0)
    with pytest.raises(ValueError, match="no batch"):
        trainer.fit(ds.take(0))
    with pytest.raises(TypeError, match=r"tf\.data\.Dataset"):
        trainer.fit([1, 2, 3])
    with pytest.raises(ValueError, match="one value per example"):
        Trainer(dense_model(), lambda a, b: tf.reduce_mean(a - b), "sgd", verbose=0).fit(ds)
    with pytest.raises(ValueError, match="strategy"):
        Trainer(dense_model(), "mse", "sgd", strategy="tpu")


def test_model_outside_the_strategy_scope_is_refused():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with pytest.raises(ValueError, match=r"strategy\.scope"):
        Trainer(dense_model(), "mse", "sgd", strategy=strategy)


# --- devices, precision, XLA ----------------------------------------------------------------


def test_mixed_precision_uses_loss_scaling_and_unscaled_norms():
    """Dynamic loss scaling: overflowing steps are skipped (norm inf, weights kept, scale
    halved); the first finite norm, at the initial weights, is the float32 one."""
    x, y = dense_data(16)
    ds = tf.data.Dataset.from_tensor_slices((x, y * 50)).batch(16).repeat()
    reference = Trainer(dense_model(), "mse", keras.optimizers.SGD(1e-4), verbose=0).fit(
        ds, steps_per_epoch=1
    )
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = dense_model()
        initial = model.get_weights()
        trainer = Trainer(model, "mse", keras.optimizers.SGD(1e-4), verbose=0)
        history = trainer.fit(ds, epochs=1, steps_per_epoch=12)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer)
    assert model.compute_dtype == "float16" and model.variables[0].dtype == "float32"
    norms = np.array(history.step_grad_norms)
    finite = np.flatnonzero(np.isfinite(norms))
    assert finite.size and finite[0] > 0, norms  # 2^15 * loss overflows float16 at first
    assert float(trainer.optimizer.dynamic_scale) < 2.0**15
    assert norms[finite[0]] == pytest.approx(reference.step_grad_norms[0], rel=1e-2)
    assert not np.allclose(model.get_weights()[0], initial[0])


def test_jit_compile_matches_the_plain_step():
    x, y = dense_data(16)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    plain, jit = dense_model(), dense_model()
    Trainer(plain, "mse", keras.optimizers.SGD(0.1), verbose=0).fit(ds, epochs=2)
    Trainer(jit, "mse", keras.optimizers.SGD(0.1), jit_compile=True, verbose=0).fit(ds, epochs=2)
    for a, b in zip(plain.get_weights(), jit.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_same_seed_same_run():
    x, y = sequence_data(32)

    def run():
        model = gru_model(seed=3)
        data = shuffled_per_epoch(tf.data.Dataset.from_tensor_slices((x, y)), 8, seed=3)
        Trainer(model, "mse", "adam", seed=3, verbose=0).fit(data, epochs=2)
        return model.get_weights()

    for a, b in zip(run(), run(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_shuffled_per_epoch_is_a_function_of_the_epoch():
    data = shuffled_per_epoch(tf.data.Dataset.range(20), 20, seed=5)
    first = [next(iter(data(e).as_numpy_iterator())).tolist() for e in (0, 1, 0)]
    assert first[0] == first[2] and first[0] != first[1]
    assert sorted(first[0]) == list(range(20))
