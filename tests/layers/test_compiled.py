"""Our layers inside compiled code: XLA (`jit_compile=True`) and mixed precision."""

from __future__ import annotations

import numpy as np
import pytest

from .parity import assert_close, twins

B, T, F, U = 3, 7, 4, 5


def _inputs() -> np.ndarray:
    x = np.random.default_rng(0).standard_normal((B, T, F)).astype("float32")
    x[1, 4:] = 0.0  # a padded row for the Masking layer
    return x


def _model(rnn):
    import keras

    inp = keras.Input((None, F))
    h = rnn(U, return_sequences=True)(keras.layers.Masking(0.0)(inp))
    return keras.Model(inp, keras.layers.Dense(1)(h))


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru"])
def test_xla_train_step(kind: str) -> None:
    """A jit-compiled gradient through our loop (dynamic length in the graph) matches Keras."""
    import tensorflow as tf

    ours, ref = twins(_model, kind)
    x = tf.constant(_inputs())

    def grads(model):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(model(x, training=True)))
        return [loss, *tape.gradient(loss, model.trainable_variables)]

    compiled = tf.function(lambda: grads(ours), jit_compile=True)
    assert_close([np.asarray(g) for g in compiled()], [np.asarray(g) for g in grads(ref)], "xla")


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy: str) -> None:
    import keras
    import tensorflow as tf

    import keras_rnn

    x = _inputs()
    reference = _model(keras_rnn.LSTM)
    keras.mixed_precision.set_global_policy(policy)
    try:
        mixed = _model(keras_rnn.LSTM)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    mixed.set_weights(reference.get_weights())
    assert mixed.layers[2].compute_dtype == policy.split("_")[1]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.cast(mixed(x, training=True), "float32"))
    grads = tape.gradient(loss, mixed.trainable_variables)
    assert all(g.dtype == tf.float32 and np.all(np.isfinite(g)) for g in grads)
    diff = np.max(np.abs(np.asarray(mixed(x), "float32") - np.asarray(reference(x))))
    assert diff < 0.05  # half precision: close, not equal
