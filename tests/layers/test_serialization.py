"""Config round trips, `.keras` save/load, and SavedModel export served without our code."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from .parity import TOL, classes, randomize

F, U = 3, 4


def _x(batch: int, time: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((batch, time, F)).astype("float32")
    x[0, time // 2 :] = 0.0  # right-padded first row, for the Masking layer
    return x


def test_config_round_trip(kind: str) -> None:
    import keras

    ours_layer, ours_cell, *_, extra = classes(kind)
    layer = ours_layer(
        U,
        return_sequences=True,
        go_backwards=True,
        dropout=0.25,
        kernel_regularizer="l2",
        seed=3,
        **extra,
    )
    config = layer.get_config()
    clone = ours_layer.from_config(config)
    assert clone.get_config() == config
    again = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(again) is ours_layer
    assert again.get_config() == config
    assert again.units == U and again.go_backwards and again.dropout == 0.25

    cell = ours_cell(U, recurrent_dropout=0.5, **extra)
    cell_clone = keras.layers.deserialize(keras.layers.serialize(cell))
    assert type(cell_clone) is ours_cell
    assert cell_clone.get_config() == cell.get_config()

    x = _x(2, 5)
    layer(x)
    clone(x)
    clone.set_weights(layer.get_weights())
    assert np.max(np.abs(np.asarray(layer(x)) - np.asarray(clone(x)))) <= TOL


def _model():
    """All three of our layers in one variable-length model (Masking in front)."""
    import keras

    import keras_rnn

    inp = keras.Input((None, F), name="x")
    h = keras.layers.Masking(0.0)(inp)
    h = keras_rnn.SimpleRNN(U, return_sequences=True)(h)
    h = keras_rnn.GRU(U, return_sequences=True)(h)
    h = keras_rnn.LSTM(U)(h)
    model = keras.Model(inp, keras.layers.Dense(2)(h))
    randomize(model)
    return model


def test_keras_file_round_trip(tmp_path: Path) -> None:
    import keras

    model = _model()
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    for batch, time in [(2, 5), (3, 8)]:
        x = _x(batch, time)
        diff = np.max(np.abs(np.asarray(model(x)) - np.asarray(loaded(x))))
        assert diff <= TOL
    kinds = {type(layer).__name__: type(layer).__module__ for layer in loaded.layers}
    assert kinds["SimpleRNN"].startswith("keras_rnn"), kinds
    assert kinds["LSTM"].startswith("keras_rnn"), kinds


SERVE = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf

    served = tf.saved_model.load(sys.argv[1])
    fn = served.signatures["serving_default"]
    results = {}
    for name, x in np.load(sys.argv[2]).items():
        out = fn(x=tf.constant(x))
        results[name] = list(out.values())[0].numpy().tolist()
    results["imported_keras_rnn"] = any(m.startswith("keras_rnn") for m in sys.modules)
    results["signature"] = str(fn.structured_input_signature)
    print(json.dumps(results))
    """
)


def test_export_serves_without_the_package(tmp_path: Path) -> None:
    """`model.export(dir)` is served by plain TensorFlow, any batch size and length."""
    model = _model()
    model.export(tmp_path / "export", verbose=False)
    inputs = {"b1_t1": _x(1, 1), "b2_t5": _x(2, 5), "b4_t13": _x(4, 13)}
    np.savez(tmp_path / "inputs.npz", **inputs)
    (tmp_path / "serve.py").write_text(SERVE)
    proc = subprocess.run(
        [
            sys.executable,
            str(tmp_path / "serve.py"),
            str(tmp_path / "export"),
            str(tmp_path / "inputs.npz"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the repository: nothing of ours is importable by accident
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert results["imported_keras_rnn"] is False
    assert "None, None, 3" in results["signature"]
    for name, x in inputs.items():
        served = np.asarray(results[name], dtype="float32")
        assert served.shape == (x.shape[0], 2)
        assert np.max(np.abs(served - np.asarray(model(x)))) <= TOL, name


@pytest.mark.parametrize("cls_name", ["SimpleRNN", "LSTM", "GRU"])
def test_registered_names(cls_name: str) -> None:
    import keras

    import keras_rnn

    cls = getattr(keras_rnn, cls_name)
    assert keras.saving.get_registered_name(cls) == f"keras_rnn>{cls_name}"
    cell = getattr(keras_rnn, cls_name + "Cell")
    assert keras.saving.get_registered_object(f"keras_rnn>{cls_name}Cell") is cell
