"""The predictors' flags and ``--config FILE``, generated from the run configs: values,
precedence, bad input, and one name for each setting across flag, TOML key and API."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from keras_rnn.predictors import cli
from keras_rnn.predictors.config import flag_of
from keras_rnn.predictors.stock.config import StockConfig
from keras_rnn.predictors.text.config import TextConfig
from keras_rnn_cli.args import load_config

REPO = Path(__file__).resolve().parents[2]


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keras-rnn train stock")
    cli.add_arguments(parser, StockConfig)
    return parser


def parse(argv: list[str]) -> StockConfig:
    return cli.config_from_args(StockConfig, make_parser().parse_args(argv))


def parse_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        parse(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


def test_defaults_give_trainer_options():
    args = parse([])
    assert (args.epochs, args.batch_size, args.learning_rate) == (10, 64, 2e-3)  # CLI_PRESET
    assert args.trainer_kwargs() == {
        "clip_norm": 1.0,
        "clip_value": None,
        "checkpoint_dir": None,
        "checkpoint_every": None,
        "keep_checkpoints": 3,
        "resume": True,
        "restart": False,
        "log_dir": None,
        "seed": None,
        "jit_compile": False,
        "mixed_precision": None,
        "verbose": 1,
        "deterministic": False,
    }


def test_flags_reach_the_options(tmp_path):
    args = parse(
        [
            "--epochs=7",
            "--batch-size",
            "16",
            "--learning-rate",
            "0.01",
            "--clip-norm",
            "none",
            "--clip-value",
            "0.5",
            "--checkpoint-dir",
            str(tmp_path),
            "--checkpoint-every",
            "10",
            "--no-resume",
            "--seed",
            "3",
            "--jit-compile",
            "--mixed-precision",
            "--strategy",
            "mirrored",
            "--quiet",
            "--deterministic",
        ]
    )
    options = args.trainer_kwargs()
    assert (args.epochs, args.batch_size, args.learning_rate) == (7, 16, 0.01)
    assert options["clip_norm"] is None and options["clip_value"] == 0.5
    assert options["checkpoint_dir"] == str(tmp_path) and options["checkpoint_every"] == 10
    assert options["resume"] is False and options["seed"] == 3
    assert options["jit_compile"] and options["mixed_precision"] and options["deterministic"]
    assert args.strategy == "mirrored" and options["verbose"] == 0


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--epochs", "0"], ["--epochs", "'0'"]),
        (["--epochs", "two"], ["--epochs", "'two'"]),
        (["--batch-size", "-4"], ["--batch-size", "'-4'"]),
        (["--learning-rate", "-1"], ["--learning-rate", "'-1'"]),
        (["--learning-rate", "nan"], ["--learning-rate", "'nan'"]),
        (["--clip-norm", "big"], ["--clip-norm", "'big'"]),
        (["--clip-value", "0"], ["--clip-value", "'0'"]),
        (["--checkpoint-every", "1.5"], ["--checkpoint-every", "'1.5'"]),
        (["--seed", "-1"], ["--seed", "'-1'"]),
        (["--strategy", "tpu"], ["--strategy", "'tpu'"]),
    ],
)
def test_bad_flag_names_flag_and_value(argv, expected, capsys):
    err = parse_error(argv, capsys)
    for text in expected:
        assert text in err, err


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_toml_config_sets_values_and_command_line_wins(tmp_path):
    config = write(
        tmp_path / "run.toml",
        'epochs = 9\nbatch-size = 8\nclip_norm = "none"\nquiet = true\nunits = 12\n'
        'strategy = "mirrored"\nresume = false\n',
    )
    args = parse(["--config", str(config)])
    assert (args.epochs, args.batch_size, args.clip_norm, args.units) == (9, 8, None, 12)
    assert args.verbose == 0 and args.strategy == "mirrored" and args.resume is False
    # A flag wins whether it comes before or after --config.
    before = parse(["--epochs", "2", "--resume", f"--config={config}"])
    after = parse(["--config", str(config), "--epochs", "3", "--units", "5"])
    assert (before.epochs, before.resume, before.batch_size) == (2, True, 8)
    assert (after.epochs, after.units, after.batch_size) == (3, 5, 8)


def test_json_config_with_nulls(tmp_path):
    config = write(
        tmp_path / "run.json",
        json.dumps({"learning_rate": 0.05, "clip-value": 2, "clip-norm": None, "log-dir": None}),
    )
    args = parse(["--config", str(config)])
    assert args.learning_rate == 0.05 and args.clip_value == 2.0
    assert args.clip_norm is None and args.log_dir is None


def test_config_through_a_sub_command(tmp_path):
    """The dispatcher parses `train stock ...` with a sub-parser; the config must work there."""
    config = write(tmp_path / "c.toml", "epochs = 4\n")
    root = argparse.ArgumentParser(prog="keras-rnn")
    commands = root.add_subparsers(dest="_command", required=True)
    cli.add_arguments(commands.add_parser("stock"), StockConfig)
    args = root.parse_args(["stock", "--config", str(config), "--batch-size", "2"])
    config_ = cli.config_from_args(StockConfig, args)
    assert (config_.epochs, config_.batch_size) == (4, 2)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("unknown.toml", "epoch = 3\n", ["'epoch'", "unknown key", "epochs"]),
        ("value.toml", "epochs = 0\n", ["'epochs'", "'0'"]),
        ("float.json", '{"epochs": 2.5}', ["'epochs'", "'2.5'"]),
        ("bool.toml", "jit-compile = 1\n", ["'jit-compile'", "true or false"]),
        ("boolnum.toml", "epochs = true\n", ["'epochs'", "True"]),
        ("choice.toml", 'strategy = "tpu"\n', ["'strategy'", "'tpu'"]),
        ("null.json", '{"epochs": null}', ["'epochs'", "null"]),
        ("list.json", '{"seed": [1, 2]}', ["'seed'", "[1, 2]"]),
        ("self.toml", 'config = "x.toml"\n', ["'config'", "unknown key"]),
        ("broken.toml", "epochs = = 3\n", ["not valid TOML"]),
        ("broken.json", "{epochs: 3}", ["not valid JSON"]),
        ("array.json", "[1, 2]", ["expected a table"]),
        ("run.yaml", "epochs: 3\n", ["expected a .toml or .json"]),
    ],
)
def test_bad_config_is_named(tmp_path, capsys, name, text, expected):
    config = write(tmp_path / name, text)
    err = parse_error(["--config", str(config)], capsys)
    assert f"argument --config: {config}" in err, err
    for piece in expected:
        assert piece in err, err


def test_missing_config_file(tmp_path, capsys):
    missing = tmp_path / "nope.toml"
    err = parse_error(["--config", str(missing)], capsys)
    assert "cannot read" in err and f"argument --config: {missing}" in err


def test_load_config_reads_both_formats(tmp_path):
    assert load_config(write(tmp_path / "a.toml", "seed = 1\n")) == {"seed": 1}
    assert load_config(write(tmp_path / "a.json", '{"seed": 1}')) == {"seed": 1}


def test_module_does_not_import_tensorflow():
    """The flags are built before TensorFlow loads; these modules must stay free of it.

    The parent package is stubbed so that only the modules' own imports count.
    """
    code = (
        "import sys, types\n"
        f"pkg = types.ModuleType('keras_rnn'); pkg.__path__ = [{str(REPO / 'keras_rnn')!r}]\n"
        "sys.modules['keras_rnn'] = pkg\n"
        "import keras_rnn_cli.args, keras_rnn.predictors.cli\n"
        "import keras_rnn.predictors.stock.cli, keras_rnn.predictors.text.cli\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'tensorflow', 'keras'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize("config_class", [StockConfig, TextConfig])
def test_each_setting_has_one_name_as_flag_toml_key_and_api_argument(config_class, tmp_path):
    """Every config field with a flag: the parser has that flag (and no flag that is not a
    field), ``--config`` accepts the flag's name as a key, and the Python API takes the
    field's name; the value reaches the same field all three ways."""
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser, config_class)
    parser_flags = {
        option
        for action in parser._get_optional_actions()  # read-only use, in the test only
        for option in action.option_strings
        if option not in ("-h", "--help", "--config") and not option.startswith("--no-")
    }
    fields = cli.cli_fields(config_class)
    assert parser_flags == {flag_of(f) for f in fields}
    defaults = config_class()
    for f in fields:
        default = getattr(defaults, f.name)
        if str(f.type).startswith("bool") or f.metadata["const"] is not None:
            continue  # on/off flags: checked below
        value = _another_value(f, default, tmp_path)
        # settings that only make sense with another one
        needs = {"csv": "csv", "ticker": "yfinance", "length": "synthetic"}
        extra = {"source": needs[f.name]} if f.name in needs else {}
        key = flag_of(f)[2:]
        (tmp_path / "run.json").write_text(json.dumps({key: value, **extra}))
        extra_flags = [a for k, v in extra.items() for a in (f"--{k}", v)]
        from_file = parser.parse_args(["--config", str(tmp_path / "run.json")])
        from_flag = parser.parse_args([flag_of(f), str(value), *extra_flags])
        for args in (from_file, from_flag):
            made = cli.config_from_args(config_class, args)
            assert getattr(made, f.name) == value, (f.name, args)
        assert getattr(config_class(**{f.name: value, **extra}), f.name) == value
    on = cli.config_from_args(config_class, parser.parse_args(["--quiet", "--jit-compile"]))
    assert on.verbose == 0 and on.jit_compile is True
    assert config_class(verbose=0, jit_compile=True).verbose == 0


def _another_value(f, default, tmp_path):
    """A valid value of field ``f`` other than its default (and other than its preset)."""
    choices = f.metadata["choices"]
    if choices:
        return next(c for c in choices if c != default)
    kind = str(f.type).partition(" | ")[0]
    if f.name == "csv":
        (tmp_path / "prices.csv").write_text("Date,Close\n")
        return str(tmp_path / "prices.csv")
    if kind == "int":
        return {"vocab_size": 50, "window": 70}.get(f.name, 7)
    if kind == "float":
        return 0.25
    return "some/where"


def test_one_definition_of_each_default():
    """The presets only change fields that exist, to a value other than the field's."""
    for config_class in (StockConfig, TextConfig):
        fields = {f.name: f for f in cli.cli_fields(config_class)}
        for name, value in config_class.CLI_PRESET.items():
            assert name in fields and fields[name].default != value, (config_class, name)
