"""Two replicas train an embedding model with Adam as one device does (issue 13).

An embedding's gradient is IndexedSlices; handed to the optimizer sparse on two replicas,
Adam's moments were updated once per duplicated row and the weights drifted 1e-2 from one
device's in 6 steps, which showed as a two-worker ``train text`` not matching one process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

WORKER = Path(__file__).resolve().parent / "embedding_worker.py"


def test_mirrored_embedding_with_adam_matches_one_device():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("TF_CONFIG", None)
    done = subprocess.run(
        [sys.executable, str(WORKER)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = [x for x in done.stdout.splitlines() if x.startswith("norms_rel")][-1]
    _, norms, _, weights = line.split()
    assert float(norms) < 1e-5 and float(weights) < 1e-6, line
