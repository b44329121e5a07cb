"""The flags every ``keras-rnn train ...`` command shares, and the ``--config FILE`` they read.

A command adds them with :func:`add_training_arguments` and turns the parsed namespace into
:class:`~keras_rnn.training.Trainer` keyword arguments with :func:`trainer_options_from_args`::

    def add_arguments(parser):
        parser.add_argument("--units", type=int, default=64)      # the command's own flags
        add_training_arguments(parser, epochs=5, batch_size=64)   # the shared ones

    def run(args):
        configure_runtime(args)              # seed, determinism, mixed precision: BEFORE the model
        model = build(args.units)
        optimizer = keras.optimizers.Adam(args.learning_rate)
        trainer = Trainer(model, loss, optimizer, **trainer_options_from_args(args))
        trainer.fit(train_ds.batch(args.batch_size), epochs=args.epochs, ...)

``--config FILE`` reads a TOML (``.toml``) or JSON file whose keys are flag names without the
dashes (``batch-size`` or ``batch_size``); it may set any flag of the command, not only the
shared ones. Precedence: flags on the command line > the config file > the defaults.

This module does not import TensorFlow at import time (``keras-rnn --help`` stays fast).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

STRATEGIES = ("default", "mirrored", "multi-worker")
CONFIG_FLAG = "--config"

# Options that trainer_options_from_args passes to Trainer(...), by namespace attribute.
_TRAINER_KEYS = (
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
    "strategy",
)


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


# --- the flags -----------------------------------------------------------------------------------


def add_training_arguments(
    parser: argparse.ArgumentParser,
    *,
    epochs: int = 5,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    clip_norm: float | None = 1.0,
    checkpoint_dir: str | None = None,
    log_dir: str | None = None,
) -> None:
    """Add the shared training flags (and ``--config``) to ``parser``.

    The keyword arguments are the command's defaults for the flags of the same name.
    """
    group = parser.add_argument_group("training (shared by every train command)")
    group.add_argument(
        CONFIG_FLAG,
        metavar="FILE",
        default=None,
        help="TOML or JSON file of flag values (keys = flag names); command-line flags win",
    )
    group.add_argument("--epochs", type=positive_int, default=epochs, help="default: %(default)s")
    group.add_argument(
        "--batch-size",
        type=positive_int,
        default=batch_size,
        help="global batch size (summed over replicas); default: %(default)s",
    )
    group.add_argument(
        "--learning-rate", type=positive_float, default=learning_rate, help="default: %(default)s"
    )
    group.add_argument(
        "--clip-norm",
        type=optional_positive_float,
        default=clip_norm,
        metavar="NORM",
        help="clip gradients to this global norm, or 'none'; default: %(default)s",
    )
    group.add_argument(
        "--clip-value",
        type=optional_positive_float,
        default=None,
        metavar="VALUE",
        help="clip each gradient element to [-VALUE, VALUE], or 'none'; default: %(default)s",
    )
    group.add_argument(
        "--checkpoint-dir",
        default=checkpoint_dir,
        metavar="DIR",
        help="where checkpoints go (off when not given); default: %(default)s",
    )
    group.add_argument(
        "--checkpoint-every",
        type=positive_int,
        default=None,
        metavar="STEPS",
        help="also checkpoint every STEPS train steps (always at each epoch end)",
    )
    group.add_argument(
        "--keep-checkpoints",
        type=positive_int,
        default=3,
        metavar="N",
        help="keep the newest N checkpoints; default: %(default)s",
    )
    group.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="resume from the newest checkpoint in --checkpoint-dir; default: resume",
    )
    group.add_argument(
        "--restart",
        action="store_true",
        help="delete the checkpoints in --checkpoint-dir (damaged ones too) and start over",
    )
    group.add_argument(
        "--log-dir",
        default=log_dir,
        metavar="DIR",
        help="TensorBoard logs (off when not given); default: %(default)s",
    )
    group.add_argument(
        "--seed",
        type=non_negative_int,
        default=None,
        help="seed Python, NumPy, TensorFlow and the data order; with it, runs are repeatable",
    )
    group.add_argument(
        "--deterministic",
        action="store_true",
        help="use deterministic TensorFlow ops (slower; needs --seed for repeatable runs)",
    )
    group.add_argument("--jit-compile", action="store_true", help="compile the train step with XLA")
    group.add_argument(
        "--mixed-precision",
        action="store_true",
        help="mixed_float16 compute with loss scaling (worth it on GPUs)",
    )
    group.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="default",
        help="tf.distribute strategy: default (one device, a GPU if seen), mirrored "
        "(all local GPUs), multi-worker (several machines via TF_CONFIG); default: %(default)s",
    )
    group.add_argument("--quiet", action="store_true", help="no progress bar")
    _read_config_before_parsing(parser)


def trainer_options_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`~keras_rnn.training.Trainer` keyword arguments the shared flags give.

    ``epochs``, ``batch_size`` and ``learning_rate`` are not Trainer arguments: read them from
    ``args`` (they shape the dataset, ``fit`` and the optimizer).
    """
    options = {key: getattr(args, key) for key in _TRAINER_KEYS}
    options["verbose"] = 0 if args.quiet else 1
    options["deterministic"] = bool(args.deterministic)
    return options


