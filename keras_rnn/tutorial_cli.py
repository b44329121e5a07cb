"""``keras-rnn tutorial NAME [LESSON FLAGS]``: run a lesson from ``tutorials/``.

A lesson is any file ``NN_name.py`` (two digits, an underscore, a name) in the lessons
folder: ``tutorials/`` in a source checkout, ``keras_rnn/tutorials/`` inside an installed
wheel (the build copies the folder there, see setup.py). NAME may
be its number or its name, with or without the prefix: ``1``, ``01``, ``statland``,
``01_statland``. Without NAME the command lists the lessons. The lesson runs in this
process as if started with ``python tutorials/NN_name.py [LESSON FLAGS]``: what follows
NAME is handed to the lesson as it is, and the lesson parses it (its flags, ``--quick`` and
``--output-dir DIR``, are defined once, in ``tutorials/_common.py``; ``keras-rnn tutorial 1
--help`` shows them).

This module imports nothing heavy itself, but as part of ``keras_rnn`` its import loads
TensorFlow (see ``keras_rnn/__init__.py``); ``keras-rnn --help`` does not import it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path

LESSON_FILE = re.compile(r"^(\d{2})_([a-z0-9_]+)\.py$")
ENV_DIR = "KERAS_RNN_TUTORIALS"


def tutorials_dir() -> Path:
    """Where the lessons are, the first of these that holds one.

    ``$KERAS_RNN_TUTORIALS``; the copy inside the installed package (``keras_rnn/tutorials/``,
    present in a wheel); the source checkout's ``tutorials/``; ``./tutorials``.
    """
    candidates = []
    if os.environ.get(ENV_DIR):
        candidates.append(Path(os.environ[ENV_DIR]))
    package = Path(__file__).resolve().parent
    candidates += [package / "tutorials", package.parent / "tutorials", Path.cwd() / "tutorials"]
    for candidate in candidates:
        if candidate.is_dir() and any(LESSON_FILE.match(p.name) for p in candidate.iterdir()):
            return candidate
    return candidates[0]


def available(directory: Path | None = None) -> dict[str, Path]:
    """Lesson stem (``01_statland``) -> path, in lesson order."""
    directory = directory or tutorials_dir()
    if not directory.is_dir():
        return {}
    found = {p.stem: p for p in directory.iterdir() if LESSON_FILE.match(p.name)}
    return dict(sorted(found.items()))


def resolve(name: str, directory: Path | None = None) -> Path:
    """The lesson that NAME means; ``ValueError`` naming the choices when there is none."""
    lessons = available(directory)
    key = name.strip().lower().replace("-", "_").removesuffix(".py")
    for stem, path in lessons.items():
        number, short = LESSON_FILE.match(path.name).groups()  # type: ignore[union-attr]
        if key in (stem, short, number) or (key.isdigit() and int(key) == int(number)):
            return path
    choices = ", ".join(lessons) or (
        f"none found in {directory or tutorials_dir()} (point ${ENV_DIR} at a folder of lessons, "
        "e.g. the tutorials/ folder of the source)"
    )
    raise ValueError(f"unknown tutorial {name!r}; choose one of: {choices}")


def _lesson_type(name: str) -> Path:
    try:
        return resolve(name)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``tutorial`` command's flags."""
    parser.add_argument(
        "name",
        metavar="NAME",
        nargs="?",
        type=_lesson_type,
        help="lesson number or name, e.g. 1, 01, statland, 01_statland (omit to list them)",
    )
    parser.add_argument(
        "lesson_args",
        metavar="LESSON FLAGS",
        nargs=argparse.REMAINDER,
        help="the lesson's own flags, passed to it unparsed: --quick (a fast run: small "
        "models, few steps), --output-dir DIR (where plots go; default: "
        "outputs/tutorials/NN_name/), --help",
    )


@contextlib.contextmanager
def _as_script(path: Path, argv: list[str]) -> Iterator[None]:
    """Run with ``sys.argv`` and ``sys.path`` as ``python path *argv`` would set them."""
    old_argv, old_path = sys.argv[:], sys.path[:]
    sys.argv = [str(path), *argv]
    sys.path.insert(0, str(path.parent))
    try:
        yield
    finally:
        sys.argv, sys.path[:] = old_argv, old_path


def run_lesson(path: Path, argv: list[str] | tuple[str, ...] = ()) -> int:
    """Run one lesson file as ``__main__`` with command-line arguments ``argv``; its exit
    status."""
    with _as_script(path, list(argv)):
        try:
            runpy.run_path(str(path), run_name="__main__")
        except SystemExit as stop:
            if stop.code is None or isinstance(stop.code, int):
                return int(stop.code or 0)
            print(stop.code, file=sys.stderr)
            return 1
    return 0


def run(args: argparse.Namespace) -> int:
    """List the lessons (no NAME) or run the one named."""
    if args.name is None:
        lessons = available()
        if not lessons:
            print(f"no lessons found in {tutorials_dir()}", file=sys.stderr)
            return 1
        print("lessons (run one with: keras-rnn tutorial NAME [--quick]):")
        for stem in lessons:
            print(f"  {stem}")
        return 0
    return run_lesson(args.name, args.lesson_args)
