"""Fused sequence kernels: the whole recurrence in one compiled loop, with hand-written BPTT.

Each kernel takes every step's input projection ``xw = x W + b`` (one matmul for all steps,
done by the caller), runs one recurrent matmul per step in a ``tf.while_loop``, and defines
its gradient with ``tf.custom_gradient``: the backward loop keeps the per-step gate
gradients and the recurrent weight gradient is one large matmul after it.
"""

from keras_rnn.layers.kernels.common import ACTIVATIONS, Activation, StepInputs
from keras_rnn.layers.kernels.gru import gru_sequence
from keras_rnn.layers.kernels.lstm import lstm_sequence
from keras_rnn.layers.kernels.simple_rnn import simple_rnn_sequence

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "StepInputs",
    "gru_sequence",
    "lstm_sequence",
    "simple_rnn_sequence",
]
