"""``keras-rnn train stock`` refuses bad paths and states with exit 2 and one line naming the
flag and the value, before training starts (issue 13): never a traceback."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from keras_rnn.cli import main

TINY = [
    "train", "stock", "--source", "synthetic", "--days", "200", "--units", "4", "--window", "8",
    "--min-window", "4", "--batch-size", "64", "--epochs", "1", "--seed", "0", "--quiet",
]  # fmt: skip


def tiny(tmp_path: Path, *extra: str) -> list[str]:
    return [
        *TINY,
        "--model-dir", str(tmp_path / "models"), "--output-dir", str(tmp_path / "out"),
        *extra,
    ]  # fmt: skip


def refused(capsys, argv: list[str], *expected: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("flag", ["--checkpoint-dir", "--log-dir", "--model-dir", "--output-dir"])
def test_a_directory_flag_pointing_at_a_file(tmp_path, capsys, flag):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    refused(capsys, [*tiny(tmp_path), flag, str(a_file)], f"argument {flag}", repr(str(a_file)))
    below = a_file / "sub"
    refused(capsys, [*tiny(tmp_path), flag, str(below)], f"argument {flag}", "a file")


def test_a_read_only_checkpoint_dir(tmp_path, capsys, monkeypatch):
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        if os.geteuid() == 0:  # root writes anywhere: make the probe see what a user would
            import tempfile

            real = tempfile.TemporaryFile

            def no_write(*args, dir=None, **kwargs):
                if dir is not None and Path(dir) == read_only:
                    raise PermissionError(13, "Permission denied")
                return real(*args, dir=dir, **kwargs)

            monkeypatch.setattr(tempfile, "TemporaryFile", no_write)
        line = refused(
            capsys,
            [*tiny(tmp_path), "--checkpoint-dir", str(read_only / "ckpt")],
            "argument --checkpoint-dir",
            "cannot write",
        )
        assert "Permission denied" in line
    finally:
        read_only.chmod(stat.S_IRWXU)


def test_deterministic_needs_a_seed(tmp_path, capsys):
    argv = [a for a in tiny(tmp_path, "--deterministic") if a not in ("--seed", "0")]
    refused(capsys, argv, "argument --deterministic", "--seed")


def test_no_resume_on_a_directory_with_checkpoints_says_what_to_do(tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "ckpt-12.index").write_bytes(b"")
    refused(
        capsys,
        tiny(tmp_path, "--checkpoint-dir", str(ckpt), "--no-resume"),
        "argument --no-resume",
        repr(str(ckpt)),
        "ckpt-12",
        "drop --no-resume",
    )


def test_a_series_too_short_is_refused_before_training(tmp_path, capsys):
    csv = tmp_path / "eleven.csv"
    rows = [f"2020-01-{i + 1:02d},{100 + i * 0.5}" for i in range(11)]
    csv.write_text("date,close\n" + "\n".join(rows) + "\n")
    argv = [
        "train", "stock", "--source", "csv", "--csv", str(csv), "--window", "20",
        "--min-window", "2", "--units", "4", "--epochs", "1", "--quiet",
        "--model-dir", str(tmp_path / "models"), "--output-dir", str(tmp_path / "out"),
        "--checkpoint-dir", str(tmp_path / "ckpt"),
    ]  # fmt: skip
    refused(capsys, argv, "argument --window 20", "AR(5)")
    assert not (tmp_path / "ckpt").exists()  # nothing trained


@pytest.fixture
def trained(tmp_path, capsys) -> Path:
    """A checkpoint directory of one finished tiny run (--units 4, one epoch)."""
    ckpt = tmp_path / "ckpt"
    assert main(tiny(tmp_path, "--checkpoint-dir", str(ckpt))) == 0
    capsys.readouterr()
    return ckpt


def test_resuming_with_another_model_shape_is_refused(tmp_path, capsys, trained):
    refused(
        capsys,
        [*tiny(tmp_path, "--checkpoint-dir", str(trained)), "--units", "16"],
        "argument --checkpoint-dir",
        repr(str(trained)),
        "does not match the model",
    )


@pytest.mark.slow
def test_a_garbage_list_file_then_every_checkpoint_damaged(tmp_path, capsys, trained):
    """A garbage `checkpoint` list file is ignored and rewritten; when every checkpoint is
    damaged, every start is refused until --no-resume."""
    import tensorflow as tf

    (trained / "checkpoint").write_bytes(b"\xff\xfe\x00garbage")
    assert main([*tiny(tmp_path, "--checkpoint-dir", str(trained)), "--epochs", "2"]) == 0
    capsys.readouterr()
    assert tf.train.latest_checkpoint(str(trained)) is not None

    for data in trained.glob("ckpt-*.data-*"):
        data.write_bytes(b"")
    again = [*tiny(tmp_path, "--checkpoint-dir", str(trained)), "--epochs", "2"]
    with pytest.warns(RuntimeWarning):
        refused(capsys, again, "argument --checkpoint-dir", "--no-resume")
    refused(capsys, again, "argument --checkpoint-dir", "--no-resume")  # and again
    assert main([*tiny(tmp_path, "--checkpoint-dir", str(trained)), "--no-resume"]) == 0
    assert (trained / "corrupt").is_dir()
    assert main([*tiny(tmp_path, "--checkpoint-dir", str(trained)), "--restart"]) == 0
    assert not (trained / "corrupt").exists()
