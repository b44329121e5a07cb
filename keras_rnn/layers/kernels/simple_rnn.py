"""SimpleRNN over a whole sequence, with its BPTT backward written out."""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from keras_rnn.layers.kernels.common import (
    Activation,
    lean_loop,
    run_loop,
    times_grad,
    zeros_if_none,
)

# Steps per loop iteration in the training kernel. A SimpleRNN step is one small matmul
# and an activation, so the while loop's own cost per iteration (calling the body, the
# counter, reading and writing the step's tensors) is a large share of it; running
# several steps per iteration spreads that cost.
UNROLL = 8

# a step's (new carry, outputs)
StepResult = tuple[tf.Tensor, tuple[tf.Tensor, ...]]
Accumulator = Callable[[dict[str, tf.Tensor], list[tf.Tensor]], tf.Tensor]


def simple_rnn_sequence(
    xw: tf.Tensor,
    h0: tf.Tensor,
    recurrent_kernel: tf.Tensor,
    mask: tf.Tensor | None,
    act: Activation,
    hand_written_backward: bool = True,
    return_sequence: bool = True,
) -> tf.Tensor:
    """Run ``h' = act(xw_t + h_{t-1} U)``, ``h_t = m_t h' + (1 - m_t) h_{t-1}``.

    Backward (BPTT), t = T-1..0, ``dh`` the gradient reaching ``h_t``:

        da = m dh * act'(h');   dh_{t-1} = da U^T + (1 - m) dh

    with ``dU = sum_t h_{t-1}^T da_t`` (summed step by step, inside the loop) and
    ``d xw = da``.
    For training both loops run :data:`UNROLL` steps per iteration.

    Args:
        xw: ``(T, B, u)``, ``x_t W + b`` for every step (time-major), or (inference only)
            :class:`~keras_rnn.layers.kernels.common.StepInputs`.
        h0: ``(B, u)``.
        recurrent_kernel: ``U``, ``(u, u)``.
        mask: ``(T, B, 1)`` of 0/1, or None.
        act: the activation (tanh by default).
        hand_written_backward, return_sequence: As in
            :func:`~keras_rnn.layers.kernels.lstm_sequence`.

    Returns:
        ``H``: ``(T, B, u)``, the state after every step; without ``return_sequence``
        only the last one, ``(1, B, u)``.
    """
    if not hand_written_backward:
        return _lean_forward(xw, h0, recurrent_kernel, mask, act, return_sequence)
    # m is 0 or 1, so the blend above is a select
    keep = None if mask is None else mask > 0.5
    return _bptt(xw, h0, recurrent_kernel, keep, act, return_sequence)


def _bptt(
    xw: tf.Tensor,
    h0: tf.Tensor,
    recurrent_kernel: tf.Tensor,
    keep: tf.Tensor | None,
    act: Activation,
    return_sequence: bool,
) -> tf.Tensor:
    """The forward loop, keeping what BPTT needs, with the backward loop as its gradient.

    Without ``return_sequence`` only ``h_T`` is returned (as ``(1, B, u)``), so its
    gradient is the only one reaching the states and the backward loop has no per-step
    ``dh`` to add. ``dU`` is summed step by step inside the backward loop: each
    ``h_{t-1}^T da_t`` runs beside the next step's ``da U^T`` (which does not depend on it),
    as in the gradient TensorFlow derives for Keras's loop. One matmul per block of 8 steps
    instead left a core idle more often: the train step read 1.05-1.06x Keras's wall time
    against 0.94-0.98x step by step (median of 5 paired runs, T=25 and 100, 2 cores).
    """
    masked = keep is not None

    @tf.custom_gradient
    def run(xw: tf.Tensor, h0: tf.Tensor, u_mat: tf.Tensor):
        def forward(now: dict[str, tf.Tensor], h: tf.Tensor) -> StepResult:
            y = act.fn(now["xw"] + tf.matmul(h, u_mat))
            if not masked:
                return y, (y,)
            h = tf.where(now["keep"], y, h)
            return h, (h, y)

        # h_t, and with a mask h' (which then differs from h_t at skipped steps), each
        # from t = -1 (h0 there): hs_all[:-1] are the states the steps start from
        ins = {"xw": xw, "keep": keep} if masked else {"xw": xw}
        (hs_all, *ys), h_last, _ = unrolled_loop(
            forward, ins, h0, n_out=2 if masked else 1, initial=h0
        )
        hs, prev = hs_all[1:], hs_all[:-1]  # views, no copies
        out = hs if return_sequence else h_last[None]

        def grad(d_out: tf.Tensor | None):
            d_out = zeros_if_none(d_out, out)
            u_t = tf.transpose(u_mat)  # a plain matmul per step is ~2x faster than transpose_b
            zeros = tf.zeros_like(h0)

            def backward(now: dict[str, tf.Tensor], dh: tf.Tensor) -> StepResult:
                if return_sequence:
                    dh += now["d_h"]
                if not masked:
                    da = times_grad(dh, act, now["y"])
                    return tf.matmul(da, u_t), (da,)
                da = times_grad(tf.where(now["keep"], dh, zeros), act, now["y"])
                # a skipped step hands dh on to h_{t-1} unchanged
                return tf.matmul(da, u_t) + tf.where(now["keep"], zeros, dh), (da,)

            def d_u(now: dict[str, tf.Tensor], outs: list[tf.Tensor]) -> tf.Tensor:
                return tf.matmul(now["prev"], outs[0], transpose_a=True)  # h_{t-1}^T da_t

            ins = {"y": ys[0][1:] if masked else hs, "prev": prev}
            if masked:
                ins["keep"] = keep
            if return_sequence:
                ins["d_h"] = d_out
            dh_last = zeros if return_sequence else d_out[0]
            (da,), dh0, d_u_total = unrolled_loop(
                backward, ins, dh_last, reverse=True, accumulate=(d_u, tf.zeros_like(u_mat))
            )
            return da, dh0, d_u_total

        return out, grad

    return run(xw, h0, recurrent_kernel)


