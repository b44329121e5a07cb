"""Killed through the command line, a run resumed ends bit for bit as one never interrupted.

The commands are the real ``keras-rnn train stock`` / ``train text`` (``keras_rnn.cli.main``)
with tiny models. A run is SIGKILLed (``cli_kill.py``): before its first checkpoint, inside
checkpoint writes (between the renames that publish a checkpoint's files), and at random
steps across its epochs; each time the same command is started again. The last start runs
to the end. Its newest checkpoint (weights, optimizer slots, counters, dropout RNG state,
history with every step's gradient norm) must equal the uninterrupted run's exactly, and its
TensorBoard log must hold every step once. The last start must really have resumed (from the
step the kills left it at): the runs are seeded, so one that silently started over would end
with the same weights too.

The quick test (default run) kills one ``train stock`` inside a checkpoint write; the
exhaustive one (``-m slow``) does the whole sequence for both predictors.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

HERE = Path(__file__).resolve().parent
KILLER = HERE / "cli_kill.py"

# 182 training days -> 178 windows -> 6 batches of 32 an epoch: 18 steps in 3 epochs.
STOCK = [
    "train", "stock", "--source", "synthetic", "--days", "260", "--units", "4", "--window", "8",
    "--min-window", "4", "--batch-size", "32", "--epochs", "3", "--checkpoint-every", "2",
    "--seed", "3", "--quiet",
]  # fmt: skip
STOCK_STEPS = 18
# About 3,600 training characters -> 15 batches of 16 windows of 16 an epoch: 45 steps.
TEXT = [
    "train", "text", "--max-chars", "4000", "--units", "8", "--embedding-dim", "4",
    "--seq-len", "16", "--batch-size", "16", "--epochs", "3", "--checkpoint-every", "4",
    "--seed", "3", "--max-generate-tokens", "8", "--quiet",
]  # fmt: skip
TEXT_STEPS = 45


def command(base: list[str], root: Path) -> list[str]:
    return [
        *base,
        "--checkpoint-dir", str(root / "ckpt"), "--log-dir", str(root / "logs"),
        "--model-dir", str(root / "models"), "--output-dir", str(root / "out"),
    ]  # fmt: skip


def run_killed(args: list[str], *, step: int | None = None, publish: int | None = None):
    own = ["--kill-at-step", str(step)] if step is not None else []
    own += ["--kill-at-publish", str(publish)] if publish is not None else []
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        [sys.executable, str(KILLER), *own, "--", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == -9, (done.returncode, done.stdout[-2000:], done.stderr[-3000:])
    return done


def run_cli(args: list[str]) -> int:
    """Run the command in this process; return the global step it went on from (0: it
    started over). Without this, a resume that silently started over would pass: the run
    is seeded, so training from step 0 ends with the same weights too."""
    from keras_rnn.cli import main
    from keras_rnn.training.trainer import Trainer

    real = Trainer._restore
    started: list[int] = []

    def restore(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        started.append(self.global_step)
        return out

    Trainer._restore = restore
    try:
        assert main(args) == 0
    finally:
        Trainer._restore = real
    assert len(started) == 1, started
    return started[0]


def final_checkpoint(directory: Path) -> tuple[str, dict[str, np.ndarray]]:
    prefix = tf.train.latest_checkpoint(str(directory))
    reader = tf.train.load_checkpoint(prefix)
    tensors = {
        name: reader.get_tensor(name)
        for name, _ in tf.train.list_variables(prefix)
        # How many saves (differs with the kills), and the object graph (it holds the
        # variables' Python names, adam_1 for a second model in one process).
        if not name.startswith(("save_counter", "_CHECKPOINTABLE_OBJECT_GRAPH"))
    }
    return Path(prefix).name, tensors


def assert_same_run(resumed: Path, reference: Path, steps: int) -> None:
    name, got = final_checkpoint(resumed / "ckpt")
    ref_name, expected = final_checkpoint(reference / "ckpt")
    assert name == ref_name == f"ckpt-{steps}"
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)
    assert logged_steps(resumed / "logs") == list(range(1, steps + 1))
    leftovers = [p.name for p in (resumed / "ckpt").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def logged_steps(log_dir: Path) -> list[int]:
    from tensorflow.core.util import event_pb2

    found = []
    for path in sorted(log_dir.rglob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(record.numpy())
            found += [event.step for v in event.summary.value if v.tag == "train/loss"]
    return sorted(found)


def test_train_stock_killed_inside_a_checkpoint_write_resumes_exactly(tmp_path):
    """Saves: ckpt-2, -4, -6 (every 2 steps; each renames data, index, list), -6 again at the
    first epoch's end (the counters moved on), -8, -10. The 17th rename is ckpt-10's .index:
    killed there, ckpt-10 has no index, and the run resumes from ckpt-8, two steps into the
    second epoch, whose order must be the uninterrupted run's."""
    resumed, reference = tmp_path / "resumed", tmp_path / "reference"
    run_killed(command(STOCK, resumed), publish=17)
    assert not (resumed / "ckpt" / "ckpt-10.index").exists()
    assert (resumed / "ckpt" / "ckpt-8.index").exists()
    assert run_cli(command(STOCK, resumed)) == 8  # it resumed from ckpt-8
    assert run_cli(command(STOCK, reference)) == 0
    assert_same_run(resumed, reference, STOCK_STEPS)


def kill_sequence(base: list[str], root: Path, steps: int, seed: int) -> None:
    rng = random.Random(seed)
    args = command(base, root)
    run_killed(args, step=1)  # before the first checkpoint
    run_killed(args, publish=1)  # inside the first write, before any rename
    run_killed(args, publish=2)  # the first write's data renamed, its index not
    run_killed(args, publish=6)  # the second write's list file (its checkpoint is whole)
    third = steps // 3
    for low, high in ((third + 1, 2 * third), (2 * third + 1, steps - 1)):  # epochs 2 and 3
        run_killed(args, step=rng.randint(low, high))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("base", "steps"), [(STOCK, STOCK_STEPS), (TEXT, TEXT_STEPS)], ids=["stock", "text"]
)
def test_killed_again_and_again_through_the_cli_resumes_exactly(tmp_path, base, steps):
    seed = random.SystemRandom().randrange(10**6)
    print(f"kill steps drawn with seed {seed}")
    resumed, reference = tmp_path / "resumed", tmp_path / "reference"
    kill_sequence(base, resumed, steps, seed)
    # The last kill was in the third epoch, after the second epoch's end was saved.
    assert run_cli(command(base, resumed)) >= 2 * (steps // 3)
    assert run_cli(command(base, reference)) == 0
    assert_same_run(resumed, reference, steps)
