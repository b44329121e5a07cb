"""Other Keras backends: with ``KERAS_BACKEND=jax`` the layers run Keras's own loop.

Our fused kernels are TensorFlow code, so on another backend the layers fall back to
``keras.layers.RNN``'s loop over our cells: same numbers as ``keras.layers``, same
``.keras`` files. The backend is chosen when Keras is imported, so the JAX side runs in a
subprocess; it is skipped (with the reason) where JAX is not installed. The Trainer is
TensorFlow-only and says so up front.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

JAX_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    from keras_rnn import GRU, LSTM, SimpleRNN
    from keras_rnn.training import Trainer

    assert keras.backend.backend() == "jax", keras.backend.backend()
    out_dir, fit_kinds = sys.argv[1], sys.argv[2].split(",")
    report = {"forward": {}, "fit": {}}
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 7, 3)).astype("float32")
    x[1, 5:] = 0.0  # padded: Masking skips these steps
    y = rng.standard_normal((4, 1)).astype("float32")

    def model(cls, extra):
        inputs = keras.Input((None, 3))
        h = keras.layers.Masking(0.0)(inputs)
        h = cls(5, return_sequences=True, **extra)(h)
        h = keras.layers.Bidirectional(cls(4, **extra))(h)
        return keras.Model(inputs, keras.layers.Dense(1)(h))

    kinds = {
        "simple_rnn": (SimpleRNN, keras.layers.SimpleRNN, {}),
        "lstm": (LSTM, keras.layers.LSTM, {}),
        "gru": (GRU, keras.layers.GRU, {}),
        "gru_reset_before": (GRU, keras.layers.GRU, {"reset_after": False}),
    }
    for kind, (ours_cls, ref_cls, extra) in kinds.items():
        keras.utils.set_random_seed(1)
        ref = model(ref_cls, extra)
        ours = model(ours_cls, extra)
        weights = [(0.4 * rng.standard_normal(w.shape)).astype(w.dtype) for w in ref.get_weights()]
        ref.set_weights(weights)
        ours.set_weights(weights)
        report["forward"][kind] = float(np.abs(np.asarray(ours(x)) - np.asarray(ref(x))).max())
        if kind not in fit_kinds:
            continue
        for m in (ref, ours):
            m.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
            m.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
        report["fit"][kind] = max(
            float(np.abs(a - b).max()) for a, b in zip(ours.get_weights(), ref.get_weights())
        )
        if kind == "lstm":
            path = f"{out_dir}/jax_lstm.keras"
            ours.save(path)
            loaded = keras.models.load_model(path)
            report["reloaded"] = float(np.abs(np.asarray(loaded(x)) - np.asarray(ours(x))).max())
            report["layer_types"] = sorted({type(l).__module__ for l in loaded.layers})
            np.save(f"{out_dir}/x.npy", x)
            np.save(f"{out_dir}/expected.npy", np.asarray(ours(x)))
    try:
        Trainer(ours, "mse", "sgd")
    except Exception as exc:
        report["trainer"] = [type(exc).__name__, str(exc)]
    print("REPORT " + json.dumps(report))
    """
)

TF_LOAD_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import keras
    import keras_rnn.layers  # registers the classes (as `import keras_rnn` will)

    assert keras.backend.backend() == "tensorflow"
    out_dir = sys.argv[1]
    loaded = keras.models.load_model(f"{out_dir}/jax_lstm.keras")
    x, expected = np.load(f"{out_dir}/x.npy"), np.load(f"{out_dir}/expected.npy")
    print("DIFF", float(np.abs(np.asarray(loaded(x)) - expected).max()))
    """
)


def _run(script: str, backend: str, tmp_path: Path, *args: str) -> str:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


needs_jax = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None,
    reason="JAX is not installed (pip install jax, or the dev extra)",
)
KINDS = ("simple_rnn", "lstm", "gru", "gru_reset_before")


def _jax_report(tmp_path: Path, fit_kinds: tuple[str, ...]) -> dict:
    out = _run(JAX_SCRIPT, "jax", tmp_path, ",".join(fit_kinds))
    report = json.loads(out.split("REPORT ", 1)[1])
    assert set(report["forward"]) == set(KINDS)
    for kind, diff in report["forward"].items():
        assert diff <= 1e-5, (kind, diff)
    assert set(report["fit"]) == set(fit_kinds)
    for kind, diff in report["fit"].items():  # two epochs of model.fit on JAX, same weights
        assert diff <= 1e-5, (kind, diff)
    return report


@needs_jax
@pytest.mark.slow
def test_jax_backend_training_parity_every_cell(tmp_path: Path) -> None:
    _jax_report(tmp_path, KINDS)


@needs_jax
def test_jax_backend_parity_training_and_save_load(tmp_path: Path) -> None:
    report = _jax_report(tmp_path, ("lstm",))
    assert report["reloaded"] <= 1e-6
    assert "keras_rnn.layers.lstm" in report["layer_types"]
    name, message = report["trainer"]
    assert name == "RuntimeError"
    assert "needs the TensorFlow backend" in message and "'jax'" in message
    # The file written on JAX loads on TensorFlow (our fused loop) with the same outputs.
    tf_out = _run(TF_LOAD_SCRIPT, "tensorflow", tmp_path)
    assert float(tf_out.split("DIFF ", 1)[1]) <= 1e-5


def test_trainer_refuses_other_backends_up_front(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before building anything: one clear line, not a NotImplementedError from deep inside."""
    import keras

    from keras_rnn.training import Trainer

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    with pytest.raises(RuntimeError, match=r"needs the TensorFlow backend.*'torch'"):
        Trainer(model, "mse", "sgd")
