"""The SimpleRNN sequence layer."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from keras_rnn.cells.simple_rnn import SimpleRNNCell
from keras_rnn.layers.base import RecurrentLayer
from keras_rnn.layers.kernels import simple_rnn_sequence


@keras.saving.register_keras_serializable(package="keras_rnn")
class SimpleRNN(RecurrentLayer):
    """A fully connected RNN over a sequence, a drop-in for ``keras.layers.SimpleRNN``.

    Runs :class:`~keras_rnn.cells.SimpleRNNCell`, ``h_t = tanh(x_t W + h_{t-1} U + b)``,
    for t = 1..T over ``(batch, T, F)`` inputs. Output ``(batch, u)`` (the last ``h``), or
    ``(batch, T, u)`` with ``return_sequences``; ``return_state`` adds ``h_T``.

    Args: the cell's (``units``, ``activation``, ``use_bias``, initialisers, regularisers,
    constraints, ``dropout``, ``recurrent_dropout``, ``seed``) and the sequence options
    ``return_sequences``, ``return_state``, ``go_backwards``, ``stateful``, ``unroll``,
    ``activity_regularizer``, with Keras's defaults.

    >>> layer = SimpleRNN(4, return_sequences=True)
    >>> tuple(layer(keras.ops.ones((2, 5, 3))).shape)
    (2, 5, 4)
    """

    cell_class = SimpleRNNCell
    keras_has_use_cudnn = False

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        cell_kwargs = {
            "units": units,
            "activation": activation,
            "use_bias": use_bias,
            "kernel_initializer": kernel_initializer,
            "recurrent_initializer": recurrent_initializer,
            "bias_initializer": bias_initializer,
            "kernel_regularizer": kernel_regularizer,
            "recurrent_regularizer": recurrent_regularizer,
            "bias_regularizer": bias_regularizer,
            "kernel_constraint": kernel_constraint,
            "recurrent_constraint": recurrent_constraint,
            "bias_constraint": bias_constraint,
            "dropout": dropout,
            "recurrent_dropout": recurrent_dropout,
            "seed": seed,
        }
        super().__init__(
            cell_kwargs,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )

    def _run_fused(
        self,
        x: tf.Tensor,
        initial_state: list[tf.Tensor],
        mask: tf.Tensor | None,
        training: bool,
    ) -> tuple[tf.Tensor, list[tf.Tensor]]:
        cell = self.cell
        act, _ = self._activations()
        xw = self._project(x, cell.kernel, cell.bias, training)
        u = tf.convert_to_tensor(cell.recurrent_kernel)
        hs = simple_rnn_sequence(
            xw, initial_state[0], u, mask, act, training, self.return_sequences
        )
        return hs, [hs[-1]]
