"""Recurrent cells: one time step each, drop-ins for the `keras.layers` namesakes."""

from keras_rnn.cells.gru import GRUCell
from keras_rnn.cells.lstm import LSTMCell
from keras_rnn.cells.simple_rnn import SimpleRNNCell

__all__ = ["GRUCell", "LSTMCell", "SimpleRNNCell"]
