"""The vanilla (Elman) recurrent cell."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from keras_rnn.cells.base import RecurrentCell


@keras.saving.register_keras_serializable(package="keras_rnn")
class SimpleRNNCell(RecurrentCell):
    """One step of a fully connected RNN, a drop-in for ``keras.layers.SimpleRNNCell``.

    .. math::

        h_t = \\tanh(x_t W + h_{t-1} U + b)

    with ``x_t: (batch, F)``, ``h_{t-1}, h_t: (batch, u)``, ``W = kernel: (F, u)``,
    ``U = recurrent_kernel: (u, u)``, ``b = bias: (u,)``. ``tanh`` is ``activation``.
    The output is the new state: ``y_t = h_t``.

    Args:
        units: Positive integer ``u``, the size of the state.
        activation: The nonlinearity (default ``"tanh"``; ``None`` means linear).
        use_bias: Whether to add ``b``.
        kernel_initializer, recurrent_initializer, bias_initializer: Initialisers of
            ``W`` (``"glorot_uniform"``), ``U`` (``"orthogonal"``), ``b`` (``"zeros"``).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Optional regularisers.
        kernel_constraint, recurrent_constraint, bias_constraint: Optional constraints.
        dropout: Fraction in ``[0, 1)`` of input features dropped in training (one mask
            per sequence).
        recurrent_dropout: Fraction in ``[0, 1)`` of ``h_{t-1}`` dropped in training.
        seed: Seed of the dropout masks.

    Call arguments:
        inputs: ``(batch, F)``, the step input.
        states: ``[h_{t-1}]`` (or the bare tensor), ``(batch, u)``.
        training: Whether dropout applies.

    >>> cell = SimpleRNNCell(4)
    >>> h, [h_state] = cell(keras.ops.ones((2, 3)), [keras.ops.zeros((2, 4))])
    >>> tuple(h.shape)
    (2, 4)
    """

    gates = 1

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self._add_kernels(input_shape[-1])
        self._add_bias((self.units,))

    def call(self, inputs: Any, states: Any, training: bool | None = False) -> tuple[Any, Any]:
        nested = isinstance(states, (list, tuple))
        h_prev = states[0] if nested else states
        x_t, h_prev = self._dropped(inputs, h_prev, training)
        z = ops.matmul(x_t, self.kernel) + ops.matmul(h_prev, self.recurrent_kernel)
        if self.bias is not None:
            z = z + self.bias
        h = self.activation(z)
        return h, ([h] if nested else h)
