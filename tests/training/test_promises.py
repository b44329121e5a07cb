"""What the Trainer promises after kills, damage and early stops (issue 13), in process.

Each test states the promise and reproduces the way it was broken: a self-reshuffling
pipeline resumed, a save cut short, every checkpoint damaged twice, a schedule relative to
the current rate resumed mid-epoch, an early-stopped run started again, leftovers of kills,
TensorBoard points logged twice, steps/s with the tracing, a float16 loss.
"""

from __future__ import annotations

import os
import shutil
import signal

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_rnn.training import Callback, EarlyStopping, LearningRateScheduler, Trainer
from keras_rnn.training import checkpoints as checkpoints_module
from keras_rnn.training.checkpoints import CheckpointError
from keras_rnn.training.data import check_resumable, shuffled_per_epoch
from keras_rnn.training.signals import TrainingInterrupted


def model(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)]
    )


def examples() -> tf.data.Dataset:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, y))


def data():
    return shuffled_per_epoch(examples(), 8, seed=1)  # 6 steps an epoch


def trainer(directory, *, every=2, lr=0.01, **kwargs) -> Trainer:
    return Trainer(
        model(),
        "mse",
        keras.optimizers.Adam(lr),
        checkpoint_dir=None if directory is None else str(directory),
        checkpoint_every=every,
        verbose=0,
        **kwargs,
    )


def steps(directory) -> list[int]:
    return sorted(int(p.name[5:-6]) for p in directory.glob("ckpt-*.index"))


