"""The GradientTape trainer: clipping, checkpoints, progress, callbacks, devices, tf.distribute.

Usage::

    from keras_rnn.training import Trainer
    history = Trainer(model, "mse", "adam").fit(train_ds, epochs=3)

Names are imported lazily: importing one submodule (``keras_rnn.training.signals``,
``keras_rnn.training.devices``) does not load the Trainer and all the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Trainer": "keras_rnn.training.trainer",
    "History": "keras_rnn.training.callbacks",
    "Callback": "keras_rnn.training.callbacks",
    "EarlyStopping": "keras_rnn.training.callbacks",
    "LearningRateScheduler": "keras_rnn.training.callbacks",
    "TensorBoard": "keras_rnn.training.callbacks",
    "clip_gradients": "keras_rnn.training.clipping",
    "TrainingInterrupted": "keras_rnn.training.signals",
    "shuffled_per_epoch": "keras_rnn.training.data",
}

__all__ = [
    "Callback",
    "EarlyStopping",
    "History",
    "LearningRateScheduler",
    "TensorBoard",
    "Trainer",
    "TrainingInterrupted",
    "clip_gradients",
    "shuffled_per_epoch",
]

if TYPE_CHECKING:  # pragma: no cover
    from keras_rnn.training.callbacks import (
        Callback,
        EarlyStopping,
        History,
        LearningRateScheduler,
        TensorBoard,
    )
    from keras_rnn.training.clipping import clip_gradients
    from keras_rnn.training.data import shuffled_per_epoch
    from keras_rnn.training.signals import TrainingInterrupted
    from keras_rnn.training.trainer import Trainer


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'keras_rnn.training' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
