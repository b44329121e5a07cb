"""``keras-rnn train stock``: bad flags exit 2 naming flag and value; a tiny run exports."""

from __future__ import annotations

import json

import pytest

from keras_rnn.cli import main


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--units", "0"], "argument --units: expected a positive integer, got '0'"),
        (["--cell", "transformer"], "argument --cell: invalid choice: 'transformer'"),
        (["--source", "bitcoin"], "argument --source: invalid choice: 'bitcoin'"),
        (["--target", "volume"], "argument --target: invalid choice: 'volume'"),
        (
            ["--window", "5", "--min-window", "9"],
            "argument --min-window: expected at most --window (5), got 9",
        ),
        (["--source", "csv"], "argument --csv: required with --source csv"),
        (["--csv", "x.csv"], "argument --csv: only used with --source csv"),
        (
            ["--source", "csv", "--csv", "/nonexistent.csv"],
            "argument --csv: no such file '/nonexistent.csv'",
        ),
        (["--source", "yfinance"], "argument --ticker: required with --source yfinance"),
        (["--days", "50"], "argument --days: only used with --source statland/synthetic"),
        (["--epochs", "-1"], "argument --epochs: expected a positive integer, got '-1'"),
    ],
)
def test_bad_flags_exit_2_naming_flag_and_value(argv, expected, capsys):
    try:
        code = main(["train", "stock", *argv])
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    assert expected in capsys.readouterr().err


def test_malformed_csv_is_reported_with_the_flag(tmp_path, capsys):
    bad = tmp_path / "prices.csv"
    bad.write_text("Date,Close\n2020-01-03,1\n2020-01-02,2\n")
    code = main(["train", "stock", "--source", "csv", "--csv", str(bad)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"argument --csv '{bad}'" in err and "not in ascending order" in err


def test_too_short_series_for_the_window(tmp_path, capsys):
    code = main(
        [
            "train",
            "stock",
            "--source",
            "synthetic",
            "--days",
            "12",
            "--window",
            "30",
            "--model-dir",
            str(tmp_path / "m"),
            "--output-dir",
            str(tmp_path / "o"),
            "--quiet",
        ]
    )
    assert code == 2
    assert "argument --window 30" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_tiny_run_exports_a_version_with_card_plots_and_logs(tmp_path, capsys):
    csv = tmp_path / "prices.csv"
    import numpy as np

    from keras_rnn.data.stock import synthetic

    series = synthetic(260, seed=5)
    rows = "\n".join(f"{d},{c:.4f}" for d, c in zip(series.dates, series.close, strict=True))
    csv.write_text("Date,Close\n" + rows + "\n")
    argv = [
        "train",
        "stock",
        "--source",
        "csv",
        "--csv",
        str(csv),
        "--cell",
        "simple_rnn",
        "--units",
        "4",
        "--window",
        "8",
        "--min-window",
        "3",
        "--horizon",
        "2",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--seed",
        "1",
        "--quiet",
        "--model-dir",
        str(tmp_path / "models"),
        "--output-dir",
        str(tmp_path / "out"),
    ]
    assert main(argv) == 0
    version = tmp_path / "models" / "stock" / "1"
    card = json.loads((version / "model_card.json").read_text())
    assert card["model"]["cell"] == "simple_rnn" and card["horizon"] == 2
    assert card["data"]["source"].startswith("CSV file") and card["data"]["rows"] == 260
    assert card["training"]["trainer"]["seed"] == 1
    for name in ("forecast.png", "training.png", "metrics.json", "metrics.txt"):
        assert (tmp_path / "out" / name).is_file()
    assert list((tmp_path / "out" / "logs").rglob("events.out.tfevents*"))
    assert np.isfinite(card["metrics"]["test"]["rmse"])
    assert f"exported {version}" in capsys.readouterr().out
