"""The ``keras-rnn train PREDICTOR`` commands, generated from the predictors' run configs.

A predictor's command is its config class and its pipeline::

    def add_arguments(parser):
        cli.add_arguments(parser, StockConfig)        # one flag per config field

    def run(args):
        return cli.run(PROG, StockConfig, args, make_pipeline)

Every field of the config (but those marked ``cli=False``) becomes a flag: ``--`` and the
field name with dashes unless the field names its flag (``length``: ``--days``), the
field's parser as the flag's ``type``, its choices, its help. The flag's default is the
field's, or the config's ``CLI_PRESET``'s. ``--config FILE`` reads a TOML or JSON table of
the same settings (keys: the flag names, dashes or underscores). Precedence: flags on the
command line > the file > the preset > the field defaults. Parsed flags default to
``argparse.SUPPRESS``, so a namespace holds only what the command line gave.

The config is then made once (and so checked once); a problem found there, in the
directories, in the data or in the checkpoints prints ``PROG: error: argument --flag VALUE:
message`` and exits 2 (:mod:`keras_rnn_cli.args`).

This module does not import TensorFlow: :func:`run` does, through the pipeline it makes.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from keras_rnn.data import DataError
from keras_rnn.predictors.config import ConfigError, RunConfig, flag_of
from keras_rnn_cli.args import (
    NO_VALUE,
    CommandError,
    fail,
    load_config,
    writable_directory_problem,
)

GROUPS = {
    "data": "data",
    "model": "model",
    "output": "output",
    "training": "training (shared by every train command)",
}
DIRECTORIES = ("checkpoint_dir", "log_dir", "model_dir", "output_dir")  # must be writable
NOT_FILE_KEYS = ("config", "help", "version")


def cli_fields(config_class: type[RunConfig]) -> list[dataclasses.Field]:
    """The fields of ``config_class`` that have a flag, in declaration order."""
    return [f for f in dataclasses.fields(config_class) if f.metadata.get("cli")]


def cli_defaults(config_class: type[RunConfig]) -> dict[str, Any]:
    """The command's default of each field: the field's, or the preset's."""
    defaults = {f.name: f.default for f in dataclasses.fields(config_class)}
    return {**defaults, **config_class.CLI_PRESET}


def add_arguments(parser: argparse.ArgumentParser, config_class: type[RunConfig]) -> None:
    """One flag per field of ``config_class``, and ``--config FILE``."""
    defaults = cli_defaults(config_class)
    groups = {key: parser.add_argument_group(title) for key, title in GROUPS.items()}
    for f in cli_fields(config_class):
        groups[f.metadata["group"]].add_argument(flag_of(f), **_argument(f, defaults[f.name]))
    groups["training"].add_argument(
        "--config",
        metavar="FILE",
        type=ConfigFile(config_class),
        default=argparse.SUPPRESS,
        help="TOML or JSON file of these settings (keys = flag names); command-line flags win",
    )


def _argument(f: dataclasses.Field, default: Any) -> dict[str, Any]:
    meta = f.metadata
    kind = _kind(f)
    text = meta["help"]
    shows_default = meta["const"] is None and kind != "bool" and default is not None
    if shows_default and "default:" not in text:
        text += f"; default: {default}"
    options: dict[str, Any] = {
        "dest": f.name,
        "default": argparse.SUPPRESS,
        "help": text.replace("%", "%%"),
    }
    if meta["const"] is not None:
        options.update(action="store_const", const=meta["const"])
    elif kind == "bool":
        options["action"] = argparse.BooleanOptionalAction if default is True else "store_true"
    else:
        options["type"] = meta["parse"] or str
        if meta["choices"] is not None:
            options["choices"] = meta["choices"]
        if meta["metavar"] is not None:
            options["metavar"] = meta["metavar"]
    return options


def _kind(f: dataclasses.Field) -> str:
    return str(f.type).partition(" | ")[0]


class ConfigFile:
    """``--config FILE``'s type: the file's settings, checked as their flags would be.

    Returns ``{field: value}``; a problem raises ``argparse.ArgumentTypeError`` naming the
    file, the key and the value (argparse then exits 2 with ``argument --config: ...``).
    """

    def __init__(self, config_class: type[RunConfig]) -> None:
        self.config_class = config_class

    def __call__(self, path: str) -> dict[str, Any]:
        try:
            table = load_config(path)
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"{path}: {err}") from None
        by_key = {flag_of(f)[2:]: f for f in cli_fields(self.config_class)}
        defaults = cli_defaults(self.config_class)
        values: dict[str, Any] = {}
        for key, value in table.items():
            f = by_key.get(str(key).replace("_", "-"))
            if f is None or key in NOT_FILE_KEYS:
                known = ", ".join(sorted(by_key))
                raise argparse.ArgumentTypeError(f"{path}: unknown key {key!r} (known: {known})")
            try:
                values[f.name] = _from_file(f, value, defaults[f.name])
            except ValueError as err:
                raise argparse.ArgumentTypeError(f"{path}: key {key!r}: {err}") from None
        return values


