"""The stock predictor: build, baselines, evaluation, export, CLI, and ``train_and_export``.

Importing this package does not import TensorFlow (the CLI's ``--help`` stays fast); the
functions import it when called.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def train_and_export(**options: Any) -> Path:
    """Train on quick offline defaults, export a new SavedModel version, return its path.

    See :func:`keras_rnn.predictors.stock.train.train_and_export` for the options.
    """
    from keras_rnn.predictors.stock.train import train_and_export as _train_and_export

    return _train_and_export(**options)


__all__ = ["train_and_export"]
