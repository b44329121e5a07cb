"""The `keras-rnn` dispatcher: every command is reachable, bad input exits 2 naming the flag."""

from __future__ import annotations

import subprocess
import sys

import pytest

from keras_rnn import cli


def test_every_command_has_help(capsys):
    for path in cli.COMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            cli.main([*path, "--help"])
        assert exit_info.value.code == 0
        assert "usage: keras-rnn " + " ".join(path) in capsys.readouterr().out


def test_top_level_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for name in ("train", "tutorial", "serve", "demo"):
        assert name in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([], "required"),
        (["fly"], "invalid choice: 'fly'"),
        (["train"], "required"),
        (["train", "weather"], "invalid choice: 'weather'"),
        (["demo", "--port", "many"], "--port"),
    ],
)
def test_bad_commands_exit_2_and_say_why(capsys, argv, needle):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert needle in capsys.readouterr().err


def test_demo_rejects_out_of_range_port(capsys):
    assert cli.main(["demo", "--port", "70000", "--skip-training"]) == 2
    assert "--port" in capsys.readouterr().err


def test_console_script_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "keras_rnn.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("keras-rnn ")
