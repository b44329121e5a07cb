"""Call every signature of every exported version on fixed inputs and print the outputs as JSON.

    python deploy/check_exports.py MODEL_DIR > outputs.json

Run it under two TensorFlow versions (e.g. the one that exported, and the one inside the
``tensorflow/serving`` image) and compare the files: equal outputs mean the exports load and
compute the same in that runtime. Needs only ``tensorflow`` and ``numpy``.

Inputs: batch 1; unknown lengths 20; numbers rise from 2700 to 2720 (a price window), integer
tensors are 3 (a length, ``k``, a token budget, a seed), scalar floats 0.8 (a temperature),
strings ``"to be or not"``. Outputs are rounded to 5 decimals.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf


def example(spec: tf.TensorSpec) -> tf.Tensor:
    shape = [1 if i == 0 and d is None else (d or 20) for i, d in enumerate(spec.shape)]
    if not shape:
        return tf.constant(3 if spec.dtype.is_integer else 0.8, spec.dtype)
    if spec.dtype == tf.string:
        return tf.constant(np.full(shape, "to be or not", dtype=object))
    if spec.dtype.is_integer:
        return tf.constant(np.full(shape, 3), spec.dtype)
    values = np.linspace(2700.0, 2720.0, int(np.prod(shape)))
    return tf.constant(values.reshape(shape), spec.dtype)


def outputs(model_dir: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"tensorflow": tf.__version__}
    for version_dir in sorted(model_dir.glob("*/[0-9]*")):
        loaded = tf.saved_model.load(str(version_dir))
        for name, fn in sorted(loaded.signatures.items()):
            args = {k: example(s) for k, s in fn.structured_input_signature[1].items()}
            result[f"{version_dir.parent.name}/{version_dir.name}/{name}"] = {
                k: v.numpy().astype(str).tolist()
                if v.dtype == tf.string
                else np.round(v.numpy().astype(float), 5).tolist()
                for k, v in sorted(fn(**args).items())
            }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, help="a repository: <dir>/<name>/<version>/")
    args = parser.parse_args(argv)
    if not args.model_dir.is_dir():
        parser.error(f"model_dir {str(args.model_dir)!r} is not a directory")
    json.dump(outputs(args.model_dir), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
