"""The stock predictor: build, baselines, evaluation, export, CLI, and ``train_and_export``.

Importing this package does not import TensorFlow (the CLI's ``--help`` stays fast); the
functions import it when called.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keras_rnn.predictors.stock.config import StockConfig


def train_and_export(config: StockConfig | None = None, **options: Any) -> Path | None:
    """Train on quick offline defaults, export a new SavedModel version, return its path.

    See :func:`keras_rnn.predictors.stock.train.train_and_export` for the options.
    """
    # Imported when called: importing the package stays free of TensorFlow (see above).
    from keras_rnn.predictors.stock.train import train_and_export as _train_and_export

    return _train_and_export(config, **options)


__all__ = ["StockConfig", "train_and_export"]
