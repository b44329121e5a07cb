"""The Trainer: a ``tf.GradientTape`` training loop a careful engineer can leave running.

Usage::

    trainer = Trainer(model, "mse", keras.optimizers.Adam(1e-3), metrics=["mae"],
                      clip_norm=1.0, checkpoint_dir="runs/ckpt", log_dir="runs/logs")
    history = trainer.fit(train_ds, epochs=10, validation_data=val_ds)
    history.history["loss"], history.step_grad_norms

What one epoch does: for each batch, one compiled step (:mod:`keras_rnn.training.steps`:
forward, per-example loss scaled by the global batch, gradients, global norm, clipping,
optimizer); every ``checkpoint_every`` steps a checkpoint; at the end validation, callbacks,
and a checkpoint. Started again with the same arguments, ``fit`` restores the newest good
checkpoint (:mod:`keras_rnn.training.checkpoints`) and goes on from the very batch after it:
for that, the data's order must be a function of the epoch (see :mod:`keras_rnn.training.data`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_rnn.training import devices, keras_callbacks
from keras_rnn.training.callbacks import Callback, History, TensorBoard
from keras_rnn.training.checkpoints import CheckpointError, CheckpointStore
from keras_rnn.training.data import EpochData, check_resumable, epoch_dataset
from keras_rnn.training.progress import EpochProgress
from keras_rnn.training.signals import GracefulStop, TrainingInterrupted
from keras_rnn.training.steps import Steps, resolve_loss


class Trainer:
    """Train a Keras model with a ``tf.GradientTape`` loop.

    Args:
        model: a built Keras model (under ``strategy.scope()`` when a strategy is used).
        loss: a Keras loss name or object, or ``f(y_true, y_pred)`` returning per-example
            (unreduced) values. The loss optimised is the mean over the global batch.
        optimizer: a Keras optimizer (or its name). Under mixed precision it is wrapped in a
            ``keras.optimizers.LossScaleOptimizer``.
        metrics: Keras metric names or objects, reported per epoch (and ``val_*``).
        clip_norm: clip the gradients to this global norm (None: off).
        clip_value: clip each gradient element to ``[-clip_value, clip_value]`` (None: off).
        strategy: a ``tf.distribute.Strategy``, a name (``default``, ``mirrored``,
            ``multi-worker``) or None (the strategy in scope).
        jit_compile: compile the replica step with XLA.
        checkpoint_dir: where checkpoints go (None: no checkpoints, no resume).
        checkpoint_every: also checkpoint every this many steps (always at epoch ends).
        keep_checkpoints: how many of the newest checkpoints to keep.
        resume: restore the newest checkpoint in ``checkpoint_dir`` when there is one. False
            starts over, and refuses a directory that holds checkpoints (a directory whose
            checkpoints are all damaged, in ``corrupt/``, is refused with ``resume=True``).
        restart: delete the checkpoints in ``checkpoint_dir`` (``corrupt/`` too) and train
            from the start.
        log_dir: TensorBoard log directory (None: no logs).
        verbose: 1 for a progress bar per epoch, 0 for quiet.
        seed: seeds every RNG at the start of ``fit`` (data order, dropout); build the model
            after ``keras.utils.set_random_seed(seed)`` to make its initial weights repeatable.
        deterministic: use deterministic TensorFlow kernels (needs ``seed``).
        mixed_precision: wrap the optimizer for loss scaling. None: when the model computes
            in float16. Build the model under ``mixed_float16``
            (:func:`keras_rnn.training.devices.configure`) for it to pay off.
    """

    def __init__(
        self,
        model: keras.Model,
        loss: Any,
        optimizer: keras.optimizers.Optimizer | str,
        metrics: Sequence[Any] = (),
        *,
        clip_norm: float | None = 1.0,
        clip_value: float | None = None,
        strategy: tf.distribute.Strategy | str | None = None,
        jit_compile: bool = False,
        checkpoint_dir: str | None = None,
        checkpoint_every: int | None = None,
        keep_checkpoints: int = 3,
        resume: bool = True,
        restart: bool = False,
        log_dir: str | None = None,
        verbose: int = 1,
        seed: int | None = None,
        deterministic: bool = False,
        mixed_precision: bool | None = None,
    ) -> None:
        _check_backend()
        for name, value in (("clip_norm", clip_norm), ("clip_value", clip_value)):
            if value is not None and not (isinstance(value, int | float) and value > 0):
                raise ValueError(
                    f"Received an invalid value for argument `{name}`, expected a positive "
                    f"number or None, got {value!r}"
                )
        if checkpoint_every is not None and (
            not isinstance(checkpoint_every, int) or checkpoint_every < 1
        ):
            raise ValueError(
                "Received an invalid value for argument `checkpoint_every`, expected a positive "
                f"integer or None, got {checkpoint_every!r}"
            )
        if not isinstance(keep_checkpoints, int) or keep_checkpoints < 1:
            raise ValueError(
                "Received an invalid value for argument `keep_checkpoints`, expected a positive "
                f"integer, got {keep_checkpoints!r}"
            )
        if deterministic and seed is None:
            raise ValueError("Deterministic mode needs a seed: pass `seed`.")
        self.model = model
        self.strategy = devices.resolve_strategy(strategy)
        self.clip_norm = clip_norm
        self.clip_value = clip_value
        self.jit_compile = jit_compile
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.keep_checkpoints = keep_checkpoints
        self.resume = resume
        self.restart = restart
        self.log_dir = log_dir
        self.verbose = verbose
        self.seed = seed
        self.deterministic = deterministic
        self.stop_training = False
        self.global_step = 0
        self.initial_epoch = 0  # the epoch fit started (or resumed) in
        self.initial_step_in_epoch = 0  # batches of initial_epoch done before (a resume)
        self.resumed_from: str | None = None  # the checkpoint fit resumed from, if any
        self._check_model_scope()
        self._loss_fn = resolve_loss(loss)
        with self.strategy.scope():
            self.optimizer = self._wrap_optimizer(optimizer, mixed_precision)
            self.metrics = [_resolve_metric(m, self.strategy) for m in metrics]
            self.loss_tracker = keras.metrics.Mean(name="loss")
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names) or "loss" in names:
            raise ValueError(f"Metric names must be unique and not 'loss', got {names}")
        self._progress = EpochProgress(verbose)
        self._steps: Steps | None = None
        self._checkpoint: tf.train.Checkpoint | None = None
        self._store: CheckpointStore | None = None
        self._counters: dict[str, tf.Variable] = {}

    # --- set-up ----------------------------------------------------------------------------

    @property
    def base_optimizer(self) -> keras.optimizers.Optimizer:
        """The optimizer inside the loss-scale wrapper (where the learning rate lives)."""
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            return self.optimizer.inner_optimizer
        return self.optimizer

    @property
    def is_chief(self) -> bool:
        """True except on the non-chief workers of a multi-worker run."""
        return devices.is_chief(self.strategy)

    def _check_model_scope(self) -> None:
        if self.strategy is tf.distribute.get_strategy() and not tf.distribute.has_strategy():
            return
        for variable in self.model.variables[:1]:
            tf_variable = getattr(variable, "value", variable)
            if not self.strategy.extended.variable_created_in_scope(tf_variable):
                raise ValueError(
                    f"The model's variables were not created under the strategy "
                    f"({type(self.strategy).__name__}): build the model and optimizer inside "
                    "`with strategy.scope():` (for a strategy by name, get it from "
                    "keras_rnn.training.devices.resolve_strategy(name))."
                )

    def _wrap_optimizer(self, optimizer: Any, mixed_precision: bool | None):
        if isinstance(optimizer, str):
            optimizer = keras.optimizers.get(optimizer)
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            raise ValueError(f"Expected a Keras optimizer or its name, got {optimizer!r}")
        if mixed_precision is None:
            mixed_precision = self.model.compute_dtype == "float16"
        if mixed_precision and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    def _build(self, dataset: tf.data.Dataset | None = None) -> None:
        """Build model (from the data's shapes if needed), optimizer, steps and checkpoint."""
        if self._steps is not None:
            return
        if not self.model.built:
            if dataset is None:
                raise ValueError("The model is not built: call it on a batch first.")
            x_spec = keras.utils.unpack_x_y_sample_weight(dataset.element_spec)[0]
            with self.strategy.scope():
                self.model.build(tf.nest.map_structure(lambda s: s.shape, x_spec))
        with self.strategy.scope():
            self.optimizer.build(self.model.trainable_variables)
        self._steps = Steps(
            self.model,
            self._loss_fn,
            self.optimizer,
            self.metrics,
            self.loss_tracker,
            self.strategy,
            self.clip_norm,
            self.clip_value,
            jit_compile=self.jit_compile,
        )
        if self.checkpoint_dir is not None:
            self._counters = {
                "epoch": tf.Variable(0, dtype=tf.int64, trainable=False),
                "step_in_epoch": tf.Variable(0, dtype=tf.int64, trainable=False),
                "global_step": tf.Variable(0, dtype=tf.int64, trainable=False),
                "state": tf.Variable("{}", dtype=tf.string, trainable=False),
            }
            metric_variables = [v for m in (self.loss_tracker, *self.metrics) for v in m.variables]
            # Keras 3 models are not tracked as checkpoint dependencies: list their variables
            # (weights, non-trainable state, dropout RNG state) explicitly.
            self._checkpoint = tf.train.Checkpoint(
                model_variables=list(self.model.variables),
                optimizer=self.optimizer,
                metric_variables=metric_variables,
                **self._counters,
            )
            self._store = CheckpointStore(
                self._checkpoint, self.checkpoint_dir, self.keep_checkpoints, write=self.is_chief
            )

    # --- fit -------------------------------------------------------------------------------

    def fit(
        self,
        train_data: EpochData,
        epochs: int = 1,
        validation_data: tf.data.Dataset | None = None,
        callbacks: Iterable[Callback] = (),
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
    ) -> History:
        """Train until ``epochs`` epochs are done in all (resumed ones count); return History.

        Args:
            train_data: batches of ``(x, y)`` or ``(x, y, sample_weight)``: a
                ``tf.data.Dataset`` or a function ``epoch -> Dataset``. Batches are global
                (split over the replicas).
            epochs: the epoch to stop after (like Keras, counted from the run's start).
            validation_data: a dataset evaluated at each epoch's end (``val_*`` logs).
            callbacks: :class:`~keras_rnn.training.callbacks.Callback` objects, or
                ``keras.callbacks.Callback`` ones (:mod:`keras_rnn.training.keras_callbacks`).
            steps_per_epoch: batches per epoch (needed for an infinite dataset).
            validation_steps: batches of ``validation_data`` per evaluation.

        Raises:
            TrainingInterrupted: after SIGINT or SIGTERM, once the checkpoint is saved.
        """
        _check_positive("epochs", epochs)
        if steps_per_epoch is not None:
            _check_positive("steps_per_epoch", steps_per_epoch)
        if validation_steps is not None:
            _check_positive("validation_steps", validation_steps)
        if self.seed is not None:
            devices.configure(seed=self.seed, deterministic=self.deterministic)
        first = epoch_dataset(train_data, 0)
        user_callbacks = keras_callbacks.adapt(callbacks, epochs, steps_per_epoch, first)
        self._build(first)
        history = History()
        all_callbacks: list[Callback] = [history, *user_callbacks]
        if self.log_dir is not None:
            all_callbacks.append(TensorBoard(self.log_dir))
        for callback in all_callbacks:
            callback.set_trainer(self)
        self.stop_training = False

        start_epoch, skip = self._restore(history, user_callbacks)
        self.initial_epoch, self.initial_step_in_epoch = start_epoch, skip
        if self._store is not None and start_epoch < epochs and not self.stop_training:
            # A resume must see the batches the uninterrupted run saw: refuse an order drawn
            # from a per-process counter (it would replay epoch 0's order after a restart).
            check_resumable(epoch_dataset(train_data, start_epoch))
        self._progress.say(f"Training with {devices.describe(self.strategy)}")
        batch_begin_callbacks = [
            c
            for c in all_callbacks
            if type(c).on_train_batch_begin is not Callback.on_train_batch_begin
        ]
        step_logs_wanted = bool(self.verbose) or any(
            type(c).on_train_batch_end is not Callback.on_train_batch_end for c in all_callbacks
        )
        with GracefulStop(enabled=self._store is not None) as stop:
            for callback in all_callbacks:
                callback.on_train_begin()
            epoch = start_epoch
            while epoch < epochs and not self.stop_training:
                for callback in all_callbacks:
                    callback.on_epoch_begin(epoch)
                if skip == 0:
                    self._reset_metrics()
                dataset = epoch_dataset(train_data, epoch)
                if steps_per_epoch is not None:
                    dataset = dataset.take(steps_per_epoch)
                target = _cardinality(dataset, steps_per_epoch)
                if skip:
                    dataset = dataset.skip(skip)
                self._progress.begin_epoch(epoch, epochs, target, first_step=skip)
                step_in_epoch, pending = skip, []
                for batch in self.strategy.experimental_distribute_dataset(dataset):
                    for callback in batch_begin_callbacks:
                        callback.on_train_batch_begin(self.global_step + 1)
                    _, norm = self._steps.train(batch)
                    step_in_epoch += 1
                    self.global_step += 1
                    pending.append(norm)
                    if step_logs_wanted:
                        logs = self._train_logs(grad_norm=float(norm))
                        for callback in all_callbacks:
                            callback.on_train_batch_end(self.global_step, logs)
                        if step_in_epoch != target:  # the epoch's end draws the last one
                            self._progress.update(step_in_epoch, logs)
                    every = self.checkpoint_every
                    if stop.received or (every and self.global_step % every == 0):
                        self._flush_norms(history, pending)
                        path = self._save(history, user_callbacks, epoch, step_in_epoch)
                        if stop.received:
                            raise TrainingInterrupted(stop.received, path)
                    if self.stop_training:
                        break
                if step_in_epoch == 0:
                    raise ValueError(
                        f"The training data gave no batch in epoch {epoch + 1}; is it empty?"
                    )
                self._flush_norms(history, pending)
                logs = self._train_logs()
                # Mean over the steps taken; steps a loss-scale optimizer skipped (norm inf) are
                # left out of it (they are in step_grad_norms).
                epoch_norms = np.array(history.step_grad_norms[-step_in_epoch:])
                finite = epoch_norms[np.isfinite(epoch_norms)]
                logs["grad_norm"] = float(np.mean(finite)) if finite.size else math.inf
                self._progress.end_epoch(step_in_epoch, logs)
                if validation_data is not None:
                    val = self.evaluate(validation_data, steps=validation_steps)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                    self._progress.say(
                        "  " + "  ".join(f"val_{k}: {v:.4g}" for k, v in val.items())
                    )
                for callback in all_callbacks:
                    callback.on_epoch_end(epoch, logs)
                epoch += 1
                skip = 0
                # Overwrite a save made at the epoch's last step: the counters (next epoch)
                # and the callbacks' state (an early stop) changed since.
                path = self._save(history, user_callbacks, epoch, 0, overwrite=True)
                if stop.received:
                    raise TrainingInterrupted(stop.received, path)
            for callback in all_callbacks:
                callback.on_train_end()
        return history

    def _train_logs(self, grad_norm: float | None = None) -> dict[str, float]:
        logs = {"loss": float(self.loss_tracker.result())}
        for metric in self.metrics:
            logs[metric.name] = float(metric.result())
        if grad_norm is not None:
            logs["grad_norm"] = grad_norm
        logs["learning_rate"] = float(np.asarray(self.base_optimizer.learning_rate))
        return logs

    def _reset_metrics(self) -> None:
        self.loss_tracker.reset_state()
        for metric in self.metrics:
            metric.reset_state()

    @staticmethod
    def _flush_norms(history: History, pending: list[tf.Tensor]) -> None:
        if pending:
            history.step_grad_norms.extend(float(n) for n in tf.stack(pending).numpy())
            pending.clear()

    # --- checkpoints -----------------------------------------------------------------------

    def _save(
        self,
        history: History,
        callbacks: list[Callback],
        epoch: int,
        step_in_epoch: int,
        overwrite: bool = False,
    ) -> str | None:
        if self._store is None:
            return None
        state = {
            "history": history.get_state(),
            "callbacks": [[type(c).__name__, c.get_state()] for c in callbacks],
        }
        self._counters["epoch"].assign(epoch)
        self._counters["step_in_epoch"].assign(step_in_epoch)
        self._counters["global_step"].assign(self.global_step)
        state["stopped"] = bool(self.stop_training)
        self._counters["state"].assign(json.dumps(state, allow_nan=True))
        return self._store.save(self.global_step, overwrite=overwrite)

    def _restore(self, history: History, callbacks: list[Callback]) -> tuple[int, int]:
        """Restore the newest good checkpoint; return (epoch, step in epoch) to go on from."""
        if self._store is None:
            return 0, 0
        self._store.clean()
        if self.restart:
            self._store.remove_all()
            self._progress.say(f"Restarting: removed the checkpoints in {self.checkpoint_dir}")
            return 0, 0
        if not self.resume:
            found = self._store.candidates()
            if found:
                raise CheckpointError(
                    f"checkpoint_dir {self.checkpoint_dir!r} already holds checkpoints "
                    f"({found[0].name}) and resume is off: resume (drop --no-resume), or give "
                    "an empty directory"
                )
            return 0, 0
        path = self._store.restore_latest()
        if path is None:
            return 0, 0
        self._store.prune()  # more than keep_checkpoints after a kill between save and prune
        self.resumed_from = str(path)
        state = json.loads(self._counters["state"].numpy().decode("utf-8"))
        # The run ended early (EarlyStopping, stop_training): it is finished, as one that ran
        # all its epochs is; running the command again must not train it further.
        self.stop_training = bool(state.get("stopped", False))
        history.set_state(state.get("history", {}))
        saved = state.get("callbacks", [])
        for callback, (name, callback_state) in zip(callbacks, saved, strict=False):
            if type(callback).__name__ == name:
                callback.set_state(callback_state)
        self.global_step = int(self._counters["global_step"].numpy())
        epoch = int(self._counters["epoch"].numpy())
        step = int(self._counters["step_in_epoch"].numpy())
        if self.stop_training:
            self._progress.say(
                f"Resumed from {path}: the run stopped early after epoch {epoch} (global step "
                f"{self.global_step}); it is finished, nothing to do"
            )
        else:
            self._progress.say(
                f"Resumed from {path} (epoch {epoch + 1}, step {step} of it, global step "
                f"{self.global_step})"
            )
        return epoch, step

    # --- evaluate --------------------------------------------------------------------------

    def evaluate(self, data: tf.data.Dataset, steps: int | None = None) -> dict[str, float]:
        """Mean loss and metrics over ``data`` (or its first ``steps`` batches)."""
        if steps is not None:
            _check_positive("steps", steps)
            data = data.take(steps)
        self._build(data)
        self._reset_metrics()
        seen = 0
        for batch in self.strategy.experimental_distribute_dataset(data):
            self._steps.evaluate(batch)
            seen += 1
        if seen == 0:
            raise ValueError("The evaluation data gave no batch; is it empty?")
        results = {"loss": float(self.loss_tracker.result())}
        for metric in self.metrics:
            results[metric.name] = float(metric.result())
        return results


def _resolve_metric(metric: Any, strategy: tf.distribute.Strategy) -> keras.metrics.Metric:
    """A metric object whose variables live under ``strategy`` (called inside its scope)."""
    if isinstance(metric, keras.metrics.Metric):
        if tf.distribute.has_strategy():
            # Created outside the scope, its variables would not be mirrored: make a twin.
            return type(metric).from_config(metric.get_config())
        return metric
    resolved = keras.metrics.get(metric)
    if isinstance(resolved, keras.metrics.Metric):
        if isinstance(metric, str):  # report it under the name asked for ("mae"), as Keras does
            return type(resolved).from_config({**resolved.get_config(), "name": metric})
        return resolved
    name = metric if isinstance(metric, str) else getattr(resolved, "__name__", "metric")
    return keras.metrics.MeanMetricWrapper(resolved, name=name)


def _cardinality(dataset: tf.data.Dataset, steps: int | None) -> int | None:
    size = int(dataset.cardinality())
    if size == tf.data.INFINITE_CARDINALITY:
        raise ValueError("The training data is infinite: pass `steps_per_epoch`.")
    return size if size >= 0 else steps


def _check_backend() -> None:
    """The Trainer is ``tf.GradientTape`` and ``tf.distribute``: refuse other backends early."""
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise RuntimeError(
            f"keras_rnn.training.Trainer needs the TensorFlow backend, but Keras runs on "
            f"{backend!r}: set KERAS_BACKEND=tensorflow before importing keras, or train "
            "with model.compile() and model.fit(), which keras_rnn's layers support on other "
            "backends too (tested on JAX)."
        )


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected a positive integer, "
            f"got {value!r}"
        )


__all__ = ["Trainer", "TrainingInterrupted"]
