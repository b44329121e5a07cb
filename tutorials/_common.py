"""What every lesson shares: its settings, where its plots go, and how it prints findings.

A lesson is a file of top-level steps (jupytext "percent" cells) that runs three ways:

- as a script, ``python tutorials/NN_name.py [--quick] [--output-dir DIR]`` or
  ``keras-rnn tutorial NAME [--quick]``: figures are saved as PNG and their paths printed;
  the full run unless ``--quick``;
- as a notebook (Jupyter, VS Code, ``jupytext --to notebook``): the same steps, one cell at a
  time, each figure shown inline *and* saved; **quick by default** (seconds, not minutes):
  set ``QUICK = False`` in the settings cell, or ``KERAS_RNN_TUTORIAL_QUICK=0`` in the
  kernel's environment, for the full run;
- under the tests, as a notebook executed by ``nbclient``: ``KERAS_RNN_TUTORIAL_OUTPUT_DIR``
  chooses the plots' directory and ``KERAS_RNN_TUTORIAL_FINDINGS`` a file where
  :func:`finish` pickles the lesson's ``FINDINGS`` dict, whose claims the tests assert.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib


def _in_notebook() -> bool:
    """True inside a Jupyter kernel. (Not "ipykernel in sys.modules": jupyter_client imports
    it in any process that merely starts kernels, such as the tests.)"""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


#: True inside a Jupyter kernel (a notebook), False when run as a script or imported by tests.
IN_NOTEBOOK = _in_notebook()

if not IN_NOTEBOOK:
    # Files only: scripts run on servers and in tests without a display. In a notebook the
    # kernel's own (inline) backend stays, so figures appear under their cells.
    matplotlib.use("Agg")

QUICK_ENV = "KERAS_RNN_TUTORIAL_QUICK"
OUTPUT_DIR_ENV = "KERAS_RNN_TUTORIAL_OUTPUT_DIR"
FINDINGS_ENV = "KERAS_RNN_TUTORIAL_FINDINGS"


def parse_args(
    lesson: str, description: str, argv: Sequence[str] | None = None
) -> argparse.Namespace:
    """The lesson's settings: ``quick`` and ``output_dir`` (resolved and created).

    From the command line in a script; in a notebook (whose ``sys.argv`` is the kernel's)
    from the environment, quick unless ``KERAS_RNN_TUTORIAL_QUICK=0``.
    """
    parser = argparse.ArgumentParser(prog=f"{lesson}.py", description=description)
    parser.add_argument("--quick", action="store_true", help="a fast run: small models, few steps")
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help=f"where plots go (default: outputs/tutorials/{lesson}/ under the current directory)",
    )
    if argv is None and IN_NOTEBOOK:
        args = parser.parse_args([])
        args.quick = os.environ.get(QUICK_ENV, "1") != "0"
        args.output_dir = os.environ.get(OUTPUT_DIR_ENV) or None
    else:
        args = parser.parse_args(argv)
    args.output_dir = output_dir(lesson, args.output_dir)
    mode = "quick" if args.quick else "full"
    where = "a notebook" if IN_NOTEBOOK else "a script"
    print(f"{lesson}: the {mode} run, as {where}; plots go to {args.output_dir}")
    return args


def output_dir(lesson: str, override: Path | str | None = None) -> Path:
    """Create and return the directory for a lesson's plots."""
    path = Path(override) if override is not None else Path("outputs") / "tutorials" / lesson
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_figure(fig: Any, out_dir: Path, filename: str) -> Path:
    """Save a matplotlib figure as PNG under ``out_dir``, print and return its path.

    In a notebook the figure is also shown under the cell (as an ``image/png`` output).
    """
    import matplotlib.pyplot as plt

    path = Path(out_dir) / filename
    fig.savefig(path, dpi=90, bbox_inches="tight")
    if IN_NOTEBOOK:
        from IPython.display import display

        display(fig)
    plt.close(fig)  # shown once, here; not again by the backend at the end of the cell
    print(f"  plot saved: {path}")
    return path


def show_png(path: Path | str) -> Path:
    """Show a PNG written by other code (e.g. ``keras_rnn``'s plot helpers) in a notebook."""
    path = Path(path)
    if IN_NOTEBOOK:
        from IPython.display import Image, display

        display(Image(filename=str(path)))
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


def finish(ok: bool, findings: dict[str, Any], name: str) -> None:
    """End a lesson: print whether its claims held, hand ``findings`` to the tests if asked.

    As a script (``name == "__main__"`` outside a notebook) a failed claim is exit status 1;
    in a notebook nothing is raised, the verdict is printed.
    """
    target = os.environ.get(FINDINGS_ENV)
    if target:
        Path(target).write_bytes(pickle.dumps(findings))
    print(f"\nthe lesson's claims {'hold' if ok else 'DO NOT all hold'} in this run")
    if not ok and name == "__main__" and not IN_NOTEBOOK:
        raise SystemExit(1)
