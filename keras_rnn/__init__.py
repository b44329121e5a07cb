"""keras-rnn: SimpleRNN, LSTM and GRU written from scratch as Keras 3 layers.

>>> import keras, keras_rnn
>>> layer = keras_rnn.LSTM(8, return_sequences=True)
>>> layer(keras.ops.zeros((2, 5, 3))).shape
(2, 5, 8)
"""

from keras_rnn.cells import GRUCell, LSTMCell, SimpleRNNCell
from keras_rnn.layers import GRU, LSTM, SimpleRNN

__version__ = "0.1.0"

__all__ = ["GRU", "LSTM", "GRUCell", "LSTMCell", "SimpleRNN", "SimpleRNNCell", "__version__"]
