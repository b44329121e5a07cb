"""``keras-rnn train text`` refuses bad paths and states before training: exit 2, one line
naming the flag and the value (the checks it shares with ``train stock``; issue 13)."""

from __future__ import annotations

import pytest

from keras_rnn.cli import main


def tiny(tmp_path, *extra: str) -> list[str]:
    return [
        "train", "text", "--max-chars", "2000", "--units", "4", "--epochs", "1", "--quiet",
        "--model-dir", str(tmp_path / "models"), "--output-dir", str(tmp_path / "out"), *extra,
    ]  # fmt: skip


@pytest.mark.parametrize("flag", ["--checkpoint-dir", "--log-dir", "--model-dir"])
def test_a_directory_flag_pointing_at_a_file(tmp_path, capsys, flag):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    assert main(tiny(tmp_path, flag, str(a_file))) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and f"argument {flag} {str(a_file)!r}" in lines[0], lines


def test_deterministic_without_seed_and_no_resume_over_checkpoints(tmp_path, capsys):
    assert main(tiny(tmp_path, "--deterministic")) == 2
    assert "argument --deterministic" in capsys.readouterr().err
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "ckpt-3.index").write_bytes(b"")
    assert main(tiny(tmp_path, "--checkpoint-dir", str(ckpt), "--no-resume")) == 2
    err = capsys.readouterr().err
    assert "argument --no-resume" in err and "ckpt-3" in err and len(err.splitlines()) == 1
