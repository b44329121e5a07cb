"""The SavedModel: both signatures, scaling in the graph, equality after reload without keras_rnn."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from keras_rnn.data.stock import PriceScaler
from keras_rnn.predictors.repository import list_versions, read_card
from keras_rnn.predictors.stock.build import build_model
from keras_rnn.predictors.stock.export import export_version, make_forecaster

# Three requests: full rows, right-padded rows with lengths (one of length 1), and time = 1.
PRICES = np.array([[100.0, 101.5, 99.0, 102.0, 103.0], [20.0, 21.0, 20.5, 0.0, 0.0]], np.float32)
LENGTHS = np.array([5, 3], np.int32)
FULL = np.where(PRICES > 0, PRICES, 19.0).astype(np.float32)
SINGLE = np.array([[42.0], [7.0]], np.float32)

RELOAD = textwrap.dedent(
    """
    import importlib.abc, json, sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "keras_rnn" or name.startswith("keras_rnn."):
                raise ImportError("this process must not import keras_rnn")

    sys.meta_path.insert(0, Block())
    import numpy as np, tensorflow as tf

    path, request = sys.argv[1], json.loads(sys.argv[2])
    model = tf.saved_model.load(path)
    serve, padded = model.signatures["serving_default"], model.signatures["padded"]
    prices = tf.constant(request["prices"], tf.float32)
    out = {
        "full": serve(prices=tf.constant(request["full"]))["forecast"].numpy().tolist(),
        "padded": padded(prices=prices, lengths=tf.constant(request["lengths"], tf.int32))[
            "forecast"
        ].numpy().tolist(),
        "single": serve(prices=tf.constant(request["single"], tf.float32))["forecast"].numpy().tolist(),
        "inputs": {k: str(v) for k, v in serve.structured_input_signature[1].items()},
        "keras_rnn_loaded": any(m.startswith("keras_rnn") for m in sys.modules),
    }
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module", params=[("gru", "returns", 3)])
def exported(request, tmp_path_factory):
    cell, target, horizon = request.param
    import keras

    keras.utils.set_random_seed(7)
    model = build_model(cell, units=6, layers=2, horizon=horizon)
    scaler = PriceScaler.fit(
        np.linspace(50, 150, 100) * (1 + 0.01 * np.sin(np.arange(100))), target
    )
    model_dir = tmp_path_factory.mktemp("models")
    path = export_version(model_dir, model, scaler, {"task": "stock", "horizon": horizon})
    return model, scaler, model_dir, path


def test_reload_in_a_process_without_keras_rnn_gives_the_same_numbers(exported):
    model, scaler, _model_dir, path = exported
    request = {
        "prices": PRICES.tolist(),
        "full": FULL.tolist(),
        "lengths": LENGTHS.tolist(),
        "single": SINGLE.tolist(),
    }
    done = subprocess.run(
        [sys.executable, "-c", RELOAD, str(path), json.dumps(request)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"},
        cwd=path.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["keras_rnn_loaded"] is False
    assert "float32" in out["inputs"]["prices"]

    forecast = make_forecaster(model, scaler)
    full_rows = np.array([5, 5], np.int32)
    np.testing.assert_allclose(out["full"], forecast(FULL, full_rows).numpy(), rtol=1e-5)
    np.testing.assert_allclose(out["padded"], forecast(PRICES, LENGTHS).numpy(), rtol=1e-5)
    np.testing.assert_allclose(out["single"], forecast(SINGLE, np.array([1, 1])).numpy(), rtol=1e-5)
    # the padded row is the same as the unpadded window on its own
    alone = forecast(PRICES[1:, :3], np.array([3])).numpy()
    np.testing.assert_allclose(np.array(out["padded"])[1:], alone, rtol=1e-5)
    assert np.array(out["full"]).shape == (2, 3)


def test_layout_card_and_signatures(exported):
    import tensorflow as tf

    _model, _scaler, model_dir, path = exported
    assert list_versions(model_dir, "stock") == [1] and path.name == "1"
    assert (path / "saved_model.pb").is_file() and (path / "variables").is_dir()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tmp")]
    card = read_card(path)
    assert card["name"] == "stock" and card["version"] == 1 and card["horizon"] == 3
    assert set(card["signatures"]) == {"serving_default", "padded"}
    loaded = tf.saved_model.load(str(path))
    padded = loaded.signatures["padded"]
    assert set(padded.structured_input_signature[1]) == {"prices", "lengths"}
    assert set(padded.structured_outputs) == {"forecast"}


@pytest.fixture(scope="module")
def traced_forecast(exported):
    """The forecaster traced once for any shape (the bad-input cases vary the shapes)."""
    import tensorflow as tf

    model, scaler, _model_dir, _path = exported
    specs = [tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None], tf.int32)]
    return tf.function(make_forecaster(model, scaler), input_signature=specs)