def _from_file(f: dataclasses.Field, value: Any, default: Any) -> Any:
    """A TOML/JSON value converted like the flag's text; ``ValueError`` saying why not."""
    meta = f.metadata
    if meta["const"] is not None or _kind(f) == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        if meta["const"] is not None:
            return meta["const"] if value else default
        return value
    if isinstance(value, list | dict):
        raise ValueError(f"expected a single value, got {value!r}")
    if isinstance(value, bool):  # TOML/JSON booleans are not numbers or strings
        raise ValueError(f"expected a value, got {value!r}")
    if value is None:  # JSON null: "off" where the setting has an off value
        if " | None" not in str(f.type):
            raise ValueError("expected a value, got null")
        return None
    try:
        converted = (meta["parse"] or str)(str(value))
    except argparse.ArgumentTypeError as err:
        raise ValueError(str(err)) from None
    if meta["choices"] is not None and converted not in meta["choices"]:
        choices = ", ".join(map(repr, meta["choices"]))
        raise ValueError(f"expected one of {choices}, got {value!r}")
    return converted


def config_from_args(config_class: type[RunConfig], args: argparse.Namespace) -> RunConfig:
    """The run config the command line asks for (preset < ``--config`` file < flags).

    Raises :class:`~keras_rnn_cli.args.CommandError` naming the flag of a bad setting.
    """
    given = {f.name: getattr(args, f.name) for f in cli_fields(config_class) if f.name in args}
    values = {**config_class.CLI_PRESET, **getattr(args, "config", {}), **given}
    try:
        return config_class(**values)
    except ConfigError as err:
        raise command_error(config_class, err) from None


def command_error(config_class: type[RunConfig], err: ConfigError) -> CommandError:
    """A :class:`ConfigError` as the command line says it: flags, not field names."""
    by_name = {f.name: f for f in dataclasses.fields(config_class)}

    def name(key: str) -> str:
        return flag_of(by_name[key]) if key in by_name else f"`{key}`"

    shown = NO_VALUE if err.value is None or isinstance(err.value, bool) else err.value
    return CommandError(name(err.key), err.render(name), shown)


def directory_problem(config: RunConfig) -> CommandError | None:
    """What stops the run before it starts: a directory that cannot be written, or
    ``--no-resume`` over a ``--checkpoint-dir`` that holds checkpoints."""
    by_name = {f.name: f for f in dataclasses.fields(config)}
    for key in DIRECTORIES:
        value = getattr(config, key)
        problem = None if value is None else writable_directory_problem(Path(value))
        if problem:
            return CommandError(flag_of(by_name[key]), problem, value)
    if config.checkpoint_dir is not None and not config.resume and not config.restart:
        where = Path(config.checkpoint_dir)
        found = sorted(where.glob("ckpt-*.index")) if where.is_dir() else []
        if found:
            return CommandError(
                "--no-resume",
                f"--checkpoint-dir {config.checkpoint_dir!r} already holds checkpoints "
                f"({found[-1].name[: -len('.index')]}); drop --no-resume to resume from them, "
                "--restart to delete them and start over, or give an empty --checkpoint-dir",
            )
    return None


def run(
    prog: str,
    config_class: type[RunConfig],
    args: argparse.Namespace,
    make_pipeline: Callable[[RunConfig], Any],
    report: Callable[[Path], None] | None = None,
) -> int:
    """Make the config, train and export through the pipeline; the exit status.

    ``report(path)`` prints what the command says after an export.
    """
    # TensorFlow loads here, when a command runs, and not when its flags are built.
    from keras_rnn.predictors.pipeline import train_and_export
    from keras_rnn.training.checkpoints import CheckpointError

    by_name = {f.name: f for f in dataclasses.fields(config_class)}
    try:
        config = config_from_args(config_class, args)
        problem = directory_problem(config)
        if problem:
            raise problem
        pipeline = make_pipeline(config)
        try:
            path = train_and_export(pipeline)
        except DataError as err:  # a source, a corpus, a series too short for the window
            key = err.key if err.key in by_name else None
            if key is None:
                raise
            raise CommandError(flag_of(by_name[key]), str(err), getattr(config, key)) from None
        except CheckpointError as err:  # damaged, or written by another model shape
            where = pipeline.trainer_kwargs()["checkpoint_dir"]
            raise CommandError("--checkpoint-dir", str(err), where) from None
    except CommandError as err:
        return fail(prog, err)
    if path is not None and report is not None:
        report(path)
    return 0
