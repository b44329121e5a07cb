"""tf.distribute: two replicas (two logical CPUs; two worker processes) match one device.

Both runs start from the same weights and see the same global batches; the loss is scaled
by the global batch and clipping acts on the summed gradient, so the weights, the losses
and the per-step gradient norms must agree up to float32 round-off.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
WORKERS = HERE / "workers.py"
TIMEOUT = 240


@pytest.fixture(scope="module")
def problem(tmp_path_factory) -> Path:
    """Data and initial weights of a small regression, with a clip that binds every step."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(48, 4)).astype("float32")
    y = np.sin(x.sum(axis=1, keepdims=True)).astype("float32")
    w0 = (rng.normal(size=(4, 3)) * 0.5).astype("float32")
    w2 = rng.normal(size=(3, 1)).astype("float32")
    path = tmp_path_factory.mktemp("dist") / "problem.npz"
    np.savez(
        path,
        x=x,
        y=y,
        w0=w0,
        w1=np.zeros(3, "float32"),
        w2=w2,
        w3=np.zeros(1, "float32"),
        batch=16,
        epochs=2,
        clip_norm=0.5,
    )
    return path


@pytest.fixture(scope="module")
def single_device(problem) -> dict[str, np.ndarray]:
    """The reference: the same training on one device, in this process."""
    import keras
    import tensorflow as tf

    from keras_rnn.training import Trainer

    sys.path.insert(0, str(HERE))
    try:
        from workers import dense_model
    finally:
        sys.path.remove(str(HERE))
    data = np.load(problem)
    model = dense_model([data[f"w{i}"] for i in range(4)])
    trainer = Trainer(
        model,
        "mse",
        keras.optimizers.SGD(0.1),
        metrics=["mae"],
        clip_norm=float(data["clip_norm"]),
        verbose=0,
    )
    ds = tf.data.Dataset.from_tensor_slices((data["x"], data["y"])).batch(int(data["batch"]))
    history = trainer.fit(ds, epochs=int(data["epochs"]))
    return {
        "weights": model.get_weights(),
        "norms": np.array(history.step_grad_norms),
        "loss": np.array(history.history["loss"]),
    }


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "", **extra}
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def assert_matches(out: Path, reference: dict[str, np.ndarray], replicas: int) -> None:
    got = np.load(out)
    assert int(got["replicas"]) == replicas
    # The clip binds (norms > 0.5), so clipping the summed gradient is what is being tested.
    assert reference["norms"].min() > 0.5
    np.testing.assert_allclose(got["norms"], reference["norms"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["loss"], reference["loss"], rtol=1e-5, atol=1e-6)
    for i, expected in enumerate(reference["weights"]):
        np.testing.assert_allclose(got[f"arr_{i}"], expected, rtol=1e-5, atol=1e-6)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.fixture(scope="module")
def launched(problem, tmp_path_factory):
    """Start the mirrored run and both workers at once (most of their time is start-up)."""
    out_dir = tmp_path_factory.mktemp("dist-out")
    command = [sys.executable, str(WORKERS)]
    runs: dict[str, list[subprocess.Popen]] = {}
    runs["mirrored"] = [
        subprocess.Popen(
            [*command, "mirrored", str(problem), str(out_dir / "mirrored.npz")],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    ]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    runs["multi-worker"] = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        runs["multi-worker"].append(
            subprocess.Popen(
                [*command, "multi-worker", str(problem), str(out_dir / "multi-worker.npz")],
                env=_env(TF_CONFIG=tf_config),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    yield out_dir, runs
    for procs in runs.values():
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def finish(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            for other in procs:
                other.kill()
            raise
        assert proc.returncode == 0, err[-3000:]


def test_mirrored_two_logical_cpus_match_one_device(launched, single_device):
    out_dir, runs = launched
    finish(runs["mirrored"])
    assert_matches(out_dir / "mirrored.npz", single_device, replicas=2)


def test_multi_worker_two_processes_match_one_device(launched, single_device):
    out_dir, runs = launched
    finish(runs["multi-worker"])
    assert_matches(out_dir / "multi-worker.npz", single_device, replicas=2)