@pytest.mark.parametrize(
    ("prices", "lengths", "message"),
    [
        ([[10.0, 11.0]], [3], "every length must be <= the number of time steps"),
        ([[10.0, 11.0]], [0], "every length must be >= 1"),
        ([[10.0, -1.0]], [2], "prices must be finite and > 0"),
        ([[10.0, float("nan")]], [2], "prices must be finite and > 0"),
        ([[10.0, 11.0]], [2, 2], "one entry per row"),
    ],
)
def test_bad_input_fails_with_a_message_not_nan(traced_forecast, prices, lengths, message):
    import tensorflow as tf

    forecast = traced_forecast
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        forecast(tf.constant(prices), tf.constant(lengths))


def test_padding_beyond_the_length_is_ignored(exported):
    model, scaler, _model_dir, _path = exported
    forecast = make_forecaster(model, scaler)
    a = forecast(np.array([[10.0, 11.0, 0.0]], np.float32), np.array([2])).numpy()
    b = forecast(np.array([[10.0, 11.0, 999.0]], np.float32), np.array([2])).numpy()
    np.testing.assert_array_equal(a, b)


def test_full_rows_reach_the_model_without_a_mask_and_the_same_answer(exported):
    """serving_default (every row full) runs the model with no mask: bit for bit what
    ``padded`` gives with full lengths, in the SavedModel and in process."""
    import tensorflow as tf

    model, scaler, _model_dir, path = exported
    prices = (50 + 100 * np.random.default_rng(3).random((4, 9))).astype(np.float32)
    full = np.full(4, 9, np.int32)
    loaded = tf.saved_model.load(str(path))
    served = loaded.signatures["serving_default"](prices=tf.constant(prices))["forecast"]
    padded = loaded.signatures["padded"](prices=tf.constant(prices), lengths=tf.constant(full))
    assert np.array_equal(served.numpy(), padded["forecast"].numpy())

    masks = []

    class Spy:
        """The model, recording the mask each call gets."""

        def get_layer(self, name):
            return model.get_layer(name)

        def __call__(self, inputs, training=False):
            masks.append(inputs["mask"])
            return model(inputs, training=training)

    forecast = make_forecaster(Spy(), scaler)
    a, b = forecast(prices).numpy(), forecast(prices, full).numpy()
    assert masks[0] is None and masks[1] is not None
    assert np.array_equal(a, b) and np.array_equal(a, served.numpy())


def test_a_model_whose_mask_input_is_required_still_gets_one(exported):
    import keras

    from keras_rnn import GRU

    _model, scaler, _model_dir, _path = exported
    features = keras.Input((None, 1), name="features")
    mask = keras.Input((None,), dtype="bool", name="mask")  # not optional
    out = keras.layers.Dense(3)(GRU(4)(features, mask=mask))
    model = keras.Model({"features": features, "mask": mask}, out)
    prices = np.array([[10.0, 11.0, 12.0]], np.float32)
    forecast = make_forecaster(model, scaler)
    assert np.array_equal(forecast(prices).numpy(), forecast(prices, np.array([3])).numpy())
