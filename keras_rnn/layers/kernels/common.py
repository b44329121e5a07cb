"""Pieces the fused sequence kernels share: activations with their derivatives, the loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import tensorflow as tf


class Activation(NamedTuple):
    """An activation ``y = fn(a)`` and ``backprop(dy, y) = dy * act'(a)``, written with ``y``.

    BPTT needs ``dy/da`` at every step; for these functions it is an expression of the
    output ``y`` (which the forward loop keeps anyway): ``tanh' = 1 - y^2``,
    ``σ' = y (1 - y)``, ``relu' = [y > 0]``. TensorFlow has each as one fused kernel.
    """

    fn: Callable[[tf.Tensor], tf.Tensor]
    backprop: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None  # None: derivative 1


ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation(tf.tanh, lambda dy, y: tf.raw_ops.TanhGrad(y=y, dy=dy)),
    "sigmoid": Activation(tf.sigmoid, lambda dy, y: tf.raw_ops.SigmoidGrad(y=y, dy=dy)),
    "relu": Activation(tf.nn.relu, lambda dy, y: tf.raw_ops.ReluGrad(gradients=dy, features=y)),
    "linear": Activation(tf.identity, None),
}


def times_grad(upstream: tf.Tensor, act: Activation, y: tf.Tensor) -> tf.Tensor:
    """``upstream * act'(a)`` given ``y = act(a)``."""
    return upstream if act.backprop is None else act.backprop(upstream, y)


def read_all(stacked: tf.Tensor) -> tf.TensorArray:
    """A ``(T, ...)`` tensor as a TensorArray, read one step at a time.

    The lean (inference) loop reads its inputs this way rather than by slicing: if a tape
    differentiates that loop, a TensorArray read has a cheap gradient, where a slice's
    gradient is a dense ``(T, ...)`` tensor per step.
    """
    size = tf.shape(stacked)[0]
    return tf.TensorArray(stacked.dtype, size=size, clear_after_read=False).unstack(stacked)


class StepInputs(NamedTuple):
    """Time-major inputs ``x: (T, B, F)`` with ``W``, ``b``, projected one step at a time.

    Inference passes this instead of the projected ``xw = x W + b``: reading ``x_t`` and
    multiplying in the loop avoids materialising (and re-splitting) a ``(T, B, k*u)``
    tensor, which costs more than the small per-step matmul when nothing is kept for BPTT.
    """

    x: tf.Tensor
    kernel: tf.Tensor
    bias: tf.Tensor | None


def step_reader(xw: tf.Tensor | StepInputs) -> tuple[Callable[[tf.Tensor], tf.Tensor], tf.Tensor]:
    """``(read, like)``: ``read(t)`` gives ``x_t W + b``; ``like`` is ``(T, ...)``-shaped."""
    if isinstance(xw, StepInputs):
        x_ta = read_all(xw.x)

        def read(t: tf.Tensor) -> tf.Tensor:
            z = tf.matmul(x_ta.read(t), xw.kernel)
            return z if xw.bias is None else z + xw.bias

        return read, xw.x
    return read_all(xw).read, xw


def new_arrays(like: tf.Tensor, count: int) -> list[tf.TensorArray]:
    """``count`` empty TensorArrays with one slot per time step of ``like`` (``(T, ...)``).

    The forward loop's arrays are read again, step by step, by the backward loop: keeping
    them as arrays (not stacking and re-splitting) saves two copies of each.
    """
    size = tf.shape(like)[0]
    return [tf.TensorArray(like.dtype, size=size, clear_after_read=False) for _ in range(count)]


# Steps per loop iteration in the lean (inference) loops. Each iteration of a
# ``tf.while_loop`` costs several microseconds of control flow on top of its ops, which
# at a batch of one is about as much as a small cell's step itself (a 16-unit LSTM over
# 20 steps: ~660 us per call one step per iteration, ~545 us four at a time).
LEAN_UNROLL = 4

Carry = tuple[tf.Tensor, ...]


def lean_loop(
    step: Callable[[tf.Tensor, Carry], Carry],
    xw: tf.Tensor | StepInputs,
    carry: Carry,
    mask: tf.Tensor | None,
    return_sequence: bool,
) -> tuple[tf.Tensor, Carry]:
    """The forward recurrence alone: ``carry_t = step(x_t W + b, carry_{t-1})``, t = 0..T-1.

    With a mask, a step that does not count keeps the previous carry (a select, as in
    Keras). :data:`LEAN_UNROLL` steps run per iteration of one loop, the ``T mod
    LEAN_UNROLL`` left over one per iteration of a second. Reads go through TensorArrays,
    so TensorFlow can still differentiate the loops (e.g. for saliency maps).

    Args:
        step: ``(x_t W + b: (B, k*u), carry) -> carry``; ``carry[0]`` is the output ``h_t``.
        xw: ``(T, B, k*u)``, or :class:`StepInputs`.
        carry: the initial states, each ``(B, u)``.
        mask: ``(T, B, 1)`` of 0/1, or None.
        return_sequence: False keeps only the last output.

    Returns:
        ``(H, last carry)``: ``H`` is ``(T, B, u)``, or ``(1, B, u)`` without
        ``return_sequence``.
    """
    read_x, like = step_reader(xw)
    length = tf.shape(like)[0]
    read_keep = None if mask is None else read_all(mask > 0.5).read
    arrays = new_arrays(like, 1) if return_sequence else []

    def one(t: tf.Tensor, state: Carry, arrays: list[tf.TensorArray]):
        new = step(read_x(t), state)
        if read_keep is not None:
            keep = read_keep(t)
            new = tuple(tf.where(keep, a, b) for a, b in zip(new, state, strict=True))
        return new, [ta.write(t, new[0]) for ta in arrays]

    def block(j: tf.Tensor, state: Carry, *arrays: tf.TensorArray):
        arrays = list(arrays)
        for i in range(LEAN_UNROLL):
            state, arrays = one(j * LEAN_UNROLL + i, state, arrays)
        return (state, *arrays)

    def single(t: tf.Tensor, state: Carry, *arrays: tf.TensorArray):
        state, arrays = one(t, state, list(arrays))
        return (state, *arrays)

    blocks = length // LEAN_UNROLL
    state, *arrays = run_loop(block, blocks, (carry, *arrays))
    # the last T mod LEAN_UNROLL steps: t = blocks * LEAN_UNROLL + i
    done = blocks * LEAN_UNROLL
    state, *arrays = run_loop(
        lambda i, s, *tas: single(done + i, s, *tas), length - done, (state, *arrays)
    )
    hs = arrays[0].stack() if return_sequence else state[0][None]
    return hs, state


def run_loop(
    body: Callable[..., tuple[Any, ...]],
    length: tf.Tensor,
    loop_vars: tuple[Any, ...],
    reverse: bool = False,
) -> tuple[Any, ...]:
    """``tf.while_loop`` over ``t = 0..length-1`` (or backwards); ``body(t, *vars)``."""
    start = length - 1 if reverse else tf.constant(0, tf.int32)
    step = -1 if reverse else 1

    def _body(t: tf.Tensor, *state: Any) -> tuple[Any, ...]:
        return (t + step, *body(t, *state))

    out = tf.while_loop(
        lambda t, *_: t >= 0 if reverse else t < length,
        _body,
        (start, *loop_vars),
        maximum_iterations=length,
        swap_memory=True,
    )
    return tuple(out[1:])


def zeros_if_none(grad: tf.Tensor | None, like: tf.Tensor) -> tf.Tensor:
    return tf.zeros_like(like) if grad is None else grad
