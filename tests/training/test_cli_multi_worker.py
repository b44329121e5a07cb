"""``--strategy multi-worker`` from the command line, with the documented ``TF_CONFIG``.

The strategy must exist before any TensorFlow op: ``MultiWorkerMirroredStrategy``
configures the collective ops, which TensorFlow refuses once an op ran ("Collective ops
must be configured at program startup"), and the data pipelines run ops. The quick test
starts a one-worker cluster through the CLI (enough to hit that error); the slow one starts
two workers on 127.0.0.1 and compares the exported model's training history with one
process's.
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

TIMEOUT = 600
STOCK = [
    "train", "stock", "--source", "synthetic", "--days", "260", "--units", "4", "--window", "8",
    "--min-window", "4", "--batch-size", "32", "--epochs", "2", "--seed", "3",
]  # fmt: skip
TEXT = [
    "train", "text", "--max-chars", "3000", "--units", "8", "--embedding-dim", "4",
    "--seq-len", "16", "--batch-size", "16", "--epochs", "2", "--seed", "3",
    "--max-generate-tokens", "8",
]  # fmt: skip


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def outputs(root: Path) -> list[str]:
    return [
        "--model-dir", str(root / "models"), "--output-dir", str(root / "out"),
        "--checkpoint-dir", str(root / "ckpt"),
    ]  # fmt: skip


def start_workers(argv: list[str], workers: int) -> list[subprocess.Popen]:
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(workers)]}
    procs = []
    for index in range(workers):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        env = {
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "CUDA_VISIBLE_DEVICES": "",
            "TF_CONFIG": tf_config,
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "keras_rnn.cli", *argv, "--strategy", "multi-worker"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return procs


def finish(procs: list[subprocess.Popen]) -> list[str]:
    outs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=TIMEOUT)
            assert proc.returncode == 0, err[-3000:]
            outs.append(out)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return outs


def card(root: Path, name: str) -> dict:
    (version,) = (root / "models" / name).iterdir()
    return json.loads((version / "model_card.json").read_text())


def test_train_stock_starts_as_a_one_worker_cluster(tmp_path):
    (out,) = finish(start_workers([*STOCK, "--epochs", "1", *outputs(tmp_path)], 1))
    assert "Training with CollectiveAllReduceStrategy" in out  # MultiWorkerMirroredStrategy
    assert card(tmp_path, "stock")["training"]["history"]["loss"]


@pytest.mark.slow
@pytest.mark.parametrize(("argv", "name"), [(STOCK, "stock"), (TEXT, "text")])
def test_two_workers_through_the_cli_match_one_process(tmp_path, argv, name):
    from keras_rnn.cli import main

    procs = start_workers([*argv, *outputs(tmp_path / "two")], 2)
    assert main([*argv, *outputs(tmp_path / "one")]) == 0
    finish(procs)
    # Only the chief exported: one version.
    assert len(list((tmp_path / "two" / "models" / name).iterdir())) == 1
    two = card(tmp_path / "two", name)["training"]["history"]
    one = card(tmp_path / "one", name)["training"]["history"]
    assert sorted(two) == sorted(one)
    for key, values in one.items():
        np.testing.assert_allclose(two[key], values, rtol=1e-4, atol=1e-6, err_msg=key)