class TermAt(Callback):
    """SIGTERM to this process after global step ``step``: the trainer saves and stops."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, step, logs=None):
        if step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


def assert_same_weights(a: keras.Model, b: keras.Model) -> None:
    for x, y in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)


# --- the order of the data ---------------------------------------------------------------------


def test_a_self_reshuffling_pipeline_is_refused_when_checkpointing(tmp_path):
    reshuffling = examples().shuffle(48, seed=0, reshuffle_each_iteration=True).batch(8)
    with pytest.raises(ValueError, match="reshuffles itself"):
        trainer(tmp_path / "ckpt").fit(reshuffling, epochs=1)
    check_resumable(data()(3))  # the (seed, epoch) order passes
    trainer(None).fit(reshuffling, epochs=1)  # no checkpoints, no resume: allowed


def test_an_unseeded_shuffle_is_refused_when_checkpointing(tmp_path):
    """shuffle(reshuffle_each_iteration=False) without a seed has one order per process: a
    resumed run would see another (printed [18, 12, 0, 2, 17] and [15, 11, 1, 9, 17] in two
    processes)."""
    tf.random.set_seed(None)  # no global seed either (earlier tests may have set one)
    unseeded = examples().shuffle(48, reshuffle_each_iteration=False).batch(8)
    with pytest.raises(ValueError, match="without a seed"):
        trainer(tmp_path / "ckpt").fit(unseeded, epochs=1)
    check_resumable(examples().shuffle(48, seed=5, reshuffle_each_iteration=False))
    tf.random.set_seed(7)  # a global seed fixes the op's seeds too
    check_resumable(examples().shuffle(48, reshuffle_each_iteration=False))


def test_stock_and_text_pipelines_draw_their_order_from_seed_and_epoch():
    from keras_rnn.data.stock import PriceScaler, chronological_split, load_series, part_windows
    from keras_rnn.data.stock.windows import to_dataset, training_data
    from keras_rnn.data.text import sequence_dataset

    series = load_series("synthetic", length=300)
    split = chronological_split(len(series))
    windows = part_windows(series.close, split, "train", window=10, min_window=5, seed=0)
    scaler = PriceScaler.fit(series.close[: split.train_end], "returns")

    def order(ds):
        return np.concatenate([y.numpy().ravel() for _, y in ds])

    by_epoch = training_data(windows, scaler, 32, seed=3)
    again = training_data(windows, scaler, 32, seed=3)  # as a new process would build it
    np.testing.assert_array_equal(order(by_epoch(2)), order(again(2)))
    assert not np.array_equal(order(by_epoch(1)), order(by_epoch(2)))
    for ds in (
        by_epoch(0),
        to_dataset(windows, scaler, 32, shuffle=True, seed=3),
        sequence_dataset(np.arange(500), 8, 4, seed=3),
    ):
        check_resumable(ds)


# --- atomic saves --------------------------------------------------------------------------


@pytest.mark.parametrize("renames_before_kill", [0, 1])
def test_a_save_cut_short_is_invisible_and_cleaned(tmp_path, monkeypatch, renames_before_kill):
    """The first save interrupted before any rename, or after the data file's: the next start
    sees no checkpoint, trains from step 0 and ends as an uninterrupted run."""
    directory = tmp_path / "ckpt"
    published = []
    real = checkpoints_module.publish

    def publish(src, dst):
        if len(published) == renames_before_kill:
            # A SIGKILL here would leave the temporary directory (an exception lets the
            # save's `finally` remove it): keep a copy, as the kill would, and stop.
            shutil.copytree(src.parent, src.parent.with_name(src.parent.name + "-killed"))
            raise KeyboardInterrupt("killed during the save")
        published.append(dst)
        real(src, dst)

    monkeypatch.setattr(checkpoints_module, "publish", publish)
    with pytest.raises(KeyboardInterrupt):
        trainer(directory).fit(data(), epochs=1)
    monkeypatch.setattr(checkpoints_module, "publish", real)
    assert steps(directory) == []
    leftovers = sorted(p.name for p in directory.iterdir())
    assert leftovers, "the interrupted save left nothing to clean: the test lost its point"

    resumed = trainer(directory)
    resumed.fit(data(), epochs=2)
    assert sorted(p.name for p in directory.iterdir()) == [
        "checkpoint",
        *sorted(f"ckpt-{s}.{ext}" for s in (8, 10, 12) for ext in ("data-00000-of-00001", "index")),
    ]
    reference = trainer(None)
    reference.fit(data(), epochs=2)
    assert_same_weights(resumed.model, reference.model)
    assert tf.train.latest_checkpoint(str(directory)).endswith("ckpt-12")


def test_leftovers_of_kills_are_removed_at_start(tmp_path):
    directory = tmp_path / "ckpt"
    trainer(directory, keep_checkpoints=5).fit(data(), epochs=1)  # ckpt-2 .. ckpt-6
    (directory / "ckpt-300_temp").mkdir()  # what a kill inside TensorFlow's save left
    (directory / "ckpt-300_temp" / "part-00000-of-00001.index").write_bytes(b"x")
    (directory / ".tmp-ckpt-7-abc").mkdir()
    (directory / ".tmp-ckpt-list-xyz").write_text('model_checkpoint_path: "ckpt-')  # cut short
    (directory / "ckpt-9.data-00000-of-00001").write_bytes(b"no index ever came")
    (directory / "checkpoint").write_bytes(b"\xff\xfe garbage \x00")  # a damaged list file
    trainer(directory, keep_checkpoints=3).fit(data(), epochs=2)
    assert sorted(p.name for p in directory.iterdir()) == [
        "checkpoint",
        *sorted(f"ckpt-{s}.{ext}" for s in (8, 10, 12) for ext in ("data-00000-of-00001", "index")),
    ]
    assert tf.train.latest_checkpoint(str(directory)).endswith("ckpt-12")


def test_extra_checkpoints_beyond_keep_are_pruned_on_resume(tmp_path):
    directory = tmp_path / "ckpt"
    trainer(directory, keep_checkpoints=5).fit(data(), epochs=1)
    assert steps(directory) == [2, 4, 6]
    run = trainer(directory, keep_checkpoints=2)
    run.fit(data(), epochs=1)  # finished: nothing to train, but the extras go
    assert steps(directory) == [4, 6]


# --- damage --------------------------------------------------------------------------------


def test_every_checkpoint_damaged_is_refused_every_time_until_no_resume(tmp_path):
    directory = tmp_path / "ckpt"
    trainer(directory).fit(data(), epochs=1)
    for step in (2, 4, 6):
        data_file = next(directory.glob(f"ckpt-{step}.data-*"))
        data_file.write_bytes(data_file.read_bytes()[:10])
    with pytest.warns(RuntimeWarning), pytest.raises(CheckpointError, match="none of the"):
        trainer(directory).fit(data(), epochs=1)
    for _ in range(2):  # the same command again: refused again, nothing trained
        run = trainer(directory)
        with pytest.raises(CheckpointError, match="--no-resume"):
            run.fit(data(), epochs=1)
        assert run.global_step == 0
    fresh = trainer(directory, resume=False)
    fresh.fit(data(), epochs=1)
    assert fresh.global_step == 6 and steps(directory) == [2, 4, 6]
    assert (directory / "corrupt").is_dir()  # kept for a look, until a restart


def test_restart_removes_the_checkpoints_and_trains_from_the_start(tmp_path):
    directory = tmp_path / "ckpt"
    trainer(directory).fit(data(), epochs=1)
    (directory / "corrupt").mkdir()
    (directory / "corrupt" / "ckpt-1.index").write_bytes(b"damaged")
    again = trainer(directory, restart=True)
    again.fit(data(), epochs=1)
    assert again.global_step == 6 and steps(directory) == [2, 4, 6]
    assert not (directory / "corrupt").exists()
    reference = trainer(None)
    reference.fit(data(), epochs=1)
    assert_same_weights(again.model, reference.model)


# --- schedules and early stopping ------------------------------------------------------------


def halve_after_first(epoch: int, lr: float) -> float:
    return lr * 0.5 if epoch else lr


@pytest.mark.parametrize(
    "scheduler",
    [LearningRateScheduler, keras.callbacks.LearningRateScheduler],
    ids=["ours", "keras"],
)
def test_a_schedule_relative_to_the_rate_is_applied_once_per_epoch_across_a_resume(
    tmp_path, scheduler
):
    """Killed in epoch 2 (step 9 of 6-step epochs) and resumed: the rate restored with the
    optimizer is epoch 2's already; applying the schedule again would halve it twice."""
    directory = tmp_path / "ckpt"
    first = trainer(directory, every=100)
    with pytest.raises(TrainingInterrupted):
        first.fit(data(), epochs=3, callbacks=[scheduler(halve_after_first), TermAt(9)])
    resumed = trainer(directory, every=100)
    history = resumed.fit(data(), epochs=3, callbacks=[scheduler(halve_after_first)])
    np.testing.assert_allclose(history.history["learning_rate"], [0.01, 0.005, 0.0025])
    reference = trainer(None)
    reference.fit(data(), epochs=3, callbacks=[scheduler(halve_after_first)])
    assert_same_weights(resumed.model, reference.model)


