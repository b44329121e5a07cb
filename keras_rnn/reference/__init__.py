"""Reference implementations that the Keras layers and the tutorials are checked against."""

from keras_rnn.reference import numpy_rnn

__all__ = ["numpy_rnn"]
