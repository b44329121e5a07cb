"""The text predictor: a recurrent next-token model over raw text, exported for the service.

>>> from keras_rnn.predictors.text import train_and_export  # doctest: +SKIP
>>> train_and_export(model_dir="models")  # quick defaults, about a minute  # doctest: +SKIP
PosixPath('models/text/1')

Importing this package does not import TensorFlow (the CLI's ``--help`` stays fast);
``train_and_export`` imports it when called.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keras_rnn.predictors.text.config import TextConfig, TextOptions


def train_and_export(config: TextConfig | None = None, **options: Any) -> Path | None:
    """Train on quick offline defaults, export a new version, return its path.

    See :func:`keras_rnn.predictors.text.train.train_and_export` for the options.
    """
    # Imported when called: importing the package stays free of TensorFlow (see above).
    from keras_rnn.predictors.text.train import train_and_export as _train_and_export

    return _train_and_export(config, **options)


__all__ = ["TextConfig", "TextOptions", "train_and_export"]
