"""What every lesson shares: its command line, where its plots go, and how it prints findings.

Every lesson accepts the same two flags, whether it runs as ``python tutorials/NN_name.py``
or as ``keras-rnn tutorial NAME``:

- ``--quick``: a fast run (small models, few steps) that still shows each claim's shape.
- ``--output-dir DIR``: where the PNG plots go; default ``outputs/tutorials/NN_name/``
  relative to the current directory.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib

matplotlib.use("Agg")  # files only: lessons run on servers and in tests without a display


def parse_args(
    lesson: str, description: str, argv: Sequence[str] | None = None
) -> argparse.Namespace:
    """The lesson's flags; ``args.output_dir`` is resolved (default ``outputs/tutorials/<lesson>``)."""
    parser = argparse.ArgumentParser(prog=f"{lesson}.py", description=description)
    parser.add_argument("--quick", action="store_true", help="a fast run: small models, few steps")
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help=f"where plots go (default: outputs/tutorials/{lesson}/ under the current directory)",
    )
    if argv is None and "ipykernel" in sys.modules:
        args, _ = parser.parse_known_args([])  # a notebook's argv is the kernel's, not ours
    else:
        args = parser.parse_args(argv)
    args.output_dir = output_dir(lesson, args.output_dir)
    return args


def output_dir(lesson: str, override: Path | str | None = None) -> Path:
    """Create and return the directory for a lesson's plots."""
    path = Path(override) if override is not None else Path("outputs") / "tutorials" / lesson
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_figure(fig: Any, out_dir: Path, filename: str) -> Path:
    """Save a matplotlib figure as PNG under ``out_dir``, close it, print and return its path."""
    import matplotlib.pyplot as plt

    path = Path(out_dir) / filename
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    print(f"  plot saved: {path}")
    return path


def heading(text: str) -> None:
    """Print a section heading so the console output reads like the lesson."""
    print(f"\n== {text} ==")


def show(label: str, value: Any) -> None:
    """Print one finding, ``label: value``, with floats in a readable form."""
    if isinstance(value, float):
        value = f"{value:.6g}"
    print(f"  {label}: {value}")