def configure_runtime(args: argparse.Namespace) -> None:
    """The strategy, seed, determinism and mixed-precision policy: call it first, before any
    TensorFlow op (data pipelines included) and before building the model.

    The strategy comes first because ``MultiWorkerMirroredStrategy`` configures TensorFlow's
    collective ops, which TensorFlow allows only before its first op ("Collective ops must
    be configured at program startup"). Names resolve to one cached instance, so the
    training code that asks for the strategy by name later gets this one.
    """
    from keras_rnn.training.devices import configure, resolve_strategy

    resolve_strategy(args.strategy)
    configure(
        seed=args.seed, deterministic=args.deterministic, mixed_precision=args.mixed_precision
    )


def check_training_args(
    args: argparse.Namespace, directories: dict[str, str | None] | None = None
) -> str | None:
    """Problems with the shared flags that argparse cannot see, found before any training:
    the message names the flag and the value (None: no problem).

    Checked: ``--deterministic`` needs ``--seed``; ``--checkpoint-dir``, ``--log-dir`` and
    the command's own ``directories`` (flag -> path, e.g. ``{"--model-dir": "models"}``)
    must be (or be creatable as) writable directories; ``--no-resume`` refuses a
    ``--checkpoint-dir`` that already holds checkpoints.
    """
    if args.deterministic and args.seed is None:
        return (
            "argument --deterministic: needs --seed (deterministic kernels repeat a run only "
            "from the same seed), e.g. --seed 0"
        )
    paths = {"--checkpoint-dir": args.checkpoint_dir, "--log-dir": args.log_dir}
    paths.update(directories or {})
    for flag, value in paths.items():
        if value is None:
            continue
        problem = writable_directory_problem(Path(value))
        if problem:
            return f"argument {flag} {value!r}: {problem}"
    if args.checkpoint_dir is not None and not args.resume and not args.restart:
        found = (
            sorted(Path(args.checkpoint_dir).glob("ckpt-*.index"))
            if Path(args.checkpoint_dir).is_dir()
            else []
        )
        if found:
            return (
                f"argument --no-resume: --checkpoint-dir {args.checkpoint_dir!r} already holds "
                f"checkpoints ({found[-1].name[: -len('.index')]}); drop --no-resume to resume "
                "from them, --restart to delete them and start over, or give an empty "
                "--checkpoint-dir"
            )
    return None


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
    import tempfile

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


def config_to_namespace(
    parser: argparse.ArgumentParser, config: dict[str, Any], source: str
) -> argparse.Namespace:
    """Check ``config`` against ``parser``'s flags and convert its values like the flags would.

    Raises ``ValueError`` naming the file, the key and the value.
    """
    by_flag = {
        option[2:]: action
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--")
    }
    namespace = argparse.Namespace()
    for key, value in config.items():
        flag = str(key).replace("_", "-")
        action = by_flag.get(flag)
        if action is None or flag in {"config", "help", "version"} or flag.startswith("no-"):
            known = ", ".join(
                sorted(
                    k
                    for k in by_flag
                    if k not in {"config", "help", "version"} and not k.startswith("no-")
                )
            )
            raise ValueError(f"{source}: unknown key {key!r} (known: {known})")
        namespace_value = _convert(action, value, f"{source}: key {key!r}")
        setattr(namespace, action.dest, namespace_value)
    return namespace


