"""The LSTM sequence layer."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from keras_rnn.cells.lstm import LSTMCell
from keras_rnn.layers.base import RecurrentLayer
from keras_rnn.layers.kernels import lstm_sequence


@keras.saving.register_keras_serializable(package="keras_rnn")
class LSTM(RecurrentLayer):
    """An LSTM over a sequence, a drop-in for ``keras.layers.LSTM``.

    Runs :class:`~keras_rnn.cells.LSTMCell` (gates i, f, g, o from ``x_t W + h_{t-1} U + b``;
    ``c_t = f * c_{t-1} + i * g``; ``h_t = o * tanh(c_t)``) for t = 1..T over
    ``(batch, T, F)`` inputs. Output ``(batch, u)`` (the last ``h``), or ``(batch, T, u)``
    with ``return_sequences``; ``return_state`` adds ``h_T`` and ``c_T``.

    Args: the cell's (``units``, ``activation``, ``recurrent_activation``,
    ``use_bias``, ``unit_forget_bias``, initialisers, regularisers,
    constraints, ``dropout``, ``recurrent_dropout``, ``seed``) and the sequence options
    ``return_sequences``, ``return_state``, ``go_backwards``, ``stateful``, ``unroll``,
    ``activity_regularizer``, with Keras's defaults; ``implementation`` is accepted as
    Keras's is and changes nothing (one fused path for every value).

    >>> layer = LSTM(4, return_sequences=True)
    >>> tuple(layer(keras.ops.ones((2, 5, 3))).shape)
    (2, 5, 4)
    """

    cell_class = LSTMCell

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        unit_forget_bias: bool = True,
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
            "recurrent_activation": recurrent_activation,
            "use_bias": use_bias,
            "kernel_initializer": kernel_initializer,
            "recurrent_initializer": recurrent_initializer,
            "bias_initializer": bias_initializer,
            "unit_forget_bias": unit_forget_bias,
            "kernel_regularizer": kernel_regularizer,
            "recurrent_regularizer": recurrent_regularizer,
            "bias_regularizer": bias_regularizer,
            "kernel_constraint": kernel_constraint,
            "recurrent_constraint": recurrent_constraint,
            "bias_constraint": bias_constraint,
            "dropout": dropout,
            "recurrent_dropout": recurrent_dropout,
            "seed": seed,
            # Keras's speed switch; a documented no-op here (see the cell).
            "implementation": kwargs.pop("implementation", 2),
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
        act, gate_act = self._activations()
        xw = self._project(x, cell.kernel, cell.bias, training)
        u = tf.convert_to_tensor(cell.recurrent_kernel)
        h0, c0 = initial_state
        hs, c_last = lstm_sequence(
            xw, h0, c0, u, mask, act, gate_act, training, self.return_sequences
        )
        return hs, [hs[-1], c_last]
