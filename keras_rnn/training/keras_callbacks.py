"""Keras callbacks in the Trainer: ``Trainer.fit(..., callbacks=[keras.callbacks.CSVLogger(...)])``.

A ``keras.callbacks.Callback`` expects what ``model.fit`` gives it: ``self.model`` (a model
whose ``optimizer`` holds the learning rate and whose ``stop_training`` ends the run),
``self.params`` (``verbose``, ``epochs``, ``steps``) and its hooks called with Keras's
arguments (``batch`` counts from 0 within the epoch). :class:`KerasCallback` wraps one and
gives it exactly that:

- ``model`` is a :class:`TrainerModel`: the trainer's model for everything (``save``,
  ``get_weights``, ``set_weights`` ...), except that ``optimizer`` is the trainer's optimizer
  (inside the loss-scale wrapper, where the learning rate lives) and ``stop_training`` reads
  and sets the trainer's flag;
- ``on_train_begin/end``, ``on_epoch_begin/end`` (with the epoch logs: ``loss``, metrics,
  ``grad_norm``, ``learning_rate``, ``val_*``) and, only for callbacks that override them,
  ``on_train_batch_begin/end`` (with the running means of the epoch, as ``fit`` gives).

Tested with ``CSVLogger``, ``EarlyStopping``, ``ReduceLROnPlateau``, ``TerminateOnNaN``,
``LearningRateScheduler``, ``LambdaCallback`` and ``ModelCheckpoint``. ``BackupAndRestore`` is refused (see
:data:`UNSUPPORTED`): it resumes through ``model.fit``'s own epoch counter, and the Trainer
checkpoints and resumes by itself (``checkpoint_dir=``).

Across a Trainer resume (``checkpoint_dir``) the learning rate is the one saved with the
optimizer: on an epoch resumed in its middle, a callback that sets the rate in
``on_epoch_begin`` (``LearningRateScheduler(lambda epoch, lr: lr * 0.5)``) does not apply
that epoch's step a second time (the rate is put back after its hook). A Keras callback
keeps its counters: the numeric attributes in :data:`STATE_ATTRIBUTES` (``EarlyStopping``'s and
``ReduceLROnPlateau``'s ``wait``, ``best``, ``cooldown_counter`` ...) go into the checkpoint
and are put back after the callback's own ``on_train_begin`` (which resets them). Not kept:
``EarlyStopping``'s best weights (they would double every checkpoint), and the state of
other callbacks (``CSVLogger`` appends to its file only with ``append=True``).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf

from keras_rnn.training.callbacks import Callback, Logs

if TYPE_CHECKING:  # pragma: no cover
    from keras_rnn.training.trainer import Trainer

# Keras callbacks the Trainer refuses, with the reason and what to use instead.
UNSUPPORTED: dict[type, str] = {
    keras.callbacks.BackupAndRestore: (
        "keras.callbacks.BackupAndRestore is not supported by keras_rnn's Trainer: it resumes "
        "through model.fit's own epoch counter, and the Trainer checkpoints and resumes by "
        "itself; pass Trainer(checkpoint_dir=..., checkpoint_every=N) instead (a run started "
        "again with the same checkpoint_dir goes on from the newest checkpoint)."
    ),
}

# Keras callbacks' counters that a resumed run must continue from (when they are numbers).
STATE_ATTRIBUTES = ("wait", "best", "best_epoch", "stopped_epoch", "cooldown_counter")

_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")


class TrainerModel:
    """What a Keras callback sees as ``self.model`` during ``Trainer.fit``.

    Attribute reads and writes go to the trainer's model, except ``optimizer`` (the
    trainer's optimizer, unwrapped from loss scaling) and ``stop_training`` (the trainer's).
    """

    def __init__(self, trainer: Trainer) -> None:
        object.__setattr__(self, "_trainer", trainer)

    @property
    def optimizer(self) -> keras.optimizers.Optimizer:
        return self._trainer.base_optimizer

    @property
    def stop_training(self) -> bool:
        return self._trainer.stop_training

    @stop_training.setter
    def stop_training(self, value: bool) -> None:
        self._trainer.stop_training = bool(value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trainer.model, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "stop_training":
            self._trainer.stop_training = bool(value)
        else:
            setattr(self._trainer.model, name, value)

    def __repr__(self) -> str:
        return f"TrainerModel({self._trainer.model!r})"


class KerasCallback(Callback):
    """Runs one ``keras.callbacks.Callback`` inside :class:`~keras_rnn.training.Trainer`.

    Args:
        callback: the Keras callback.
        epochs: ``params["epochs"]``, the ``epochs`` of ``fit``.
        steps: ``params["steps"]``, batches per epoch (None when unknown).
    """

    def __init__(self, callback: keras.callbacks.Callback, epochs: int, steps: int | None) -> None:
        self.callback = callback
        self.epochs = epochs
        self.steps = steps
        self._epoch_start_step = 0
        self._restored: dict[str, float] = {}

    def set_trainer(self, trainer: Trainer) -> None:
        super().set_trainer(trainer)
        self.callback.set_model(TrainerModel(trainer))
        self.callback.set_params(
            {"verbose": trainer.verbose, "epochs": self.epochs, "steps": self.steps}
        )

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.callback.on_train_begin(_copy(logs))
        for name, value in self._restored.items():  # after the reset in on_train_begin
            setattr(self.callback, name, value)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._epoch_start_step = self.trainer.global_step
        trainer = self.trainer
        if epoch != trainer.initial_epoch or trainer.initial_step_in_epoch == 0:
            self.callback.on_epoch_begin(epoch, _copy(logs))
            return
        # An epoch resumed in its middle: its beginning ran in the interrupted process, and
        # the rate restored with the optimizer is the one that epoch trained with. A
        # callback that sets the rate here (LearningRateScheduler with `lr * 0.5`) would
        # apply the epoch's step a second time: put the restored rate back.
        optimizer = trainer.base_optimizer
        restored = float(np.asarray(optimizer.learning_rate))
        self.callback.on_epoch_begin(epoch, _copy(logs))
        if float(np.asarray(optimizer.learning_rate)) != restored:
            optimizer.learning_rate = restored

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.callback.on_epoch_end(epoch, _copy(logs))

    def on_train_end(self, logs: Logs | None = None) -> None:
        self.callback.on_train_end(_copy(logs))

    def get_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"class": type(self.callback).__name__}
        for name in STATE_ATTRIBUTES:
            value = getattr(self.callback, name, None)
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                state[name] = float(value) if isinstance(value, float | np.floating) else int(value)
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        if state.get("class") != type(self.callback).__name__:
            return  # the callbacks list changed since the checkpoint: nothing to continue
        self._restored = {k: v for k, v in state.items() if k in STATE_ATTRIBUTES}


class KerasBatchCallback(KerasCallback):
    """:class:`KerasCallback` for callbacks with batch hooks (the Trainer then logs each step).

    ``step`` (the Trainer's global step, from 1) becomes Keras's ``batch`` (from 0 within the
    epoch; after a resume mid-epoch it counts from the resumed step).
    """

    def on_train_batch_begin(self, step: int, logs: Logs | None = None) -> None:
        self.callback.on_train_batch_begin(step - 1 - self._epoch_start_step, _copy(logs))

    def on_train_batch_end(self, step: int, logs: Logs | None = None) -> None:
        self.callback.on_train_batch_end(step - 1 - self._epoch_start_step, _copy(logs))


def adapt(
    callbacks: Iterable[Any],
    epochs: int,
    steps_per_epoch: int | None = None,
    dataset: tf.data.Dataset | None = None,
) -> list[Callback]:
    """Our callbacks as they are, Keras callbacks wrapped; anything else is a ``TypeError``.

    ``params["steps"]`` is ``steps_per_epoch``, else the size of ``dataset`` (the first
    epoch's) when known. Raises ``ValueError`` for the Keras callbacks in
    :data:`UNSUPPORTED`, saying why.
    """
    steps = steps_per_epoch
    if steps is None and dataset is not None:
        size = int(dataset.cardinality())
        steps = size if size >= 0 else None
    adapted: list[Callback] = []
    for callback in callbacks:
        if isinstance(callback, Callback):
            adapted.append(callback)
        elif isinstance(callback, keras.callbacks.Callback):
            for cls, reason in UNSUPPORTED.items():
                if isinstance(callback, cls):
                    raise ValueError(reason)
            wrapper = KerasBatchCallback if _has_batch_hooks(callback) else KerasCallback
            adapted.append(wrapper(callback, epochs, steps))
        else:
            raise TypeError(
                "Received an invalid value in argument `callbacks`: expected "
                "keras_rnn.training.Callback or keras.callbacks.Callback objects, got "
                f"{callback!r} ({type(callback).__name__})."
            )
    return adapted


def _has_batch_hooks(callback: keras.callbacks.Callback) -> bool:
    """Whether the callback overrides a training-batch hook (as Keras's CallbackList asks)."""
    base = keras.callbacks.Callback
    return any(getattr(type(callback), name) is not getattr(base, name) for name in _BATCH_HOOKS)


def _copy(logs: Logs | None) -> dict[str, float]:
    # Keras callbacks may add keys (ReduceLROnPlateau adds learning_rate): not to ours.
    return dict(logs or {})


__all__ = ["UNSUPPORTED", "KerasBatchCallback", "KerasCallback", "TrainerModel", "adapt"]
