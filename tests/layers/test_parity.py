"""Our layers against `keras.layers` with the same weights: outputs, states, gradients."""

from __future__ import annotations

import numpy as np
import pytest

from .parity import assert_close, assert_model_parity, classes, randomize, run_with_grads, twins

B, T, F, U = 3, 6, 4, 5


def _x(batch: int = B, time: int = T, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((batch, time, F)).astype("float32")


@pytest.mark.parametrize(
    ("return_sequences", "return_state", "go_backwards"),
    [(False, False, False), (True, True, False), (True, False, True), (False, True, True)],
)
def test_layer_outputs_states_and_gradients(
    kind: str, return_sequences: bool, return_state: bool, go_backwards: bool
) -> None:
    import keras

    def build(rnn):
        inp = keras.Input((None, F))
        out = rnn(
            U,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
        )(inp)
        return keras.Model(inp, out)

    ours, ref = twins(build, kind)
    assert_model_parity(ours, ref, _x())


def test_initial_state_gradients(kind: str) -> None:
    """States passed in (an encoder's) get the same gradients as with Keras."""
    import tensorflow as tf

    ours_cls, _, ref_cls, _, extra = classes(kind)
    ours = ours_cls(U, return_sequences=True, return_state=True, **extra)
    ref = ref_cls(U, return_sequences=True, return_state=True, **extra)
    x = tf.constant(_x())
    ref(x)
    ours(x)
    randomize(ref)
    ours.set_weights(ref.get_weights())
    n_states = 2 if kind == "lstm" else 1
    rng = np.random.default_rng(3)
    states = [tf.constant(rng.standard_normal((B, U)).astype("float32")) for _ in range(n_states)]
    results = [
        run_with_grads(
            lambda layer=layer: layer(x, initial_state=states, training=True),
            [x, *states],
            layer.trainable_weights,
        )
        for layer in (ours, ref)
    ]
    assert_close(results[0][0], results[1][0], "outputs")
    assert_close(results[0][1], results[1][1], "gradients")


def _masked_input(pattern: str) -> np.ndarray:
    x = _x(batch=4, time=7)
    keep = np.ones((4, 7), bool)
    if pattern == "right_padded":
        for row, length in enumerate([7, 4, 1, 5]):
            keep[row, length:] = False
    else:  # arbitrary: gaps, a masked start, a fully masked row
        keep[0, [0, 1, 4]] = False
        keep[1, [2, 3, 6]] = False
        keep[2, :] = False
        keep[3, ::2] = False
    x[~keep] = 0.0
    return x


@pytest.mark.parametrize("pattern", ["right_padded", "arbitrary"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_masking_layer(kind: str, pattern: str, go_backwards: bool) -> None:
    import keras

    def build(rnn):
        inp = keras.Input((None, F))
        masked = keras.layers.Masking(0.0)(inp)
        seq, *states = rnn(U, return_sequences=True, return_state=True, go_backwards=go_backwards)(
            masked
        )
        return keras.Model(inp, [seq, *states])

    ours, ref = twins(build, kind)
    assert_model_parity(ours, ref, _masked_input(pattern))


def test_mask_with_initial_state(kind: str) -> None:
    """A masked start with a non-zero initial state: outputs are 0, the state is carried."""
    import keras

    n_states = 2 if kind == "lstm" else 1

    def build(rnn):
        inp = keras.Input((None, F))
        init = [keras.Input((U,)) for _ in range(n_states)]
        masked = keras.layers.Masking(0.0)(inp)
        out = rnn(U, return_sequences=True, return_state=True)(masked, initial_state=init)
        return keras.Model([inp, *init], out)

    ours, ref = twins(build, kind)
    rng = np.random.default_rng(5)
    init = [rng.standard_normal((4, U)).astype("float32") for _ in range(n_states)]
    assert_model_parity(ours, ref, [_masked_input("arbitrary"), *init])


def test_embedding_mask_zero_and_stacked(kind: str) -> None:
    import keras

    tokens = np.array([[3, 1, 4, 1, 5, 0, 0], [2, 7, 0, 0, 0, 0, 0], [0, 6, 2, 0, 8, 3, 0]])

    def build(rnn):
        inp = keras.Input((None,), dtype="int32")
        h = keras.layers.Embedding(10, F, mask_zero=True)(inp)
        h = rnn(U, return_sequences=True)(h)
        h = rnn(U, return_sequences=True)(h)
        h = rnn(U)(h)
        return keras.Model(inp, keras.layers.Dense(2)(h))

    ours, ref = twins(build, kind)
    assert_model_parity(ours, ref, tokens, watch_inputs=False)


@pytest.mark.parametrize(("return_sequences", "go_backwards"), [(True, False), (False, True)])
def test_inference_mode_gradients(kind: str, return_sequences: bool, go_backwards: bool) -> None:
    """Outside training the lean loop runs; TensorFlow's autodiff of it is right too."""
    import keras

    def build(rnn):
        inp = keras.Input((None, F))
        masked = keras.layers.Masking(0.0)(inp)
        layer = rnn(
            U, return_sequences=return_sequences, return_state=True, go_backwards=go_backwards
        )
        return keras.Model(inp, layer(masked))

    ours, ref = twins(build, kind)
    assert_model_parity(ours, ref, _masked_input("arbitrary"), training=False)


@pytest.mark.parametrize("training", [False, True])
def test_fused_kernel_runs(kind: str, training: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The parity above is of our own loop, not of Keras's generic loop we fall back to."""
    import importlib

    ours_cls, *_, extra = classes(kind)
    module = importlib.import_module(ours_cls.__module__)
    name = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}[ours_cls.__name__]
    kernel = getattr(module, f"{name}_sequence")
    calls = []

    def spy(*args, **kwargs):
        calls.append(args[-2])  # hand_written_backward (then return_sequence)
        return kernel(*args, **kwargs)

    monkeypatch.setattr(module, f"{name}_sequence", spy)
    ours_cls(U, **extra)(_x(), training=training)
    assert calls == [training]
    # An activation without a fused derivative falls back to Keras's loop (still correct).
    ours_cls(U, activation="softsign", **extra)(_x())
    assert calls == [training]


@pytest.mark.parametrize("merge_mode", ["concat", "sum"])
def test_bidirectional(kind: str, merge_mode: str) -> None:
    import keras

    def build(rnn):
        inp = keras.Input((None, F))
        masked = keras.layers.Masking(0.0)(inp)
        out = keras.layers.Bidirectional(
            rnn(U, return_sequences=True, return_state=True), merge_mode=merge_mode
        )(masked)
        return keras.Model(inp, out)

    ours, ref = twins(build, kind)
    assert_model_parity(ours, ref, _masked_input("right_padded"))


def test_stateful_and_reset_state(kind: str) -> None:
    import keras

    def build(rnn):
        inp = keras.Input(batch_shape=(B, None, F))
        return keras.Model(inp, rnn(U, stateful=True, return_sequences=True)(inp))

    ours, ref = twins(build, kind)
    first, second = _x(seed=1), _x(time=4, seed=2)
    outs = {}
    for name, model in (("ours", ours), ("ref", ref)):
        a = np.asarray(model(first))
        b = np.asarray(model(second))  # continues from the state after `first`
        model.layers[-1].reset_state()
        c = np.asarray(model(first))
        outs[name] = (a, b, c)
        assert np.max(np.abs(a - c)) == 0.0, "reset_state() did not restore the zero state"
        model.layers[-1].reset_state()
        fresh = np.asarray(model(second))  # from the zero state
        assert np.max(np.abs(b - fresh)) > 1e-3, "the state did not carry across batches"
    assert_close(list(outs["ours"]), list(outs["ref"]), "stateful outputs")


@pytest.mark.parametrize("stacked", [False, True])
def test_cells_in_keras_rnn(kind: str, stacked: bool) -> None:
    """Our cells are drop-ins for Keras's inside `keras.layers.RNN(cell)` and `RNN([c, c])`."""
    import keras

    _, ours_cell, _, ref_cell, extra = classes(kind)

    def build(cell_cls):
        inp = keras.Input((None, F))
        cell = [cell_cls(U, **extra), cell_cls(U, **extra)] if stacked else cell_cls(U, **extra)
        masked = keras.layers.Masking(0.0)(inp)
        out = keras.layers.RNN(cell, return_sequences=True, return_state=True)(masked)
        return keras.Model(inp, out)

    ref = build(ref_cell)
    ours = build(ours_cell)
    randomize(ref)
    ours.set_weights(ref.get_weights())
    assert_model_parity(ours, ref, _masked_input("arbitrary"))


def test_variable_batch_and_time_in_one_graph(kind: str) -> None:
    """One traced function with a (None, None, F) signature serves any batch and length."""
    import keras
    import tensorflow as tf

    def build(rnn):
        inp = keras.Input((None, F))
        return keras.Model(inp, rnn(U, return_sequences=True)(keras.layers.Masking(0.0)(inp)))

    ours, ref = twins(build, kind)
    spec = tf.TensorSpec((None, None, F), tf.float32)
    fn_ours = tf.function(lambda x: ours(x), input_signature=[spec])
    for batch, time in [(1, 1), (2, 9), (5, 3)]:
        x = _x(batch, time, seed=batch)
        assert_close([fn_ours(x).numpy()], [np.asarray(ref(x))], f"B{batch} T{time}")
    assert len(fn_ours._list_all_concrete_functions()) == 1


@pytest.mark.parametrize("time", [1, 3, 8, 9, 17, 26])
@pytest.mark.parametrize(("return_sequences", "go_backwards"), [(True, False), (False, True)])
@pytest.mark.parametrize("training", [True, False])
def test_lengths_around_the_unrolled_block(
    kind: str, time: int, return_sequences: bool, go_backwards: bool, training: bool
) -> None:
    """Loops that run several steps per iteration (SimpleRNN's BPTT: 8, every inference
    loop: 4) must handle the leftover steps in order, forwards and backwards, with gaps in
    the mask; the inference loops also under TensorFlow's own gradient."""
    import keras

    def build(rnn):
        inp = keras.Input((None, F))
        out = rnn(
            U, return_sequences=return_sequences, return_state=True, go_backwards=go_backwards
        )(keras.layers.Masking(0.0)(inp))
        return keras.Model(inp, out)

    x = _x(time=time, seed=time)
    x[0, ::3] = 0.0  # gaps
    x[1, time // 2 :] = 0.0  # right padding
    ours, ref = twins(build, kind)
    assert_model_parity(ours, ref, x, training=training)
