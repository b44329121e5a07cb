"""Sequence layers: SimpleRNN, LSTM and GRU, drop-ins for the `keras.layers` namesakes."""

from keras_rnn.layers.gru import GRU
from keras_rnn.layers.lstm import LSTM
from keras_rnn.layers.simple_rnn import SimpleRNN

__all__ = ["GRU", "LSTM", "SimpleRNN"]
