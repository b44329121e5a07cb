"""The long short-term memory cell (Hochreiter & Schmidhuber 1997, with a forget gate)."""

from __future__ import annotations

from typing import Any

import keras
from keras import activations, initializers, ops

from keras_rnn.cells.base import RecurrentCell, get_activation


@keras.saving.register_keras_serializable(package="keras_rnn")
class LSTMCell(RecurrentCell):
    """One LSTM step, a drop-in for ``keras.layers.LSTMCell``.

    All four gates come from one fused projection of ``[x_t, h_{t-1}]``:

    .. math::

        [z_i, z_f, z_g, z_o] = x_t W + h_{t-1} U + b

        i = \\sigma(z_i), \\quad f = \\sigma(z_f), \\quad g = \\tanh(z_g), \\quad
        o = \\sigma(z_o)

        c_t = f * c_{t-1} + i * g, \\qquad h_t = o * \\tanh(c_t)

    ``i`` input gate, ``f`` forget gate, ``g`` candidate, ``o`` output gate; ``*`` is
    element-wise; ``σ`` is ``recurrent_activation`` and ``tanh`` is ``activation``.
    Shapes: ``x_t: (batch, F)``; ``h, c: (batch, u)``; ``W = kernel: (F, 4u)``,
    ``U = recurrent_kernel: (u, 4u)``, ``b = bias: (4u,)``, the column blocks in the order
    i, f, c (= g), o like Keras. Because ``∂c_t/∂c_{t-1} = f`` (no matrix product), the cell
    path carries gradients over long distances.

    Args:
        units: Positive integer ``u``.
        activation: For ``g`` and the output squash (default ``"tanh"``).
        recurrent_activation: For the gates i, f, o (default ``"sigmoid"``).
        use_bias: Whether to add ``b``.
        unit_forget_bias: If True, ``b_f`` starts at 1 (and ``bias_initializer`` is used
            for the other blocks), as Jozefowicz et al. (2015) recommend.
        kernel_initializer, recurrent_initializer, bias_initializer, *_regularizer,
        *_constraint, dropout, recurrent_dropout, seed: As in
            :class:`~keras_rnn.cells.SimpleRNNCell`.
        implementation: Keras's choice of matmul split (0, 1 or 2); accepted so that
            Keras configs load, and a no-op: the results are the same for every value.

    Call arguments:
        inputs: ``(batch, F)``.
        states: ``[h_{t-1}, c_{t-1}]``, each ``(batch, u)``.
        training: Whether dropout applies.

    Returns ``h_t`` and ``[h_t, c_t]``.

    >>> cell = LSTMCell(4)
    >>> h, (h_state, c_state) = cell(keras.ops.ones((2, 3)), cell.get_initial_state(2))
    >>> tuple(c_state.shape)
    (2, 4)
    """

    gates = 4

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
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self._add_kernels(input_shape[-1])
        initializer = None
        if self.unit_forget_bias:
            u = self.units

            def initializer(_shape: Any, *args: Any, **kwargs: Any) -> Any:
                return ops.concatenate(
                    [
                        self.bias_initializer((u,), *args, **kwargs),
                        initializers.get("ones")((u,), *args, **kwargs),
                        self.bias_initializer((2 * u,), *args, **kwargs),
                    ]
                )

        self._add_bias((4 * self.units,), initializer)

    def call(self, inputs: Any, states: Any, training: bool | None = False) -> tuple[Any, Any]:
        h_prev, c_prev = states[0], states[1]
        x_t, h_in = self._dropped(inputs, h_prev, training)
        z = ops.matmul(x_t, self.kernel) + ops.matmul(h_in, self.recurrent_kernel)
        if self.bias is not None:
            z = z + self.bias
        z_i, z_f, z_g, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        g = self.activation(z_g)
        o = self.recurrent_activation(z_o)
        c = f * c_prev + i * g
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "unit_forget_bias": self.unit_forget_bias,
        }
