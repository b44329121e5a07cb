"""The gated recurrent unit (Cho et al. 2014), in both of Keras's `reset_after` variants."""

from __future__ import annotations

from typing import Any

import keras
from keras import activations, ops

from keras_rnn.cells.base import RecurrentCell, get_activation


@keras.saving.register_keras_serializable(package="keras_rnn")
class GRUCell(RecurrentCell):
    """One GRU step, a drop-in for ``keras.layers.GRUCell``.

    Update gate ``z``, reset gate ``r``, candidate ``\\tilde h``; column blocks of the
    kernels in the order z, r, h like Keras:

    .. math::

        z = \\sigma(x_t W_z + h_{t-1} U_z + b_z), \\qquad
        r = \\sigma(x_t W_r + h_{t-1} U_r + b_r)

        \\text{reset\\_after=True (default, cuDNN's):}\\quad
        \\tilde h = \\tanh(x_t W_h + b_h + r * (h_{t-1} U_h + b'_h))

        \\text{reset\\_after=False (the 2014 paper's):}\\quad
        \\tilde h = \\tanh(x_t W_h + (r * h_{t-1}) U_h + b_h)

        h_t = z * h_{t-1} + (1 - z) * \\tilde h

    ``σ`` is ``recurrent_activation`` and ``tanh`` is ``activation``. There is no separate
    cell state: ``z`` plays the LSTM's forget gate and ``1 - z`` its input gate.
    Shapes: ``x_t: (batch, F)``; ``h: (batch, u)``; ``W = kernel: (F, 3u)``,
    ``U = recurrent_kernel: (u, 3u)``; ``bias: (2, 3u)`` when ``reset_after`` (row 0 the
    input bias ``b``, row 1 the recurrent bias ``b'``), else ``(3u,)``.

    Args:
        units: Positive integer ``u``.
        activation: For the candidate (default ``"tanh"``).
        recurrent_activation: For the gates z and r (default ``"sigmoid"``).
        reset_after: Apply the reset gate after the recurrent matmul (default True).
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
        *_regularizer, *_constraint, dropout, recurrent_dropout, seed: As in
            :class:`~keras_rnn.cells.SimpleRNNCell`.
        implementation: Keras's choice of matmul split (0, 1 or 2); accepted so that
            Keras configs load, and a no-op: the results are the same for every value.

    Call arguments:
        inputs: ``(batch, F)``.
        states: ``[h_{t-1}]`` (or the bare tensor), ``(batch, u)``.
        training: Whether dropout applies.

    >>> cell = GRUCell(4)
    >>> h, [h_state] = cell(keras.ops.ones((2, 3)), [keras.ops.zeros((2, 4))])
    >>> tuple(h.shape)
    (2, 4)
    """

    gates = 3

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        reset_after: bool = True,
        **kwargs: Any,
    ) -> None:
        # Keras's `implementation` (1: one matmul per gate, 2: one fused matmul; older
        # configs also carry 0) changes speed, not results. Ours has one fused path for
        # every value: accepted, kept as an attribute like Keras's, and otherwise ignored.
        implementation = kwargs.pop("implementation", 2)
        super().__init__(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            **kwargs,
        )
        self.recurrent_activation = get_activation(recurrent_activation, "recurrent_activation")
        self.implementation = implementation
        self.reset_after = bool(reset_after)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self._add_kernels(input_shape[-1])
        self._add_bias((2, 3 * self.units) if self.reset_after else (3 * self.units,))

    def call(self, inputs: Any, states: Any, training: bool | None = False) -> tuple[Any, Any]:
        nested = isinstance(states, (list, tuple))
        h_prev = states[0] if nested else states
        x_t, h_in = self._dropped(inputs, h_prev, training)
        u = self.units
        xw = ops.matmul(x_t, self.kernel)
        if self.reset_after:
            hu = ops.matmul(h_in, self.recurrent_kernel)
            if self.bias is not None:
                xw = xw + self.bias[0]
                hu = hu + self.bias[1]
            z = self.recurrent_activation(xw[:, :u] + hu[:, :u])
            r = self.recurrent_activation(xw[:, u : 2 * u] + hu[:, u : 2 * u])
            candidate = self.activation(xw[:, 2 * u :] + r * hu[:, 2 * u :])
        else:
            if self.bias is not None:
                xw = xw + self.bias
            hu = ops.matmul(h_in, self.recurrent_kernel[:, : 2 * u])
            z = self.recurrent_activation(xw[:, :u] + hu[:, :u])
            r = self.recurrent_activation(xw[:, u : 2 * u] + hu[:, u:])
            candidate = self.activation(
                xw[:, 2 * u :] + ops.matmul(r * h_in, self.recurrent_kernel[:, 2 * u :])
            )
        h = z * h_prev + (1.0 - z) * candidate
        return h, ([h] if nested else h)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "reset_after": self.reset_after,
        }
