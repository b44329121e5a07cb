"""The text predictor: a recurrent next-token model over raw text, exported for the service.

>>> from keras_rnn.predictors.text import train_and_export  # doctest: +SKIP
>>> train_and_export(model_dir="models")  # quick defaults, about a minute  # doctest: +SKIP
PosixPath('models/text/1')
"""

from keras_rnn.predictors.text.train import TextOptions, train_and_export

__all__ = ["TextOptions", "train_and_export"]
