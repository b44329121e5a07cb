"""The GRU sequence layer."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from keras_rnn.cells.gru import GRUCell
from keras_rnn.layers.base import RecurrentLayer
from keras_rnn.layers.kernels import gru_sequence


@keras.saving.register_keras_serializable(package="keras_rnn")
class GRU(RecurrentLayer):
    """A GRU over a sequence, a drop-in for ``keras.layers.GRU``.

    Runs :class:`~keras_rnn.cells.GRUCell` (update gate z, reset gate r, candidate
    ``h~``; ``h_t = z * h_{t-1} + (1 - z) * h~``) for t = 1..T over ``(batch, T, F)``
    inputs. Output ``(batch, u)`` (the last ``h``), or ``(batch, T, u)`` with
    ``return_sequences``; ``return_state`` adds ``h_T``.

    Args: the cell's (``units``, ``activation``, ``recurrent_activation``,
    ``use_bias``, ``reset_after``, initialisers, regularisers,
    constraints, ``dropout``, ``recurrent_dropout``, ``seed``) and the sequence options
    ``return_sequences``, ``return_state``, ``go_backwards``, ``stateful``, ``unroll``,
    ``activity_regularizer``, with Keras's defaults; ``implementation`` is accepted as
    Keras's is and changes nothing (one fused path for every value).

    >>> layer = GRU(4, return_sequences=True)
    >>> tuple(layer(keras.ops.ones((2, 5, 3))).shape)
    (2, 5, 4)
    """

    cell_class = GRUCell

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
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
        reset_after: bool = True,
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
            "reset_after": reset_after,
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
        bias, recurrent_bias = cell.bias, None
        if bias is not None and cell.reset_after:
            bias, recurrent_bias = bias[0], bias[1]
        xw = self._project(x, cell.kernel, bias, training)
        u = tf.convert_to_tensor(cell.recurrent_kernel)
        hs = gru_sequence(
            xw,
            initial_state[0],
            u,
            recurrent_bias,
            mask,
            act,
            gate_act,
            cell.reset_after,
            training,
            self.return_sequences,
        )
        return hs, [hs[-1]]
