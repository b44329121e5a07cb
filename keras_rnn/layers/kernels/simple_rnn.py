"""SimpleRNN over a whole sequence, with its BPTT backward written out."""

from __future__ import annotations

import tensorflow as tf

from keras_rnn.layers.kernels.common import (
    Activation,
    new_arrays,
    previous_states_t_matmul,
    run_loop,
    step_reader,
    times_grad,
    zeros_if_none,
)


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

    then ``dU = sum_t h_{t-1}^T da_t`` in one matmul after the loop and ``d xw = da``.

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
        ``H``: ``(T, B, u)``, the state after every step.
    """
    masked = mask is not None

    def forward(xw, h0, u_mat, keep: bool):
        # BPTT never differentiates this loop, so it can slice (a view, no copy);
        # the lean loop reads through a TensorArray, which TensorFlow differentiates well.
        read_x, like = ((lambda t: xw[t]), xw) if keep else step_reader(xw)
        # h_t, and with a mask also h' (which then differs from h_t at skipped steps)
        arrays = new_arrays(like, 2 if masked and keep else 1)

        def step(t, h, hs_ta, *act_ta):
            h_new = act.fn(read_x(t) + tf.matmul(h, u_mat))
            if act_ta:
                act_ta = (act_ta[0].write(t, h_new),)
            if masked:
                m = mask[t]
                h_new = m * h_new + (1.0 - m) * h
            return (h_new, hs_ta.write(t, h_new), *act_ta)

        h_t, *tas = run_loop(step, tf.shape(like)[0], (h0, *arrays))
        if not (keep or return_sequence):
            return [h_t[None]]
        return [ta.stack() for ta in tas]

    if not hand_written_backward:
        return forward(xw, h0, recurrent_kernel, keep=False)[0]

    @tf.custom_gradient
    def run(xw: tf.Tensor, h0: tf.Tensor, u_mat: tf.Tensor):
        length = tf.shape(xw)[0]
        hs, *kept = forward(xw, h0, u_mat, keep=True)
        activated = kept[0] if masked else hs

        def grad(d_hs: tf.Tensor | None):
            reads = (zeros_if_none(d_hs, hs), activated)  # read by slicing: views, no copies
            (da_ta,) = new_arrays(xw, 1)
            u_t = tf.transpose(u_mat)  # a plain matmul per step is ~2x faster than transpose_b

            def back(t, dh_next, da_ta):
                d_h, y = (r[t] for r in reads)
                dh = d_h + dh_next
                dh_new = mask[t] * dh if masked else dh
                da = times_grad(dh_new, act, y)
                dh_prev = tf.matmul(da, u_t)
                if masked:
                    dh_prev += dh - dh_new
                return dh_prev, da_ta.write(t, da)

            dh0, da_ta = run_loop(back, length, (tf.zeros_like(h0), da_ta), True)
            da = da_ta.stack()
            return da, dh0, previous_states_t_matmul(hs, h0, da)

        return hs, grad

    return run(xw, h0, recurrent_kernel)
