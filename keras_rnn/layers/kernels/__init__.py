"""Fused sequence kernels: the whole recurrence in one compiled loop, with hand-written BPTT.

Each kernel takes every step's input projection ``xw = x W + b`` (one matmul for all steps,
done by the caller), runs one recurrent matmul per step in a ``tf.while_loop``, and defines
its gradient with ``tf.custom_gradient``: the backward loop keeps the per-step gate
gradients (for the input weights) and sums the recurrent weight gradient step by step,
each term beside the next step's matmul, which does not depend on it.
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
