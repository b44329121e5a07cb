"""Run configs: one typed record of everything a training run depends on, validated once.

Each predictor has one, a dataclass whose field defaults are the quick run of its Python
API: :class:`~keras_rnn.predictors.stock.config.StockConfig` and
:class:`~keras_rnn.predictors.text.config.TextConfig`. The three ways to start a run all
produce it:

* the Python API: ``train_and_export(units=8, epochs=2)`` or ``train_and_export(config)``;
* the command line: every field with a flag becomes that flag (``--units``), its default
  the field's, or the command's preset's (:mod:`keras_rnn.predictors.cli`);
* ``--config run.toml``: the keys are the flag names (``batch-size`` or ``batch_size``).

A config is checked when it is made (``__post_init__``): a bad value raises
:class:`ConfigError` naming the field and the value, and nothing downstream checks it again.

Stdlib only: the command line builds its flags from these classes before TensorFlow loads.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import InitVar, dataclass, field
from typing import Any, ClassVar

from keras_rnn_cli.args import (
    non_negative_int,
    optional_positive_float,
    positive_float,
    positive_int,
)

CELLS: tuple[str, ...] = ("lstm", "gru", "simple_rnn")
STRATEGIES: tuple[str, ...] = ("default", "mirrored", "multi-worker")

# The dict keywords older callers pass extra Trainer settings in (stock: ``trainer_options``,
# text: ``trainer``); their keys are fields of the config like any other.
TRAINER_DICTS = ("trainer_options", "trainer")


class ConfigError(ValueError):
    """A setting that cannot be used. ``key`` is the field, ``value`` what was given (None
    where the message says it, or the setting takes none).

    ``message`` may name other fields in backticks (```window```); :meth:`render` writes
    them the way the caller knows them (the command line: as flags).
    """

    def __init__(self, key: str, value: Any, message: str) -> None:
        self.key, self.value, self.message = key, value, message
        super().__init__(f"Received an invalid value for `{key}`: {message}")

    def render(self, name: Callable[[str], str]) -> str:
        """``message`` with every ```field``` replaced by ``name(field)``."""
        return re.sub(r"`([a-z_]+)`", lambda m: name(m.group(1)), self.message)


def setting(
    default: Any,
    parse: Callable[[str], Any] | None = None,
    *,
    help: str,
    group: str = "training",
    flag: str | None = None,
    choices: tuple[Any, ...] | None = None,
    metavar: str | None = None,
    const: Any = None,
    cli: bool = True,
) -> Any:
    """A config field with what the command line and the checks need to know about it.

    Args:
        default: the Python API's (quick-run) default (``dataclasses.MISSING``: none).
        parse: text -> value, raising ``argparse.ArgumentTypeError`` (the flag's ``type``);
            also checks API values (``parse(str(value))`` must give the value back).
            None: a string. A ``bool`` default makes an on/off flag.
        help: the flag's help; the default is appended.
        group: the ``--help`` section.
        flag: the flag, when it is not ``--`` + the field name with dashes.
        choices: the allowed values.
        const: the flag takes no value and sets the field to ``const`` (``--quiet``: 0).
        cli: False for a field that has no flag (set from Python or a preset only).
    """
    meta = {
        "parse": parse,
        "help": help,
        "group": group,
        "flag": flag,
        "choices": choices,
        "metavar": metavar,
        "const": const,
        "cli": cli,
    }
    return field(default=default, metadata=meta)


def same(name: str, default: Any, **changes: Any) -> Any:
    """:class:`RunConfig`'s setting ``name`` with another default (and other ``changes``):
    how a predictor's config gives a shared field its own quick-run default."""
    base = RunConfig.__dataclass_fields__[name]
    return field(default=default, metadata={**base.metadata, **changes})


def flag_of(f: dataclasses.Field) -> str:
    """The command-line flag of a field (``--min-window`` for ``min_window``)."""
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


@dataclass
class RunConfig:
    """The settings every predictor's run has: training, the Trainer, and where things go.

    Subclasses add their data and model fields and override defaults. Field defaults are
    the Python API's quick run; a command's differing defaults are its ``CLI_PRESET``.
    """

    #: The command's defaults where they differ from the fields' (the Python API's).
    CLI_PRESET: ClassVar[Mapping[str, Any]] = {}

    # No default here: each predictor's config gives its own (see same()).
    epochs: int = setting(dataclasses.MISSING, positive_int, help="passes over the training data")
    learning_rate: float = setting(dataclasses.MISSING, positive_float, help="Adam's learning rate")
    batch_size: int = setting(64, positive_int, help="global batch size (summed over replicas)")
    clip_norm: float | None = setting(
        1.0,
        optional_positive_float,
        metavar="NORM",
        help="clip gradients to this global norm, or 'none'",
    )
    clip_value: float | None = setting(
        None,
        optional_positive_float,
        metavar="VALUE",
        help="clip each gradient element to [-VALUE, VALUE], or 'none'",
    )
    checkpoint_dir: str | None = setting(
        None, metavar="DIR", help="where checkpoints go (off when not given)"
    )
    checkpoint_every: int | None = setting(
        None,
        positive_int,
        metavar="STEPS",
        help="also checkpoint every STEPS train steps (always at each epoch end)",
    )
    keep_checkpoints: int = setting(
        3, positive_int, metavar="N", help="keep the newest N checkpoints"
    )
    resume: bool = setting(
        True, help="resume from the newest checkpoint in --checkpoint-dir; default: resume"
    )
    restart: bool = setting(
        False, help="delete the checkpoints in --checkpoint-dir (damaged ones too) and start over"
    )
    log_dir: str | None = setting(None, metavar="DIR", help="TensorBoard logs (off when not given)")
    seed: int | None = setting(
        None,
        non_negative_int,
        help="seed Python, NumPy, TensorFlow and the data order; with it, runs are repeatable",
    )
    deterministic: bool = setting(
        False, help="use deterministic TensorFlow ops (slower; needs --seed for repeatable runs)"
    )
    jit_compile: bool = setting(False, help="compile the train step with XLA")
    # None leaves the dtype policy as it is; the flag sets True.
    mixed_precision: bool | None = setting(
        None, help="mixed_float16 compute with loss scaling (worth it on GPUs)"
    )
    strategy: Any = setting(
        "default",
        choices=STRATEGIES,
        help="tf.distribute strategy: default (one device, a GPU if seen), mirrored "
        "(all local GPUs), multi-worker (several machines via TF_CONFIG)",
    )
    verbose: int = setting(1, non_negative_int, flag="--quiet", const=0, help="no progress bar")
    model_dir: str = setting("models", group="output", metavar="DIR", help="model repository root")
    output_dir: str | None = setting(None, group="output", metavar="DIR", help="run outputs")
    name: str = setting("model", cli=False, help="the model's name in the repository")
    # Older callers' dicts of Trainer settings (stock: ``trainer_options``, text: ``trainer``):
    # each key is a field, set as if passed on its own (the dict wins).
    trainer_options: InitVar[Mapping[str, Any] | None] = None
    trainer: InitVar[Mapping[str, Any] | None] = None

    # --- made and checked once ---------------------------------------------------------------

    def __post_init__(
        self, trainer_options: Mapping[str, Any] | None, trainer: Mapping[str, Any] | None
    ) -> None:
        known = {f.name: f for f in dataclasses.fields(self)}
        for key, extra in zip(TRAINER_DICTS, (trainer_options, trainer), strict=True):
            if not extra:
                continue
            if not isinstance(extra, Mapping):
                raise TypeError(f"`{key}` must be a dict of Trainer settings, got {extra!r}")
            unknown = sorted(set(extra) - set(known))
            if unknown:
                raise TypeError(f"`{key}`: unknown settings {unknown}; known: {sorted(known)}")
            for name, value in extra.items():
                setattr(self, name, value)
        for f in known.values():
            setattr(self, f.name, _checked(f, getattr(self, f.name)))
        self.check()

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with ``changes``, checked like a new config."""
        return dataclasses.replace(self, **changes)

    def resolved(self) -> RunConfig:
        """A copy (kept for older callers: a config is complete from the start)."""
        return dataclasses.replace(self)

    def check(self) -> None:
        """Fill the defaults that depend on other fields, then check what lies between
        fields (subclasses add theirs); raise :class:`ConfigError`."""
        if self.deterministic and self.seed is None:
            raise ConfigError(
                "deterministic",
                True,
                "needs `seed` (deterministic kernels repeat a run only from the same seed), "
                "e.g. seed 0",
            )

    # --- what the Trainer gets ---------------------------------------------------------------

    TRAINER_FIELDS: ClassVar[tuple[str, ...]] = (
        "clip_norm",
        "clip_value",
        "checkpoint_dir",
        "checkpoint_every",
        "keep_checkpoints",
        "resume",
        "restart",
        "log_dir",
        "seed",
        "jit_compile",
        "mixed_precision",
        "verbose",
        "deterministic",
    )

    def trainer_kwargs(self) -> dict[str, Any]:
        """The :class:`~keras_rnn.training.Trainer` keyword arguments (without the strategy)."""
        return {key: getattr(self, key) for key in self.TRAINER_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready values (a strategy object as its class name)."""
        return {
            k: v if isinstance(v, str | int | float | bool | type(None)) else str(v)
            for k, v in dataclasses.asdict(self).items()
        }


def check_positive_ints(**values: Any) -> None:
    """``ValueError`` naming the first argument that is not a positive integer (for code
    that builds a network without a config, e.g. a lesson calling ``build_model``)."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"Received an invalid value for argument `{name}`: expected a positive "
                f"integer, got {value!r}"
            )


def _checked(f: dataclasses.Field, value: Any) -> Any:
    """``value`` if it suits field ``f`` (paths become ``str``); else :class:`ConfigError`.

    The kind comes from the annotation (``int``, ``float | None``, ``bool``, ``str``, ...);
    numbers must also pass the field's parser (its range), as a flag's text would.
    """
    meta = f.metadata
    if not meta:  # not a setting()
        return value
    kind, _, optional = str(f.type).partition(" | ")
    if value is None:
        if optional:
            return None
        raise ConfigError(f.name, value, "expected a value, got None")
    if kind == "Any" and not isinstance(value, str):
        return value  # e.g. a tf.distribute.Strategy object, checked where it is used
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f.name, value, f"expected true or false, got {value!r}")
        return value
    if kind in ("int", "float"):
        numeric = int if kind == "int" else (int, float)
        if isinstance(value, bool) or not isinstance(value, numeric):
            expected = "an integer" if kind == "int" else "a number"
            raise ConfigError(f.name, value, f"expected {expected}, got {value!r}")
        if meta["parse"] is not None:
            try:
                value = meta["parse"](str(value))
            except argparse.ArgumentTypeError as err:
                raise ConfigError(f.name, value, str(err)) from None
    elif kind in ("str", "Any"):
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str):
            raise ConfigError(f.name, value, f"expected a string, got {value!r}")
    choices = meta["choices"]
    if choices is not None and value not in choices:
        raise ConfigError(
            f.name, value, f"expected one of {', '.join(map(repr, choices))}, got {value!r}"
        )
    return value