def unrolled_loop(
    step: Callable[[dict[str, tf.Tensor], tf.Tensor], StepResult],
    inputs: dict[str, tf.Tensor],
    carry: tf.Tensor,
    n_out: int = 1,
    reverse: bool = False,
    initial: tf.Tensor | None = None,
    accumulate: tuple[Accumulator, tf.Tensor] | None = None,
) -> tuple[list[tf.Tensor], tf.Tensor, tf.Tensor | None]:
    """``carry, outs_t = step(inputs_t, carry)`` for t = 0..T-1 (or backwards).

    :data:`UNROLL` steps per loop iteration, each input's block of steps read at once
    (a view). The ``T mod UNROLL`` steps left over (the first ones, or with ``reverse``
    the last ones) run one per iteration in a loop of their own, unrolled where T is
    static.

    Args:
        step: ``inputs_t`` (a dict like ``inputs``), carry ``->`` carry, ``n_out`` outputs.
        inputs: ``(T, ...)`` sequences.
        initial: Each output sequence starts with it (at t = -1): ``(T+1, ...)``.
        accumulate: ``(fn, total)``: also computes ``total + sum_t fn(inputs_t, outs_t)``
            inside the loop, step by step (each term can run beside the next steps).

    Returns:
        ``(outs, last carry, total)``: each output a ``(T, ...)`` sequence; ``total`` is
        None without ``accumulate``.
    """
    k = UNROLL
    length = next(iter(inputs.values())).shape[0]
    if length is None:
        length = tf.shape(next(iter(inputs.values())))[0]
    rest, blocks = length % k, length // k
    # The single steps come first in the order the loop runs: forwards at the start of
    # the sequence, reversed at its end.
    block_start, single_start = (0, blocks * k) if reverse else (rest, 0)
    block_inputs = {
        name: tf.reshape(
            x[block_start : block_start + blocks * k],
            tf.concat([[blocks, k], tf.shape(x)[1:]], 0),
        )
        for name, x in inputs.items()
    }
    shift = 0 if initial is None else 1
    acc_fn, total = (None, None) if accumulate is None else accumulate
    n_acc = 0 if acc_fn is None else 1

    def one(i, c, *acc_seqs):
        t = single_start + i
        now = {name: x[t] for name, x in inputs.items()}
        c, outs = step(now, c)
        acc, seqs = acc_seqs[:n_acc], acc_seqs[n_acc:]
        if acc_fn is not None:
            acc = (acc[0] + acc_fn(now, list(outs)),)
        return (c, *acc, *(s.write(t + shift, o) for s, o in zip(seqs, outs, strict=True)))

    def block(j, c, *acc_seqs):
        ins = {name: x[j] for name, x in block_inputs.items()}
        steps = {name: tf.unstack(x, num=k) for name, x in ins.items()}
        outs: list = [None] * k
        acc, seqs = acc_seqs[:n_acc], acc_seqs[n_acc:]
        for i in reversed(range(k)) if reverse else range(k):
            now = {name: x[i] for name, x in steps.items()}
            c, outs[i] = step(now, c)
            if acc_fn is not None:
                acc = (acc[0] + acc_fn(now, list(outs[i])),)
        t0 = block_start + j * k + shift
        for i in range(k):
            seqs = [s.write(t0 + i, o) for s, o in zip(seqs, outs[i], strict=True)]
        return (c, *acc, *seqs)

    seqs = [
        tf.TensorArray(carry.dtype, size=length + shift, element_shape=carry.shape)
        for _ in range(n_out)
    ]
    if initial is not None:
        seqs = [s.write(0, initial) for s in seqs]
    state = (carry, *([] if acc_fn is None else [total]), *seqs)
    for body, count in ((one, rest), (block, blocks)):
        if body is one and isinstance(count, int):
            for i in reversed(range(count)) if reverse else range(count):
                state = one(i, *state)
        elif not isinstance(count, int) or count:
            state = run_loop(body, count, state, reverse)
    carry, *acc_seqs = state
    total = acc_seqs[0] if n_acc else None
    return [s.stack() for s in acc_seqs[n_acc:]], carry, total


def _lean_forward(
    xw: tf.Tensor,
    h0: tf.Tensor,
    u_mat: tf.Tensor,
    mask: tf.Tensor | None,
    act: Activation,
    return_sequence: bool,
) -> tf.Tensor:
    """The forward loop alone (inference, or a tape differentiates it)."""
    hs, _ = lean_loop(
        lambda xw_t, carry: (act.fn(xw_t + tf.matmul(carry[0], u_mat)),),
        xw,
        (h0,),
        mask,
        return_sequence,
    )
    return hs
