"""The sequence layer all three share: Keras's `RNN` front end, our own loop behind it.

`keras.layers.RNN` already handles what a drop-in must match exactly (initial and stateful
states, `reset_state()`, `return_sequences`/`return_state`, masks, dropout-mask bookkeeping,
`Bidirectional`), so the layers subclass it and replace only `inner_loop`, the part that
runs the cell over time, with the fused kernels of :mod:`keras_rnn.layers.kernels`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import keras
import tensorflow as tf

from keras_rnn.cells.base import RecurrentCell
from keras_rnn.layers.kernels import ACTIVATIONS, Activation, StepInputs

# Keys of `Layer.get_config` that belong to the layer, not to its cell.
_LAYER_KEYS = ("name", "trainable", "dtype")
# The cell's arguments a Keras recurrent layer also exposes as its own attributes.
_CELL_ATTRIBUTES = frozenset(
    [
        "units",
        "activation",
        "recurrent_activation",
        "use_bias",
        "unit_forget_bias",
        "reset_after",
        "kernel_initializer",
        "recurrent_initializer",
        "bias_initializer",
        "kernel_regularizer",
        "recurrent_regularizer",
        "bias_regularizer",
        "kernel_constraint",
        "recurrent_constraint",
        "bias_constraint",
        "dropout",
        "recurrent_dropout",
        "seed",
    ]
)


class RecurrentLayer(keras.layers.RNN):
    """A recurrent layer built from one of our cells.

    Subclasses set ``cell_class`` and pass the cell's constructor arguments through
    ``cell_kwargs``; the remaining arguments are those of ``keras.layers.RNN``.

    Call arguments (as Keras's layers):
        sequences: ``(batch, time, features)``; ``time`` may vary between calls.
        initial_state: Optional list of ``(batch, units)`` tensors.
        mask: Optional boolean ``(batch, time)``; False steps are skipped (the state is
            carried through unchanged, and the previous output is repeated).
        training: Whether dropout applies.
    """

    cell_class: ClassVar[type[RecurrentCell]]
    # Whether the Keras namesake takes `use_cudnn` (SimpleRNN does not: its config must not
    # carry it, or `keras.layers.SimpleRNN.from_config` of ours fails).
    keras_has_use_cudnn: ClassVar[bool] = True

    def __init__(
        self,
        cell_kwargs: dict[str, Any],
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        use_cudnn: Any = "auto",
        activity_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        if use_cudnn not in ("auto", True, False):
            raise ValueError(
                "Received an invalid value for argument `use_cudnn`, expected one of "
                f"'auto', True, False, got {use_cudnn!r}."
            )
        cell = self.cell_class(
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name=f"{self.cell_class.__name__[:-4].lower()}_cell",
            **cell_kwargs,
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self.input_spec = keras.layers.InputSpec(ndim=3)
        # Accepted for drop-in compatibility with `keras.layers`; our loop never calls cuDNN.
        self.use_cudnn = use_cudnn

    def call(
        self,
        sequences: Any,
        initial_state: Any = None,
        mask: Any = None,
        training: bool | None = False,
    ) -> Any:
        return super().call(sequences, mask=mask, training=training, initial_state=initial_state)

    def inner_loop(
        self, sequences: Any, initial_state: list[Any], mask: Any, training: bool = False
    ) -> tuple[Any, Any, list[Any]]:
        """Run the cell over time: ``(last_output, outputs, final_states)``, as Keras's.

        Uses the fused kernel (one input matmul for all steps, then a compiled loop with
        its own BPTT) whenever it can compute the same thing, otherwise Keras's generic
        per-step loop. Keras's masking semantics are kept: the state is carried through a
        skipped step unchanged, and the output there repeats the previous output (zeros
        before the first counted step, or always zeros with ``zero_output_for_mask``).
        """
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if not self._fused_applies(training):
            return super().inner_loop(sequences, initial_state, mask=mask, training=training)
        cell = self.cell
        x = sequences
        if training and cell.dropout > 0.0:
            # The mask `RNN.call` drew for this batch: one per sequence, shared by all steps.
            x = x * cell.get_dropout_mask(x[:, 0, :])[:, None, :]
        x = tf.transpose(x, (1, 0, 2))  # time-major: (T, B, F)
        m = None if mask is None else tf.cast(tf.transpose(mask)[:, :, None], x.dtype)
        if self.go_backwards:
            x = tf.reverse(x, [0])
            m = None if m is None else tf.reverse(m, [0])
        hs, states = self._run_fused(x, list(initial_state), m, bool(training))
        # Outputs from states: where no step has counted yet the output is 0 (Keras's
        # "previous output" starts at zeros), elsewhere it is the carried state.
        factor = None
        if m is not None:
            factor = m if self.zero_output_for_mask else tf.cumsum(m, axis=0) > 0
            factor = tf.cast(factor, hs.dtype)
        if not self.return_sequences:  # the kernel may have returned only the last state
            hs = hs[-1:]
            factor = None if factor is None else factor[-1:]
        ys = hs if factor is None else hs * factor
        last_output = ys[-1]
        outputs = tf.transpose(ys, (1, 0, 2)) if self.return_sequences else last_output[:, None]
        return last_output, outputs, states

    def _fused_applies(self, training: bool | None) -> bool:
        """Whether the fused kernel computes exactly what Keras's generic loop would."""
        cell = self.cell
        if self.unroll or keras.backend.backend() != "tensorflow":
            return False
        if training and cell.recurrent_dropout > 0.0:
            return False
        acts = [cell.activation, getattr(cell, "recurrent_activation", cell.activation)]
        return all(_activation_name(a) in ACTIVATIONS for a in acts)

    def _project(
        self, x: tf.Tensor, kernel: Any, bias: Any, training: bool
    ) -> tf.Tensor | StepInputs:
        """``x W + b`` for every step at once: ``(T, B, F) -> (T, B, k*u)``, one matmul.

        That is what training wants (the BPTT kernel differentiates ``xw`` as one tensor).
        Inference gets :class:`StepInputs`, projected inside the loop, which copies less.
        """
        kernel = tf.convert_to_tensor(kernel)
        bias = None if bias is None else tf.convert_to_tensor(bias)
        if not training:
            return StepInputs(x, kernel, bias)
        shape = tf.shape(x)
        xw = tf.matmul(tf.reshape(x, (-1, shape[-1])), kernel)
        if bias is not None:
            xw += bias
        return tf.reshape(xw, (shape[0], shape[1], -1))

    def _activations(self) -> tuple[Activation, Activation]:
        cell = self.cell
        gate = getattr(cell, "recurrent_activation", cell.activation)
        return ACTIVATIONS[_activation_name(cell.activation)], ACTIVATIONS[_activation_name(gate)]

    def _run_fused(
        self,
        x: tf.Tensor,
        initial_state: list[tf.Tensor],
        mask: tf.Tensor | None,
        training: bool,
    ) -> tuple[tf.Tensor, list[tf.Tensor]]:
        """The cell's fused kernel on time-major ``x``: ``(H (T, B, u), final states)``.

        In training the kernel keeps what its hand-written BPTT needs; in inference it runs
        lean (TensorFlow's own autodiff still works there, e.g. for saliency maps).
        """
        raise NotImplementedError

    def __getattr__(self, name: str) -> Any:
        # `layer.units`, `layer.kernel_initializer`, ...: the cell's arguments, as in Keras.
        cell = self.__dict__.get("cell")
        if name in _CELL_ATTRIBUTES and hasattr(cell, name):
            return getattr(cell, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_config(self) -> dict[str, Any]:
        cell_config = {k: v for k, v in self.cell.get_config().items() if k not in _LAYER_KEYS}
        base_config = super().get_config()
        del base_config["cell"]
        config = {**base_config, **cell_config}
        if self.keras_has_use_cudnn:
            config["use_cudnn"] = self.use_cudnn
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RecurrentLayer:
        return cls(**config)


def _activation_name(fn: Any) -> str | None:
    """'tanh' for Keras's tanh, ...; None for anything the fused kernels do not know."""
    try:
        name = keras.activations.serialize(fn)
    except (ValueError, TypeError, AttributeError):
        return None
    return name if isinstance(name, str) else None