def test_a_keras_callback_setting_the_rate_at_every_epoch_begin_is_not_reapplied_on_resume(
    tmp_path,
):
    """Any Keras callback that moves the rate in ``on_epoch_begin`` (here a LambdaCallback
    multiplying it by 0.1 each epoch): the resumed epoch keeps the rate it was saved with."""

    def tenth(trainer_):
        def on_epoch_begin(epoch, logs=None):
            optimizer = trainer_.base_optimizer
            optimizer.learning_rate = float(np.asarray(optimizer.learning_rate)) * 0.1

        return keras.callbacks.LambdaCallback(on_epoch_begin=on_epoch_begin)

    directory = tmp_path / "ckpt"
    first = trainer(directory, every=100)
    with pytest.raises(TrainingInterrupted):
        first.fit(data(), epochs=2, callbacks=[tenth(first), TermAt(8)])
    resumed = trainer(directory, every=100)
    history = resumed.fit(data(), epochs=2, callbacks=[tenth(resumed)])
    np.testing.assert_allclose(history.history["learning_rate"], [1e-3, 1e-4], rtol=1e-6)


def test_an_early_stopped_run_started_again_does_nothing(tmp_path):
    directory = tmp_path / "ckpt"
    val = examples().batch(48)
    stop = EarlyStopping("val_loss", patience=0, min_delta=1e9)  # stops after epoch 2
    first = trainer(directory)
    history = first.fit(data(), epochs=5, validation_data=val, callbacks=[stop])
    assert len(history.history["loss"]) == 2
    again = trainer(directory)
    history = again.fit(
        data(), epochs=5, validation_data=val, callbacks=[EarlyStopping("val_loss", patience=0)]
    )
    assert again.global_step == first.global_step == 12
    assert len(history.history["loss"]) == 2
    assert_same_weights(again.model, first.model)


# --- logs and progress -----------------------------------------------------------------------