def _convert(action: argparse.Action, value: Any, where: str) -> Any:
    is_flag = isinstance(
        action,
        argparse.BooleanOptionalAction | argparse._StoreTrueAction | argparse._StoreFalseAction,
    )
    if is_flag:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, got {value!r}")
        if isinstance(action, argparse._StoreFalseAction):
            return not value
        return value
    if action.nargs in ("*", "+") or (isinstance(action.nargs, int) and action.nargs > 1):
        items = value if isinstance(value, list) else [value]
        return [_convert_one(action, item, where) for item in items]
    if isinstance(value, list | dict):
        raise ValueError(f"{where}: expected a single value, got {value!r}")
    return _convert_one(action, value, where)


def _convert_one(action: argparse.Action, value: Any, where: str) -> Any:
    if isinstance(value, bool):
        # TOML/JSON booleans are not numbers or strings; never let True pass as 1.
        raise ValueError(f"{where}: expected a value, got {value!r}")
    converter: Callable[[str], Any] = action.type or str  # type: ignore[assignment]
    if value is None:
        # JSON null: "off" where the flag has an off value (a path, a clip), an error elsewhere.
        if converter not in (str, optional_positive_float):
            raise ValueError(f"{where}: expected a value, got null")
        return None
    try:
        converted = converter(str(value))
    except (argparse.ArgumentTypeError, TypeError, ValueError) as err:
        raise ValueError(f"{where}: {err}") from None
    if action.choices is not None and converted not in action.choices:
        choices = ", ".join(map(repr, action.choices))
        raise ValueError(f"{where}: expected one of {choices}, got {value!r}")
    return converted


def _config_path(arg_strings: Sequence[str]) -> str | None:
    """The value of the last ``--config`` before ``--``, if any."""
    path = None
    args = list(arg_strings)
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == CONFIG_FLAG and index + 1 < len(args):
            path = args[index + 1]
        elif arg.startswith(CONFIG_FLAG + "="):
            path = arg.split("=", 1)[1]
    return path


def _read_config_before_parsing(parser: argparse.ArgumentParser) -> None:
    """Make ``parser`` read ``--config FILE`` first and use its values as defaults.

    argparse has no config-file layer, so this wraps the parser's own ``parse_known_args``
    (the entry both ``parse_args`` and a parent's sub-command dispatch go through): values
    from the file are put into the namespace before parsing, where argparse keeps them
    instead of the defaults and lets command-line flags overwrite them.
    """
    inner = parser.parse_known_args

    def parse_known_args(args=None, namespace=None):  # type: ignore[no-untyped-def]
        import sys

        arg_strings = sys.argv[1:] if args is None else list(args)
        path = _config_path(arg_strings)
        if path is not None:
            try:
                source = f"{CONFIG_FLAG} {path}"
                config = load_config(path)
                from_file = config_to_namespace(parser, config, source)
            except ValueError as err:
                message = str(err)
                parser.error(message if message.startswith(source) else f"{source}: {message}")
            if namespace is None:
                namespace = from_file
            else:
                for key, value in vars(from_file).items():
                    setattr(namespace, key, value)
        return inner(arg_strings, namespace)

    parser.parse_known_args = parse_known_args  # type: ignore[method-assign]


try:  # Python >= 3.11
    import tomllib as _tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10: the same parser, from PyPI
    try:
        import tomli as _tomllib  # a core dependency on Python < 3.11 (pyproject.toml)
    except ModuleNotFoundError:
        _tomllib = None  # type: ignore[assignment]

_TOMLDecodeError: type[Exception] = _tomllib.TOMLDecodeError if _tomllib else ValueError


def _toml_loads(text: str) -> dict[str, Any]:
    if _tomllib is None:  # pragma: no cover
        raise ValueError("reading TOML needs Python >= 3.11 or tomli (pip install tomli)")
    return _tomllib.loads(text)
