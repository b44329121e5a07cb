"""The ``keras-rnn`` command: a thin dispatcher.

Each command lives in the module that owns its domain; that module exposes
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only when their
command runs, so ``keras-rnn --help`` is fast and ``serve`` does not load TensorFlow twice.

Why a package of its own, beside ``keras_rnn``: ``import keras_rnn`` imports the layers (and
so TensorFlow, ~4 s) because that is what registers them with Keras for
``keras.models.load_model``, as ``import keras_hub`` does. The console script imports this
package only, which imports nothing heavy, so ``keras-rnn --help`` answers at once and a
command whose optional extra is missing says which one to install before anything loads.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import sys
import warnings
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from keras_rnn_cli.args import ArgumentParser

# command path -> (module, one-line help)
COMMANDS: dict[tuple[str, ...], tuple[str, str]] = {
    ("train", "stock"): (
        "keras_rnn.predictors.stock.cli",
        "train and export the stock price predictor",
    ),
    ("train", "text"): (
        "keras_rnn.predictors.text.cli",
        "train and export the next-token text predictor",
    ),
    ("tutorial",): ("keras_rnn.tutorial_cli", "run a tutorial lesson by name"),
    ("serve",): ("serving.cli", "serve exported SavedModels over HTTP (FastAPI + uvicorn)"),
    ("demo",): ("keras_rnn.demo", "the main job: train both predictors, export, serve, predict"),
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole command tree; only the command named in ``argv`` has its module imported.

    Loading one command's module (and its flags) at a time keeps ``--help`` fast and keeps a
    problem in one command's module from breaking the others. ``argv=None`` loads them all.
    """
    parser = ArgumentParser(
        prog="keras-rnn",
        description="RNNs built from scratch: train the predictors, run the tutorials, serve the models.",
    )
    parser.add_argument("--version", action="version", version=_version())
    top = parser.add_subparsers(dest="_command", metavar="COMMAND", parser_class=ArgumentParser)
    top.required = True
    groups: dict[str, argparse._SubParsersAction] = {}
    for path, (module_name, help_text) in COMMANDS.items():
        if len(path) == 1:
            sub = top.add_parser(path[0], help=help_text, description=help_text)
        else:
            if path[0] not in groups:
                group_parser = top.add_parser(path[0], help=f"{path[0]} a predictor")
                groups[path[0]] = group_parser.add_subparsers(
                    dest="_target", metavar="TARGET", parser_class=ArgumentParser
                )
                groups[path[0]].required = True
            sub = groups[path[0]].add_parser(path[1], help=help_text, description=help_text)
        sub.set_defaults(_module=module_name)
        if argv is None or _selects(argv, path):
            module = _load(module_name)
            if module is not None:
                module.add_arguments(sub)
    return parser


def _selects(argv: Sequence[str], path: tuple[str, ...]) -> bool:
    words = [a for a in argv if not a.startswith("-")]
    return tuple(words[: len(path)]) == path


# The pip extras (pyproject.toml) each command needs, and the modules that show one is there.
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "stock": ("pandas", "rich", "matplotlib"),
    "tutorials": ("pandas", "rich", "matplotlib"),
    "serving": (
        "fastapi",
        "uvicorn",
        "pydantic",
        "pydantic_settings",
        "prometheus_client",
        "orjson",
    ),
}
COMMAND_EXTRAS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("train", "stock"): ("stock",),
    ("train", "text"): (),
    ("tutorial",): ("tutorials",),
    ("serve",): ("serving",),
    ("demo",): ("stock", "serving"),
}


def missing_extras(path: tuple[str, ...]) -> dict[str, list[str]]:
    """The extras of command ``path`` that are not installed -> their missing modules.

    ``importlib.util.find_spec`` looks a top-level module up without importing it.
    """
    missing: dict[str, list[str]] = {}
    for extra in COMMAND_EXTRAS.get(path, ()):
        absent = [m for m in EXTRA_MODULES[extra] if not _importable(m)]
        if absent:
            missing[extra] = absent
    return missing


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def extras_message(path: tuple[str, ...], missing: dict[str, list[str]]) -> str:
    """One line: which extra to install for command ``path`` and what is missing without it."""
    names = ",".join(COMMAND_EXTRAS[path])
    modules = ", ".join(m for absent in missing.values() for m in absent)
    return (
        f"keras-rnn {' '.join(path)}: needs the optional "
        f"{'extras' if ',' in names else 'extra'} `{names}` (not installed: "
        f"{modules}); install it with: pip install 'keras-rnn[{names}]'"
    )


def _selected(argv: Sequence[str]) -> tuple[str, ...] | None:
    return next((path for path in COMMANDS if _selects(argv, path)), None)


def _load(module_name: str):
    """Import a command's module; None when the module itself is not installed."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if module_name == err.name or module_name.startswith(f"{err.name}."):
            return None
        raise


@contextlib.contextmanager
def _without_package_init(name: str):
    """Let a command's module be imported for its ``--help`` without ``name/__init__.py``.

    The commands' modules live inside ``keras_rnn``, whose ``__init__`` imports the layers
    and so TensorFlow (seconds) to register them with Keras; their flags need none of it.
    The package is entered as a bare module carrying only its ``__path__``, and everything
    imported under it is dropped again afterwards, so a later ``import keras_rnn`` is whole.
    """
    spec = None if name in sys.modules else importlib.util.find_spec(name)
    if spec is None:
        yield
        return
    sys.modules[name] = importlib.util.module_from_spec(spec)
    try:
        yield
    finally:
        for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
            del sys.modules[module]


def _version() -> str:

    try:
        return f"keras-rnn {version('keras-rnn')}"
    except PackageNotFoundError:
        return "keras-rnn (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    path = _selected(argv)
    # Before the command's module loads: it may import what the extra installs.
    missing = missing_extras(path) if path else {}
    if missing and not {"-h", "--help"} & set(argv):
        print(extras_message(path, missing), file=sys.stderr)
        return 2
    if {"-h", "--help"} & set(argv):
        with _without_package_init("keras_rnn"):
            build_parser(argv).parse_args(argv)  # prints the help and exits
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    module = _load(args._module)
    if module is None:
        print(
            f"keras-rnn: the module of this command ({args._module}) is not installed",
            file=sys.stderr,
        )
        return 2
    shown = warnings.formatwarning
    warnings.formatwarning = _one_line_warning
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt as stop:
        # A TrainingInterrupted (a KeyboardInterrupt) means the checkpoint is saved: exit as
        # the shell expects for that signal (130, 143). Looked up, not imported: importing
        # keras_rnn loads TensorFlow, which `serve` must not do in its parent process.
        signals = sys.modules.get("keras_rnn.training.signals")
        if signals is None or not isinstance(stop, signals.TrainingInterrupted):
            raise
        print(f"keras-rnn: {stop}", file=sys.stderr)
        return stop.exit_code
    finally:
        warnings.formatwarning = shown


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """A warning as a command's user reads it: one line, without our source line."""
    return f"keras-rnn: warning: {message}\n"


if __name__ == "__main__":
    sys.exit(main())