def scalar_steps(log_dir, tag: str) -> list[int]:
    from tensorflow.core.util import event_pb2

    found = []
    for path in sorted(log_dir.rglob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(record.numpy())
            found += [event.step for v in event.summary.value if v.tag == tag]
    return sorted(found)


def test_tensorboard_holds_each_step_once_after_a_resume(tmp_path):
    directory, logs = tmp_path / "ckpt", tmp_path / "logs"
    trainer(directory, every=4, log_dir=str(logs)).fit(data(), epochs=1)
    for path in directory.glob("ckpt-6.*"):  # as if killed after step 6, before its save
        path.unlink()
    assert scalar_steps(logs, "train/loss") == [1, 2, 3, 4, 5, 6]
    trainer(directory, every=4, log_dir=str(logs)).fit(data(), epochs=2)
    assert scalar_steps(logs, "train/loss") == list(range(1, 13))
    assert scalar_steps(logs, "epoch/loss") == [0, 1]


def test_starting_over_with_no_resume_logs_each_step_once(tmp_path):
    """Every checkpoint damaged, the start refused, then ``resume=False`` (``--no-resume``,
    what the refusal says to do): the run starts over at step 1 in the same log_dir, and
    the points of the run thrown away must go, as after a --restart."""
    directory, logs = tmp_path / "ckpt", tmp_path / "logs"
    trainer(directory, every=4, log_dir=str(logs)).fit(data(), epochs=1)
    for path in directory.glob("ckpt-*.data-*"):
        path.write_bytes(b"")
    with pytest.warns(RuntimeWarning), pytest.raises(CheckpointError):
        trainer(directory, every=4, log_dir=str(logs)).fit(data(), epochs=1)
    trainer(directory, every=4, log_dir=str(logs), resume=False).fit(data(), epochs=1)
    assert scalar_steps(logs, "train/loss") == [1, 2, 3, 4, 5, 6]
    assert scalar_steps(logs, "epoch/loss") == [0]


def test_steps_per_second_leaves_out_the_first_step_of_an_epoch(monkeypatch):
    from keras_rnn.training import progress

    clock = iter([0.0, 30.0, 31.0])  # begin; step 101 ends after 30 s of tracing; step 111
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    bar = progress.EpochProgress(verbose=0)
    bar.begin_epoch(1, 3, 200, first_step=100)
    assert bar.steps_per_second(101) == 0.0  # the first step (tracing) is not a measurement
    assert bar.steps_per_second(111) == pytest.approx(10.0)  # 10 steps in the next second


# --- mixed precision -------------------------------------------------------------------------


@pytest.fixture
def mixed_float16():
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy("float32")


def gru_regression(targets_around: float):
    import keras_rnn

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5, 2)), keras_rnn.GRU(8), keras.layers.Dense(1)])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5, 2)).astype("float32")
    y = (targets_around + rng.normal(size=(64, 1))).astype("float32")
    return model, tf.data.Dataset.from_tensor_slices((x, y)).batch(4)


def test_mixed_precision_computes_the_loss_in_float32(mixed_float16):
    model, ds = gru_regression(300.0)
    assert model.compute_dtype == "float16"
    run = Trainer(model, "mse", keras.optimizers.SGD(1e-6), verbose=0)
    history = run.fit(ds, epochs=1)
    # 300² = 90,000 overflows float16 (max 65,504): a float16 loss is inf, the gradients
    # too, and every step is skipped. In float32 the loss is finite; the first steps'
    # float16 gradients still overflow (norm inf) until the dynamic loss scale has come
    # down, as under model.fit, and then the steps are taken.
    assert 80_000 < history.history["loss"][0] < 100_000
    norms = np.array(history.step_grad_norms)
    assert np.all(np.isfinite(norms) | np.isposinf(norms))
    assert np.isfinite(norms[-1])


def test_an_overflowed_step_logs_the_norm_inf(mixed_float16):
    model, ds = gru_regression(1.0)
    huge = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(1e-3), initial_scale=2.0**126)
    history = Trainer(model, "mse", huge, verbose=0).fit(ds.take(1), epochs=1)
    assert history.step_grad_norms == [float("inf")]


def test_copy_helpers_are_not_shared_state(tmp_path):
    """Guard for the tests above: copying a run directory copies checkpoints as files."""
    directory = tmp_path / "a"
    trainer(directory).fit(data(), epochs=1)
    shutil.copytree(directory, tmp_path / "b")
    assert steps(tmp_path / "b") == [2, 4, 6]


def test_an_embeddings_gradient_norm_is_the_norm_of_the_summed_rows():
    """Token 1 appears three times: the tape gives three slices for row 1; the gradient is
    their sum, and the norm logged (and clipped) must be the dense gradient's."""
    from keras_rnn.training.clipping import clip_gradients

    embedding = keras.layers.Embedding(10, 3)
    tokens = tf.constant([[1, 1, 2, 1]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(embedding(tokens))
    (grad,) = tape.gradient(loss, embedding.trainable_variables)
    assert isinstance(grad, tf.IndexedSlices)
    (clipped,), norm = clip_gradients([grad], clip_norm=1.0)
    dense = tf.convert_to_tensor(grad)
    assert float(norm) == pytest.approx(float(tf.norm(dense)))  # sqrt(3 * 3² + 3 * 1²)
    np.testing.assert_allclose(tf.convert_to_tensor(clipped), dense / tf.norm(dense), rtol=1e-6)
