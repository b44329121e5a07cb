"""LSTM over a whole sequence, with its BPTT backward written out (``tf.custom_gradient``)."""

from __future__ import annotations

import tensorflow as tf

from keras_rnn.layers.kernels.common import (
    Activation,
    lean_loop,
    new_arrays,
    run_loop,
    times_grad,
    zeros_if_none,
)


def lstm_sequence(
    xw: tf.Tensor,
    h0: tf.Tensor,
    c0: tf.Tensor,
    recurrent_kernel: tf.Tensor,
    mask: tf.Tensor | None,
    act: Activation,
    gate_act: Activation,
    hand_written_backward: bool = True,
    return_sequence: bool = True,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Run the LSTM recurrence given every step's input projection.

    Forward, for t = 0..T-1 (``m_t`` the mask, 1 where the step counts):

        z = xw_t + h_{t-1} U;  i, f, o = σ(z_i, z_f, z_o);  g = tanh(z_g)
        c' = f * c_{t-1} + i * g;   h' = o * tanh(c')
        c_t = m_t c' + (1 - m_t) c_{t-1};   h_t = m_t h' + (1 - m_t) h_{t-1}

    Backward (BPTT), from t = T-1 down to 0, with ``dh``/``dc`` the gradient reaching the
    states ``h_t``/``c_t`` (from the outputs and from step t+1):

        dh' = m dh;  dc' = m dc + dh' * o * tanh'(c')
        dz = [dc' g σ'(i), dc' c_{t-1} σ'(f), dc' i tanh'(g), dh' tanh(c') σ'(o)]
        dh_{t-1} = dz U^T + (1 - m) dh;   dc_{t-1} = dc' f + (1 - m) dc

    The per-step ``dz`` are kept (``d xw = dz``), and ``dU = sum_t h_{t-1}^T dz_t`` is summed
    step by step inside the loop: each term runs beside the next step's ``dz U^T`` (which does
    not depend on it), as in the gradient TensorFlow derives for Keras's loop. One
    ``(u, T*B) x (T*B, 4u)`` matmul after the loop did the same work with a core idle
    longer: ours read 24.0-25.1 against 25.9-26.5 ms a train step at T=25 and 93.9-96.3
    against 101.4-105.4 ms at T=100 (3 paired runs, 2 cores).

    Args:
        xw: ``(T, B, 4u)``, ``x_t W + b`` for every step (time-major), or (inference only)
            :class:`~keras_rnn.layers.kernels.common.StepInputs` to project step by step.
        h0, c0: ``(B, u)`` initial states.
        recurrent_kernel: ``U``, ``(u, 4u)``.
        mask: ``(T, B, 1)`` of 0/1 in ``xw``'s dtype, or None.
        act, gate_act: ``activation`` (tanh) and ``recurrent_activation`` (σ).
        hand_written_backward: Keep what BPTT needs and attach the backward above. False
            runs a lean forward (inference) that TensorFlow can still differentiate itself.
        return_sequence: With ``hand_written_backward=False``, False returns only the last
            state, ``(1, B, u)``, instead of every step's.

    Returns:
        ``H``: ``(T, B, u)``, the state ``h_t`` after every step (see ``return_sequence``);
        ``c_T``: ``(B, u)``.
    """
    masked = mask is not None
    if not hand_written_backward:

        def lean_step(xw_t: tf.Tensor, carry: tuple[tf.Tensor, ...]) -> tuple[tf.Tensor, ...]:
            h, c = carry
            return _cell(xw_t + tf.matmul(h, recurrent_kernel), c, act, gate_act)[:2]

        hs, (_, c_t) = lean_loop(lean_step, xw, (h0, c0), mask, return_sequence)
        return hs, c_t

    def forward(xw, h0, c0, u_mat):
        # BPTT never differentiates this loop, so it reads by slicing (a view, no copy)
        arrays = new_arrays(xw, 7)  # h, c_{t-1}, i, f, g, o, tanh(c')

        def step(t, h, c, *tas):
            h_new, c_new, i, f, g, o, tc = _cell(xw[t] + tf.matmul(h, u_mat), c, act, gate_act)
            if masked:
                m = mask[t]
                h_new = m * h_new + (1.0 - m) * h
                c_new = m * c_new + (1.0 - m) * c
            saved = (h_new, c, i, f, g, o, tc)
            return (h_new, c_new, *(ta.write(t, v) for ta, v in zip(tas, saved, strict=True)))

        _, c_t, *tas = run_loop(step, tf.shape(xw)[0], (h0, c0, *arrays))
        return c_t, [ta.stack() for ta in tas]

    @tf.custom_gradient
    def run(xw: tf.Tensor, h0: tf.Tensor, c0: tf.Tensor, u_mat: tf.Tensor):
        length = tf.shape(xw)[0]
        c_t, (hs, *saved) = forward(xw, h0, c0, u_mat)

        def grad(d_hs: tf.Tensor | None, d_c_last: tf.Tensor | None):
            reads = (zeros_if_none(d_hs, hs), *saved)  # read by slicing: views, no copies
            (dz_ta,) = new_arrays(xw, 1)
            u_t = tf.transpose(u_mat)  # a plain matmul per step is ~2x faster than transpose_b

            def back(t, dh_next, dc_next, d_u, dz_ta):
                d_h, c_prev, i, f, g, o, tc = (r[t] for r in reads)
                h_prev = tf.where(t > 0, hs[tf.maximum(t - 1, 0)], h0)
                dh = d_h + dh_next
                dc = dc_next
                if masked:
                    m = mask[t]
                    dh_new, dc_in = m * dh, m * dc
                else:
                    dh_new, dc_in = dh, dc
                dc_new = dc_in + times_grad(dh_new * o, act, tc)
                dz = tf.concat(
                    [
                        times_grad(dc_new * g, gate_act, i),
                        times_grad(dc_new * c_prev, gate_act, f),
                        times_grad(dc_new * i, act, g),
                        times_grad(dh_new * tc, gate_act, o),
                    ],
                    axis=1,
                )
                dh_prev = tf.matmul(dz, u_t)
                dc_prev = dc_new * f
                if masked:
                    dh_prev += (1.0 - m) * dh
                    dc_prev += (1.0 - m) * dc
                # beside the next step's matmul, which does not depend on it
                d_u += tf.matmul(h_prev, dz, transpose_a=True)
                return dh_prev, dc_prev, d_u, dz_ta.write(t, dz)

            dh0, dc0, d_u, dz_ta = run_loop(
                back,
                length,
                (tf.zeros_like(h0), zeros_if_none(d_c_last, c0), tf.zeros_like(u_mat), dz_ta),
                True,
            )
            return dz_ta.stack(), dh0, dc0, d_u

        return (hs, c_t), grad

    return run(xw, h0, c0, recurrent_kernel)


def _cell(
    z: tf.Tensor, c: tf.Tensor, act: Activation, gate_act: Activation
) -> tuple[tf.Tensor, ...]:
    """One step from ``z = xw_t + h_{t-1} U``: ``(h', c', i, f, g, o, tanh(c'))``."""
    z_i, z_f, z_g, z_o = tf.split(z, 4, axis=1)
    i, f, o = gate_act.fn(z_i), gate_act.fn(z_f), gate_act.fn(z_o)
    g = act.fn(z_g)
    c_new = f * c + i * g
    tc = act.fn(c_new)
    return o * tc, c_new, i, f, g, o, tc
