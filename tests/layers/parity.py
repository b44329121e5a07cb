"""Helpers for comparing our layers with Keras's own, weight for weight."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

TOL = 1e-5  # max abs difference allowed between ours and Keras (float32)

# name -> (our layer, our cell, Keras layer, Keras cell, extra constructor arguments)
KINDS = ["simple_rnn", "lstm", "gru", "gru_reset_before"]


def classes(kind: str) -> tuple[type, type, type, type, dict[str, Any]]:
    import keras

    import keras_rnn

    extra: dict[str, Any] = {}
    if kind == "simple_rnn":
        names = ("SimpleRNN", "SimpleRNNCell")
    elif kind == "lstm":
        names = ("LSTM", "LSTMCell")
    else:
        names = ("GRU", "GRUCell")
        extra = {"reset_after": kind == "gru"}
    layer, cell = names
    return (
        getattr(keras_rnn, layer),
        getattr(keras_rnn, cell),
        getattr(keras.layers, layer),
        getattr(keras.layers, cell),
        extra,
    )


def randomize(model: Any, seed: int = 1) -> None:
    """Give every weight a random value (biases too, so their gradients are exercised)."""
    rng = np.random.default_rng(seed)
    model.set_weights(
        [(0.4 * rng.standard_normal(w.shape)).astype(w.dtype) for w in model.get_weights()]
    )


def twins(build: Callable[[Callable[..., Any]], Any], kind: str) -> tuple[Any, Any]:
    """``build(rnn)`` twice, with our layer class and with Keras's; same random weights.

    ``rnn(units, **kwargs)`` makes the recurrent layer of ``kind`` inside ``build``.
    """
    ours_cls, _, ref_cls, _, extra = classes(kind)
    ref = build(lambda units, **kw: ref_cls(units, **extra, **kw))
    ours = build(lambda units, **kw: ours_cls(units, **extra, **kw))
    randomize(ref)
    ours.set_weights(ref.get_weights())
    return ours, ref


def run_with_grads(
    fn: Callable[[], Any], watch: list[Any], weights: list[Any], seed: int = 7
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Outputs of ``fn()`` and the gradients of a fixed random projection of them.

    The loss ``sum_k <outputs_k, P_k>`` with random ``P_k`` makes every output element
    (sequence, states) contribute, so gradients through all of them are compared.
    """
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    with tf.GradientTape(persistent=True) as tape:
        for w in watch:
            tape.watch(w)
        outs = tf.nest.flatten(fn())
        loss = tf.add_n(
            [tf.reduce_sum(o * rng.standard_normal(o.shape).astype("float32")) for o in outs]
        )
    grads = tape.gradient(loss, [*watch, *weights])
    assert all(g is not None for g in grads), "a gradient did not reach an input or weight"
    return [np.asarray(o) for o in outs], [np.asarray(tf.convert_to_tensor(g)) for g in grads]


def assert_close(ours: list[np.ndarray], ref: list[np.ndarray], what: str) -> None:
    assert len(ours) == len(ref), f"{what}: {len(ours)} tensors vs {len(ref)}"
    for k, (a, b) in enumerate(zip(ours, ref, strict=True)):
        assert a.shape == b.shape, f"{what}[{k}]: shape {a.shape} vs {b.shape}"
        diff = float(np.max(np.abs(a - b))) if a.size else 0.0
        assert diff <= TOL, f"{what}[{k}]: max abs diff {diff:.3g} > {TOL}"


def assert_model_parity(
    ours: Any, ref: Any, inputs: Any, watch_inputs: bool = True, training: bool = True
) -> None:
    """Outputs, input gradients and weight gradients of two twin models agree.

    ``training=True`` (no dropout is set, so the math is the same) runs our layers' own
    BPTT; ``training=False`` their lean forward differentiated by TensorFlow.
    """
    import tensorflow as tf

    x = tf.nest.map_structure(tf.convert_to_tensor, inputs)
    watch = [t for t in tf.nest.flatten(x) if t.dtype.is_floating] if watch_inputs else []
    out_o, grad_o = run_with_grads(
        lambda: ours(x, training=training), watch, ours.trainable_weights
    )
    out_r, grad_r = run_with_grads(lambda: ref(x, training=training), watch, ref.trainable_weights)
    assert_close(out_o, out_r, "outputs")
    assert_close(grad_o, grad_r, "gradients")
