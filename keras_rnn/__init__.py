"""keras-rnn: SimpleRNN, LSTM and GRU written from scratch as Keras 3 layers.

>>> import keras, keras_rnn
>>> layer = keras_rnn.LSTM(8, return_sequences=True)
>>> layer(keras.ops.zeros((2, 5, 3))).shape
(2, 5, 8)

``import keras_rnn`` imports the cells and layers, and with them Keras and TensorFlow: that
is what registers the classes with Keras (``@keras.saving.register_keras_serializable``),
so ``keras.models.load_model`` in a fresh process finds ``LSTM`` after ``import keras_rnn``
alone, as it finds keras_hub's layers after ``import keras_hub``. (Keras imports a saved
class's module by itself only for its own family of packages.) The ``keras-rnn`` command
lives in the separate package :mod:`keras_rnn_cli`, so ``keras-rnn --help`` does not pay for
this import.
"""

from __future__ import annotations

__version__ = "0.1.0"

from keras_rnn.cells import GRUCell, LSTMCell, SimpleRNNCell
from keras_rnn.layers import GRU, LSTM, SimpleRNN

__all__ = ["GRU", "LSTM", "GRUCell", "LSTMCell", "SimpleRNN", "SimpleRNNCell", "__version__"]
