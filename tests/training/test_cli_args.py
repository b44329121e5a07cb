"""The shared training flags and ``--config FILE``: values, precedence and bad input."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from keras_rnn.training.cli_args import (
    add_training_arguments,
    load_config,
    trainer_options_from_args,
)

REPO = Path(__file__).resolve().parents[2]


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keras-rnn train stock")
    parser.add_argument("--units", type=int, default=64)  # a command's own flag
    add_training_arguments(parser, epochs=5, batch_size=32)
    return parser


def parse(argv: list[str]) -> argparse.Namespace:
    return make_parser().parse_args(argv)


def parse_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        parse(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


def test_defaults_give_trainer_options():
    args = parse([])
    assert (args.epochs, args.batch_size, args.learning_rate) == (5, 32, 1e-3)
    assert trainer_options_from_args(args) == {
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
        "mixed_precision": False,
        "strategy": "default",
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
    options = trainer_options_from_args(args)
    assert (args.epochs, args.batch_size, args.learning_rate) == (7, 16, 0.01)
    assert options["clip_norm"] is None and options["clip_value"] == 0.5
    assert options["checkpoint_dir"] == str(tmp_path) and options["checkpoint_every"] == 10
    assert options["resume"] is False and options["seed"] == 3
    assert options["jit_compile"] and options["mixed_precision"] and options["deterministic"]
    assert options["strategy"] == "mirrored" and options["verbose"] == 0


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
    assert args.quiet is True and args.strategy == "mirrored" and args.resume is False
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
    commands = root.add_subparsers(dest="command", required=True)
    add_training_arguments(commands.add_parser("stock"))
    args = root.parse_args(["stock", "--config", str(config), "--batch-size", "2"])
    assert (args.epochs, args.batch_size) == (4, 2)


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
    assert f"--config {config}" in err, err
    for piece in expected:
        assert piece in err, err


def test_missing_config_file(tmp_path, capsys):
    missing = tmp_path / "nope.toml"
    err = parse_error(["--config", str(missing)], capsys)
    assert "cannot read" in err and f"--config {missing}" in err


def test_load_config_reads_both_formats(tmp_path):
    assert load_config(write(tmp_path / "a.toml", "seed = 1\n")) == {"seed": 1}
    assert load_config(write(tmp_path / "a.json", '{"seed": 1}')) == {"seed": 1}


def test_module_does_not_import_tensorflow():
    """`keras-rnn --help` imports cli_args; it must stay free of TensorFlow.

    The parent package is stubbed so that only this module's own imports count.
    """
    code = (
        "import sys, types\n"
        f"pkg = types.ModuleType('keras_rnn'); pkg.__path__ = [{str(REPO / 'keras_rnn')!r}]\n"
        "sys.modules['keras_rnn'] = pkg\n"
        "import keras_rnn.training.cli_args\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'tensorflow', 'keras'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
