"""The `keras-rnn` dispatcher: every command is reachable, bad input exits 2 naming the flag."""

from __future__ import annotations

import subprocess
import sys
import textwrap

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


def test_a_commands_warning_is_one_line_without_source(tmp_path):
    """A warning during a command (e.g. a damaged checkpoint skipped) reads as one line, not
    as Python's two (file:line: category, then the source line that warned). A fresh process:
    pytest records warnings instead of printing them."""
    code = textwrap.dedent(
        """
        import sys, types, warnings
        import keras_rnn_cli

        def run(args):
            warnings.warn("checkpoint ckpt-6 is damaged; falling back", RuntimeWarning)
            return 0

        command = types.SimpleNamespace(add_arguments=lambda parser: None, run=run)
        keras_rnn_cli._load = lambda name: command
        code = keras_rnn_cli.main(["demo"])
        assert warnings.formatwarning is not keras_rnn_cli._one_line_warning  # put back
        sys.exit(code)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "keras-rnn: warning: checkpoint ckpt-6 is damaged; falling back\n"
