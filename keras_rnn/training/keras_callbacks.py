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
``LambdaCallback`` and ``ModelCheckpoint``. ``BackupAndRestore`` is refused (see
:data:`UNSUPPORTED`): it resumes through ``model.fit``'s own epoch counter, and the Trainer
checkpoints and resumes by itself (``checkpoint_dir=``).

Keras callbacks keep no state across a Trainer resume (ours do, through ``get_state``): a
resumed run starts, e.g., ``EarlyStopping``'s patience afresh.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import keras
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

    def set_trainer(self, trainer: Trainer) -> None:
        super().set_trainer(trainer)
        self.callback.set_model(TrainerModel(trainer))
        self.callback.set_params(
            {"verbose": trainer.verbose, "epochs": self.epochs, "steps": self.steps}
        )

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.callback.on_train_begin(_copy(logs))

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._epoch_start_step = self.trainer.global_step
        self.callback.on_epoch_begin(epoch, _copy(logs))

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.callback.on_epoch_end(epoch, _copy(logs))

    def on_train_end(self, logs: Logs | None = None) -> None:
        self.callback.on_train_end(_copy(logs))


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
