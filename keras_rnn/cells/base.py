"""What every cell shares: argument validation, weight creation helpers and the config.

A cell computes one time step, ``call(x_t, states) -> (h_t, new_states)``; the sequence
layers in :mod:`keras_rnn.layers` run it over time. Shapes: ``x_t`` is ``(batch, features)``,
every state is ``(batch, units)``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import keras
from keras import activations, constraints, initializers, ops, regularizers


def _dropout_rnn_cell() -> type:
    """Keras's dropout-mask cache for cells, the mixin ``keras.layers.SimpleRNNCell`` inherits.

    ``keras.layers.RNN`` recognises cells by this mixin and draws their masks before its loop
    starts (a mask drawn inside a compiled loop body could not be reused across steps), so
    our cells inherit it to stay drop-in in ``RNN(cell)``. Keras does not export it, and its
    module is private, so it is taken from the public cell's bases.
    """
    for cls in keras.layers.SimpleRNNCell.__mro__:
        if cls.__name__ == "DropoutRNNCell":
            return cls
    raise ImportError(  # pragma: no cover - a Keras that reorganised its cells
        f"keras {keras.__version__}: keras.layers.SimpleRNNCell no longer inherits "
        "DropoutRNNCell; keras_rnn's cells need a Keras 3 release that does."
    )


DropoutRNNCell = _dropout_rnn_cell()


def check_units(units: Any) -> int:
    """Return ``units`` as an int, or raise ``ValueError`` naming it."""
    if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units <= 0:
        raise ValueError(
            "Received an invalid value for argument `units`, "
            f"expected a positive integer, got {units!r}."
        )
    return int(units)


def check_rate(value: Any, argument: str) -> float:
    """Return a dropout rate as a float in ``[0, 1)``, or raise ``ValueError`` naming it."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0.0 <= float(value) < 1.0
    ):
        raise ValueError(
            f"Received an invalid value for argument `{argument}`, "
            f"expected a float in [0, 1), got {value!r}."
        )
    return float(value)


def get_activation(identifier: Any, argument: str) -> Callable:
    """``keras.activations.get`` with an error that names the argument and the value."""
    try:
        return activations.get(identifier)
    except (ValueError, TypeError):
        raise ValueError(
            f"Received an invalid value for argument `{argument}`, expected the name of a "
            f"Keras activation (e.g. 'tanh', 'sigmoid', 'relu'), a callable or None, "
            f"got {identifier!r}."
        ) from None


class RecurrentCell(keras.layers.Layer, DropoutRNNCell):
    """Base of the three cells: holds the arguments every Keras recurrent cell accepts.

    Subclasses set ``gates`` (the number of ``units``-wide blocks in the kernels: 1, 4 or 3)
    and implement ``build`` and ``call``.

    Weights (created by ``build``), with ``F`` input features, ``u`` units, ``k`` gates:
        kernel: ``(F, k*u)``; recurrent_kernel: ``(u, k*u)``; bias: ``(k*u,)``.
    """

    gates: int = 1

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
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        units = check_units(units)
        super().__init__(**kwargs)
        self.units = units
        self.activation = get_activation(activation, "activation")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = check_rate(dropout, "dropout")
        self.recurrent_dropout = check_rate(recurrent_dropout, "recurrent_dropout")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.state_size: int | list[int] = units
        self.output_size = units

    def _add_kernels(self, input_dim: int) -> None:
        """Create ``kernel (F, k*u)`` and ``recurrent_kernel (u, k*u)``."""
        width = self.gates * self.units
        self.kernel = self.add_weight(
            shape=(input_dim, width),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )

    def _add_bias(self, shape: tuple[int, ...], initializer: Any = None) -> None:
        """Create ``bias`` of ``shape`` (or set it to None when ``use_bias=False``)."""
        if not self.use_bias:
            self.bias = None
            return
        self.bias = self.add_weight(
            shape=shape,
            name="bias",
            initializer=initializer or self.bias_initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )

    def _dropped(self, x_t: Any, h_prev: Any, training: bool | None) -> tuple[Any, Any]:
        """Apply the (per-sequence, cached) dropout masks to the step input and the state."""
        if training and self.dropout > 0.0:
            x_t = x_t * self.get_dropout_mask(x_t)
        if training and self.recurrent_dropout > 0.0:
            h_prev = h_prev * self.get_recurrent_dropout_mask(h_prev)
        return x_t, h_prev

    def get_initial_state(self, batch_size: int | None = None) -> list[Any]:
        """Zeros, one ``(batch_size, units)`` tensor per state."""
        sizes = self.state_size if isinstance(self.state_size, list) else [self.state_size]
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in sizes]

    def get_config(self) -> dict[str, Any]:
        config = {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}
