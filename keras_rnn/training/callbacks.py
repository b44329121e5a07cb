"""Callbacks for :class:`~keras_rnn.training.Trainer`: history, early stopping, LR schedule,
TensorBoard.

A callback sees the run through hooks (all optional)::

    on_train_begin(logs)  on_epoch_begin(epoch, logs)  on_train_batch_begin(step, logs)
    on_train_batch_end(step, logs)  on_epoch_end(epoch, logs)  on_train_end(logs)

``epoch`` counts from 0; ``step`` is the global step (train steps since the run began,
resumes included). ``logs`` holds Python floats: per step ``loss``, metric names,
``grad_norm`` and ``learning_rate``; per epoch the epoch means and ``val_*`` values. A
callback reaches the trainer as ``self.trainer`` (``.model``, ``.optimizer``) and stops
training with ``self.trainer.stop_training = True``. ``keras.callbacks.Callback`` objects are
accepted too (:mod:`keras_rnn.training.keras_callbacks`).

Callbacks whose progress must survive a resume implement ``get_state() -> dict`` (JSON) and
``set_state(dict)``; the trainer stores it in its checkpoints.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2
from tensorflow.core.util import event_pb2

if TYPE_CHECKING:  # pragma: no cover
    from keras_rnn.training.trainer import Trainer

Logs = dict[str, float]


class Callback:
    """Base class: every hook does nothing."""

    trainer: Trainer

    def set_trainer(self, trainer: Trainer) -> None:
        self.trainer = trainer

    def on_train_begin(self, logs: Logs | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None: ...
    def on_train_batch_begin(self, step: int, logs: Logs | None = None) -> None: ...
    def on_train_batch_end(self, step: int, logs: Logs | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None: ...
    def on_train_end(self, logs: Logs | None = None) -> None: ...

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        del state


class History(Callback):
    """What ``fit`` returns.

    Attributes:
        history: name -> list of per-epoch values (``loss``, metric names, ``grad_norm``, the
            epoch mean of the global gradient norm before clipping, ``learning_rate``, and
            ``val_*`` when there is validation data).
        step_grad_norms: the global gradient norm before clipping at every train step.
        epoch: the epochs finished (0-based), one per history entry.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.step_grad_norms: list[float] = []
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))

    def get_state(self) -> dict[str, Any]:
        return {
            "history": self.history,
            "step_grad_norms": self.step_grad_norms,
            "epoch": self.epoch,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.history = {k: list(v) for k, v in state.get("history", {}).items()}
        self.step_grad_norms = list(state.get("step_grad_norms", []))
        self.epoch = list(state.get("epoch", []))


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    Args:
        monitor: a key of the epoch logs, e.g. ``val_loss``.
        min_delta: the smallest change that counts as an improvement.
        patience: epochs without improvement before stopping.
        mode: ``min``, ``max`` or ``auto`` (``max`` for names with ``acc``/``auc``, else ``min``).
        restore_best_weights: at the end, put back the weights of the best epoch.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        if mode not in {"min", "max", "auto"}:
            raise ValueError(f"Expected `mode` to be 'min', 'max' or 'auto', got {mode!r}")
        if patience < 0:
            raise ValueError(f"Expected `patience` >= 0, got {patience!r}")
        if mode == "auto":
            mode = "max" if any(k in monitor for k in ("acc", "auc", "precision")) else "min"
        self.monitor = monitor
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.mode = mode
        self.restore_best_weights = restore_best_weights
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = -1
        self.wait = 0
        self.stopped_epoch: int | None = None
        self.best_weights: list[np.ndarray] | None = None

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if not logs or self.monitor not in logs:
            available = ", ".join(sorted(logs or {}))
            raise KeyError(
                f"EarlyStopping monitors {self.monitor!r}, which the epoch logs lack "
                f"(they have: {available}); pass validation_data for val_* names"
            )
        value = float(logs[self.monitor])
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.trainer.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.trainer.model.set_weights(self.best_weights)

    def get_state(self) -> dict[str, Any]:
        # The best weights themselves are not kept across a resume (they would double every
        # checkpoint); after a resume the best epoch's weights are those seen since.
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def set_state(self, state: dict[str, Any]) -> None:
        self.best = float(state.get("best", self.best))
        self.best_epoch = int(state.get("best_epoch", self.best_epoch))
        self.wait = int(state.get("wait", self.wait))


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch to ``schedule(epoch, lr)``.

    Each epoch's step is applied once per run, resumes included: the rate is saved with the
    optimizer in the checkpoint, and the epoch whose step was last applied is saved with
    this callback's state, so an epoch resumed in its middle keeps its rate instead of
    applying ``schedule`` to it a second time (which would halve it twice with
    ``lambda epoch, lr: lr * 0.5``).
    """

    def __init__(self, schedule: Callable[[int, float], float]) -> None:
        self.schedule = schedule
        self.applied_epoch = -1

    def get_state(self) -> dict[str, Any]:
        return {"applied_epoch": self.applied_epoch}

    def set_state(self, state: dict[str, Any]) -> None:
        self.applied_epoch = int(state.get("applied_epoch", -1))

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        if epoch <= self.applied_epoch:
            return
        self.applied_epoch = epoch
        optimizer = self.trainer.base_optimizer
        lr = float(self.schedule(epoch, float(np.asarray(optimizer.learning_rate))))
        if not math.isfinite(lr) or lr < 0:
            raise ValueError(
                f"The schedule returned an invalid learning rate {lr!r} at epoch {epoch}"
            )
        optimizer.learning_rate = lr


class TensorBoard(Callback):
    """TensorBoard scalars: every step ``train/loss``, ``train/grad_norm`` (before clipping),
    ``train/learning_rate`` and metrics; every epoch the ``epoch/*`` means and validation.

    Run ``tensorboard --logdir LOG_DIR`` to see them. Only the chief worker writes.
    """

    def __init__(self, log_dir: str, update_freq: int = 1) -> None:
        if update_freq < 1:
            raise ValueError(f"Expected `update_freq` >= 1, got {update_freq!r}")
        self.log_dir = str(log_dir)
        self.update_freq = update_freq
        self._writer = None

    def on_train_begin(self, logs: Logs | None = None) -> None:

        if self.trainer.is_chief:
            if getattr(self.trainer, "checkpoint_dir", None):
                # Steps after the checkpoint the run goes on from (all of them when it starts
                # over: --restart, or --no-resume after damaged checkpoints) were logged by
                # an earlier process and are about to be logged again: drop the old points.
                drop_events_after(
                    self.log_dir,
                    self.trainer.global_step,
                    getattr(self.trainer, "initial_epoch", 0),
                )
            self._writer = tf.summary.create_file_writer(self.log_dir)

    def _write(self, prefix: str, step: int, logs: Logs | None) -> None:

        if self._writer is None:
            return
        with self._writer.as_default(step=step):
            for key, value in (logs or {}).items():
                _scalar(f"{prefix}/{key}", value)

    def on_train_batch_end(self, step: int, logs: Logs | None = None) -> None:
        if step % self.update_freq == 0:
            self._write("train", step, logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self._write("epoch", epoch, logs)
        if self._writer is not None:
            self._writer.flush()

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def drop_events_after(log_dir: str, step: int, epoch: int) -> int:
    """Remove, from the event files in ``log_dir``, ``train/*`` points after global ``step``
    and ``epoch/*`` points of epochs from ``epoch`` on; return how many were removed.

    A resumed run redoes the steps after its checkpoint; without this TensorBoard would hold
    two points for each. Each file that changes is rewritten into a temporary file and
    renamed over the old one, so a kill here loses nothing.
    """
    removed = 0
    root = Path(log_dir)
    if not root.is_dir():
        return 0
    for path in sorted(root.rglob("events.out.tfevents.*")):
        kept, dropped = [], 0
        try:
            raws = [record.numpy() for record in tf.data.TFRecordDataset(str(path))]
        except tf.errors.DataLossError:  # a record cut short by the kill: drop the file's tail
            raws, dropped = _readable_records(path), 1
        for raw in raws:
            event = event_pb2.Event.FromString(raw)
            tags = [v.tag for v in event.summary.value]
            redone = any(
                (t.startswith("train/") and event.step > step)
                or (t.startswith("epoch/") and event.step >= epoch)
                for t in tags
            )
            if redone:
                dropped += 1
            else:
                kept.append(raw)
        if not dropped:
            continue
        fd, tmp = tempfile.mkstemp(prefix=".tmp-events-", dir=path.parent)
        os.close(fd)
        with tf.io.TFRecordWriter(tmp) as writer:
            for raw in kept:
                writer.write(raw)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        removed += dropped
    return removed


def _readable_records(path) -> list[bytes]:
    """The whole records at the start of a TFRecord file whose end is damaged."""
    out = []
    iterator = iter(tf.data.TFRecordDataset(str(path)))
    while True:
        try:
            out.append(next(iterator).numpy())
        except (StopIteration, tf.errors.DataLossError, tf.errors.OutOfRangeError):
            return out


def _scalar(tag: str, value: float) -> None:
    """What ``tf.summary.scalar`` writes, without needing the ``tensorboard`` package.

    TensorFlow >= 2.21 no longer installs TensorBoard, whose plugin implements
    ``tf.summary.scalar``; the event format is TensorFlow's own. Install ``tensorboard``
    to view the logs.
    """
    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = "scalars"
    tf.summary.write(tag, tf.constant(value, tf.float32), metadata=metadata)
