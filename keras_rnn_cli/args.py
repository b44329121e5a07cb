"""The command line's shared pieces: value parsers, the one error path, config files.

Every ``keras-rnn`` command parses its values with these, and reports a bad one the same way:
``PROG: error: argument --flag VALUE: message`` on stderr, exit status 2 (argparse's own
format, which the parsers' ``ArgumentTypeError`` messages also get). The predictors' flags
are generated from their run configs (:mod:`keras_rnn.predictors.cli`); ``--config FILE``
(:func:`load_config`) reads a TOML or JSON file of the same settings.

It lives beside the dispatcher, outside ``keras_rnn`` (whose import loads TensorFlow), so
that the dispatcher and every command can use it without that cost.

Stdlib only: ``keras-rnn --help`` imports nothing heavy.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

try:  # Python >= 3.11
    import tomllib as _tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10: the same parser, from PyPI
    try:
        import tomli as _tomllib  # a core dependency on Python < 3.11 (pyproject.toml)
    except ModuleNotFoundError:
        _tomllib = None  # type: ignore[assignment]

_TOMLDecodeError: type[Exception] = _tomllib.TOMLDecodeError if _tomllib else ValueError

NO_VALUE = object()  # CommandError without a value: the flag takes none (--deterministic)


# --- value parsers: each error names the expectation and the value received -------------------


def positive_int(text: str) -> int:
    """An integer >= 1."""
    try:
        value = int(str(text), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (seeds)."""
    try:
        value = int(str(text), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def vocab_size(text: str) -> int:
    """An integer >= 2 (the OOV bucket and one token)."""
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(
            f"expected an integer >= 2 (OOV + one token), got {text!r}"
        )
    return value


def positive_float(text: str) -> float:
    """A finite float > 0."""
    try:
        value = float(str(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def optional_positive_float(text: str) -> float | None:
    """A finite float > 0, or ``none``/``off`` to switch the feature off."""
    if str(text).strip().lower() in {"none", "off"}:
        return None
    try:
        return positive_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a positive number or 'none', got {text!r}"
        ) from None


def fraction(text: str) -> float:
    """A number strictly between 0 and 1."""
    try:
        value = float(str(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number between 0 and 1, got {text!r}"
        ) from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value


# --- the one error path ----------------------------------------------------------------------------


class CommandError(Exception):
    """A bad flag value found after parsing: ``argument --flag VALUE: message``."""

    def __init__(self, flag: str, message: str, value: Any = NO_VALUE) -> None:
        self.flag, self.message, self.value = flag, message, value
        shown = "" if value is NO_VALUE else f" {value!r}"
        super().__init__(f"argument {flag}{shown}: {message}")


def fail(prog: str, error: CommandError | str) -> int:
    """Print ``PROG: error: ...`` on stderr (as argparse does) and return the exit status 2."""
    print(f"{prog}: error: {error}", file=sys.stderr)
    return 2


class ArgumentParser(argparse.ArgumentParser):
    """The parser of every command: usage and ``PROG: error: message`` on stderr, exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


# --- directories -----------------------------------------------------------------------------------


def writable_directory_problem(path: Path) -> str | None:
    """Why ``path`` cannot be used as an output directory (None: it can).

    It must be a directory, or not exist yet below a directory; and that directory must
    accept a new file (probed by creating one: permission bits alone miss read-only mounts
    and are not what counts for root).
    """
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        what = "is" if existing == path else f"is below {str(existing)!r}, which is"
        return f"{what} a file, not a directory"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        where = "" if existing == path else f" ({str(existing)!r})"
        return f"cannot write there{where}: {err.strerror or err}"
    return None


# --- --config FILE -------------------------------------------------------------------------------


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a TOML (``.toml``) or JSON file into a dict; ``ValueError`` saying why not."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ValueError(f"cannot read the file: {err.strerror or err}") from None
    try:
        if path.suffix.lower() == ".toml":
            data = _toml_loads(raw.decode("utf-8"))
        elif path.suffix.lower() == ".json":
            data = json.loads(raw.decode("utf-8"))
        else:
            raise ValueError(f"expected a .toml or .json file, got {path.name!r}")
    except UnicodeDecodeError:
        raise ValueError("the file is not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON: {err}") from None
    except _TOMLDecodeError as err:
        raise ValueError(f"not valid TOML: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"expected a table of flag = value, got {type(data).__name__}")
    return data


def _toml_loads(text: str) -> dict[str, Any]:
    if _tomllib is None:  # pragma: no cover
        raise ValueError("reading TOML needs Python >= 3.11 or tomli (pip install tomli)")
    return _tomllib.loads(text)
