"""Killed and started again, a run ends with the weights of a run never interrupted.

One subprocess is stopped by SIGTERM (it must save a checkpoint at that very step and exit
143), a second is SIGKILLed between checkpoints (no chance to save: the steps since the
last checkpoint are redone), then the run is started again, in this process, to the end.
The reference is the same run never interrupted, in this process. The model has dropout, so its RNG state must come back too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WORKERS = HERE / "workers.py"


def run_worker(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(
        [sys.executable, str(WORKERS), "resume", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def checkpoints(directory: Path) -> list[int]:
    return sorted(int(p.name.split("-")[1].split(".")[0]) for p in directory.glob("ckpt-*.index"))


def test_sigterm_then_sigkill_then_resume_matches_uninterrupted(tmp_path):
    ckpt, out = tmp_path / "ckpt", tmp_path / "resumed.npz"

    term = run_worker(str(ckpt), str(out), "--term-at", "6")
    assert term.returncode == 143, term.stderr[-2000:]
    assert "SIGTERM" in term.stdout
    assert checkpoints(ckpt) == [5, 6]  # step 5 by the interval, step 6 by the signal

    kill = run_worker(str(ckpt), str(out), "--kill-at", "13")
    assert kill.returncode == -9, kill.stderr[-2000:]
    assert checkpoints(ckpt)[-1] == 10  # steps 11-13 were lost with the process
    assert not out.exists()

    # Started again (in this process, to save a TensorFlow start-up): runs to the end.
    sys.path.insert(0, str(HERE))
    try:
        import workers
    finally:
        sys.path.remove(str(HERE))
    assert workers.run_resume(str(ckpt), str(out), kill_at=None, term_at=None) == 0
    assert checkpoints(ckpt) == [16, 20, 24]  # keep 3

    reference = tmp_path / "reference.npz"
    assert workers.run_resume(None, str(reference), kill_at=None, term_at=None) == 0

    got, expected = np.load(out), np.load(reference)
    assert len(got["norms"]) == 24 and len(got["loss"]) == workers.EPOCHS
    for key in expected.files:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
