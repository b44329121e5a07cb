"""A model saved with our layers loads in a new Python process after ``import keras_rnn``.

Keras finds a saved custom class only if it was registered in the loading process, and it
imports the class's module by itself only for its own packages (``keras``, ``keras_hub``
...). So the user's ``import keras_rnn`` must register every layer and cell, as
``import keras_hub`` does. Only a fresh process shows this: in the saving process the
classes are registered already.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

LOAD = textwrap.dedent(
    """
    import sys
    import numpy as np
    import keras, keras_rnn  # nothing else: no keras_rnn.LSTM touched before loading

    model = keras.models.load_model(sys.argv[1])
    x, expected = np.load(sys.argv[2]), np.load(sys.argv[3])
    found = set()
    for layer in model.layers:  # with the layer inside Bidirectional and the cell inside RNN
        for obj in (layer, getattr(layer, "forward_layer", None), getattr(layer, "cell", None)):
            if obj is not None and type(obj).__module__.startswith("keras_rnn."):
                found.add(type(obj).__name__)
    print("KINDS", ",".join(sorted(found)))
    print("DIFF", float(np.abs(np.asarray(model(x)) - expected).max()))
    """
)


def test_saved_model_loads_in_a_fresh_process_after_import_keras_rnn(tmp_path: Path) -> None:
    import keras

    import keras_rnn

    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 3))
    x = keras.layers.Masking(0.0)(inputs)
    x = keras_rnn.LSTM(4, return_sequences=True)(x)
    x = keras.layers.Bidirectional(keras_rnn.GRU(3, return_sequences=True))(x)
    x = keras.layers.RNN(keras_rnn.LSTMCell(3), return_sequences=True)(x)
    x = keras_rnn.SimpleRNN(2)(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    path = tmp_path / "m.keras"
    model.save(path)
    data = np.random.default_rng(0).standard_normal((2, 6, 3)).astype("float32")
    np.save(tmp_path / "x.npy", data)
    np.save(tmp_path / "expected.npy", np.asarray(model(data)))

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            LOAD,
            str(path),
            str(tmp_path / "x.npy"),
            str(tmp_path / "expected.npy"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    kinds = result.stdout.split("KINDS ", 1)[1].split()[0].split(",")
    assert kinds == ["GRU", "LSTM", "LSTMCell", "SimpleRNN", "SimpleRNNCell"], kinds
    assert float(result.stdout.split("DIFF ", 1)[1]) <= 1e-6
