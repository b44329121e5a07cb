"""`keras-rnn train text`: flags, errors (exit code 2, naming the flag and the value), a run."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from keras_rnn.predictors import repository
from keras_rnn.predictors.text import cli


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="keras-rnn train text")
    cli.add_arguments(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize(
    ("argv", "flag", "value"),
    [
        (["--level", "sentence"], "--level", "'sentence'"),
        (["--units", "0"], "--units", "'0'"),
        (["--cell", "tanh"], "--cell", "'tanh'"),
        (["--val-fraction", "1.5"], "--val-fraction", "'1.5'"),
        (["--vocab-size", "1"], "--vocab-size", "'1'"),
        (["--seq-len", "ten"], "--seq-len", "'ten'"),
        (["--epochs", "-1"], "--epochs", "'-1'"),
    ],
)
def test_bad_flags_exit_2_naming_flag_and_value(argv, flag, value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _parse(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert flag in err and value in err


def test_defaults_are_the_quick_offline_run():
    config = cli.config_from_args(_parse([]))
    assert config.corpus == "pydoc" and config.level == "char"
    assert config.seq_len == 64 and config.epochs == 6
    assert config.model_dir == "models" and config.output_dir == "runs/text"
    assert config.clip_norm == 1.0


def test_missing_corpus_and_offline_tfds_fail_with_exit_2(tmp_path, capsys):
    code = cli.run(_parse(["--corpus", str(tmp_path / "nope.txt"), "--model-dir", str(tmp_path)]))
    assert code == 2
    assert "--corpus" in capsys.readouterr().err
    code = cli.run(
        _parse(
            [
                "--corpus",
                "tfds:tiny_shakespeare",
                "--data-dir",
                str(tmp_path),
                "--model-dir",
                str(tmp_path),
            ]
        )
    )
    err = capsys.readouterr().err
    assert code == 2 and "'tfds:tiny_shakespeare'" in err and "not prepared" in err
    assert repository.list_versions(tmp_path, "text") == []


def test_seq_len_longer_than_the_text_is_an_error_not_a_crash(tmp_path, capsys):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("a b c d e f g h i j k l")
    code = cli.run(
        _parse(["--corpus", str(corpus), "--seq-len", "32", "--model-dir", str(tmp_path / "m")])
    )
    assert code == 2 and "--seq-len" in capsys.readouterr().err


def test_a_tiny_run_exports_a_version_with_logs(corpus_file, tmp_path):
    argv = [
        "--corpus", str(corpus_file), "--level", "char", "--seq-len", "16", "--units", "8",
        "--embedding-dim", "4", "--epochs", "1", "--batch-size", "64", "--cell", "gru",
        "--model-dir", str(tmp_path / "models"), "--output-dir", str(tmp_path / "runs"),
        "--seed", "1", "--quiet",
    ]  # fmt: skip
    assert cli.run(_parse(argv)) == 0
    card = repository.read_card(tmp_path / "models" / "text" / "1")
    assert card["level"] == "char" and card["model"]["cell"] == "gru"
    assert card["max_prefix_tokens"] == 128 and card["max_generate_tokens"] == 500
    logs = list((tmp_path / "runs").rglob("*tfevents*"))
    assert logs, "TensorBoard event files were not written under --output-dir"
    checkpoints = [p for p in (tmp_path / "runs").rglob("*") if p.parent.name == "checkpoints"]
    assert checkpoints, "no checkpoint was written under --output-dir"


def test_the_cli_module_does_not_import_tensorflow():
    # `import keras_rnn` loads TensorFlow to register the layers with Keras; stub the parent
    # package so that only this module's own imports count.
    pkg = str(Path(__file__).resolve().parents[3] / "keras_rnn")
    code = (
        "import sys, types\n"
        f"pkg = types.ModuleType('keras_rnn'); pkg.__path__ = [{pkg!r}]\n"
        "sys.modules['keras_rnn'] = pkg\n"
        "import keras_rnn.predictors.text.cli; print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
