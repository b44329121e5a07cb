"""The NumPy reference RNN: BPTT vs finite differences, clipping, Adam vs Keras, the sine data."""

from __future__ import annotations

import numpy as np
import pytest

from keras_rnn.reference import numpy_rnn


@pytest.fixture
def problem():
    rng = np.random.default_rng(3)
    params = numpy_rnn.init_params(n_in=3, n_hidden=5, n_out=2, seed=1)
    xs = rng.normal(size=(6, 4, 3))  # T=6, B=4, D=3
    targets = rng.normal(size=(4, 2))
    return params, xs, targets


def test_forward_matches_the_equations_written_out(problem):
    params, xs, targets = problem
    h = np.zeros(5)
    for x_t in xs[:, 1]:  # sample 1 alone, one step at a time
        h = np.tanh(x_t @ params["Wx"] + h @ params["Wh"] + params["bh"])
    loss, cache = numpy_rnn.forward(params, xs, targets)
    np.testing.assert_allclose(cache.y[1], h @ params["Wy"] + params["by"], rtol=1e-12)
    assert loss == pytest.approx(np.mean((cache.y - targets) ** 2))


def test_bptt_equals_finite_differences(problem):
    params, xs, targets = problem
    _, cache = numpy_rnn.forward(params, xs, targets)
    by_hand = numpy_rnn.backward(params, cache)
    numeric = numpy_rnn.numerical_gradient(params, xs, targets)
    assert set(by_hand) == set(numpy_rnn.PARAM_NAMES)
    for name in by_hand:
        assert by_hand[name].shape == params[name].shape
        np.testing.assert_allclose(by_hand[name], numeric[name], atol=1e-8, err_msg=name)
    assert max(np.abs(g).max() for g in by_hand.values()) > 1e-2  # not a trivial zero check


def test_weight_shapes_are_keras_simple_rnn_and_dense():
    params = numpy_rnn.init_params(n_in=3, n_hidden=7, n_out=2)
    shapes = {k: v.shape for k, v in params.items()}
    assert shapes == {"Wx": (3, 7), "Wh": (7, 7), "bh": (7,), "Wy": (7, 2), "by": (2,)}
    np.testing.assert_allclose(params["Wh"] @ params["Wh"].T, np.eye(7), atol=1e-12)  # orthogonal


def test_clip_by_global_norm_keeps_direction_and_caps_length():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([4.0])}  # global norm 5
    clipped = numpy_rnn.clip_by_global_norm(grads, 1.0)
    assert numpy_rnn.global_norm(clipped) == pytest.approx(1.0)
    np.testing.assert_allclose(clipped["a"], [0.6, 0.0])
    np.testing.assert_allclose(clipped["b"], [0.8])
    unchanged = numpy_rnn.clip_by_global_norm(grads, 10.0)
    np.testing.assert_array_equal(unchanged["a"], grads["a"])


def test_clip_by_value():
    clipped = numpy_rnn.clip_by_value({"a": np.array([-9.0, 0.5, 7.0])}, 5.0)
    np.testing.assert_array_equal(clipped["a"], [-5.0, 0.5, 5.0])


def test_adam_follows_keras_adam():
    import keras

    rng = np.random.default_rng(0)
    start = rng.normal(size=(3, 2)).astype("float32")
    grads = [rng.normal(size=(3, 2)).astype("float32") for _ in range(5)]
    params = {"w": start.astype("float64")}
    ours = numpy_rnn.Adam(lr=0.1)
    variable = keras.Variable(start)
    theirs = keras.optimizers.Adam(learning_rate=0.1)
    for g in grads:
        ours.step(params, {"w": g.astype("float64")})
        theirs.apply_gradients([(keras.ops.convert_to_tensor(g), variable)])
    # float32 (Keras) vs float64 (ours): a different update rule would be off by ~1e-2
    np.testing.assert_allclose(
        params["w"], keras.ops.convert_to_numpy(variable), rtol=1e-4, atol=1e-5
    )


def test_sine_dataset_is_200_windows_of_25_steps_and_the_next_value():
    xs, targets = numpy_rnn.sine_dataset()
    assert xs.shape == (25, 200, 1) and targets.shape == (200, 1)
    np.testing.assert_allclose(xs[:, 7, 0], np.sin(0.1 * np.arange(7, 32)))
    assert targets[7, 0] == pytest.approx(np.sin(0.1 * 32))
    np.testing.assert_allclose(xs[1:, 0, 0], xs[:-1, 1, 0])  # windows slide by one step


def test_training_fits_the_sine():
    xs, targets = numpy_rnn.sine_dataset(n_samples=40)
    params = numpy_rnn.init_params(1, 8, 1, seed=0)
    losses = numpy_rnn.train(params, xs, targets, steps=150, lr=1e-2)
    assert losses[-1] < 0.02 * losses[0]
    assert np.mean(np.abs(numpy_rnn.predict(params, xs) - targets)) < 0.05
