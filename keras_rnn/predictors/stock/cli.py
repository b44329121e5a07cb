"""``keras-rnn train stock``: train the price predictor, compare it with baselines, export it.

Examples::

    keras-rnn train stock                                 # S&P 500 1999-2018, offline
    keras-rnn train stock --source statland --target prices --cell gru
    keras-rnn train stock --source csv --csv prices.csv --horizon 5

This module does not import TensorFlow at import time; ``run`` does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from keras_rnn.data.stock.scaling import TARGETS
from keras_rnn.data.stock.sources import SOURCES
from keras_rnn.predictors.stock.build import CELLS
from keras_rnn.training.cli_args import (
    add_training_arguments,
    check_training_args,
    configure_runtime,
    positive_int,
    trainer_options_from_args,
)

PROG = "keras-rnn train stock"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument(
        "--source",
        choices=SOURCES,
        default="sp500",
        help="sp500/nasdaq: daily closes 1999-2018 shipped in the package (Yahoo Finance via `arch`, offline); "
        "csv: --csv PATH; yfinance: --ticker, online (pip install 'keras-rnn[online]'); "
        "statland/synthetic: generated. Default: %(default)s",
    )
    data.add_argument("--csv", metavar="PATH", help="CSV file with date and close columns")
    data.add_argument("--ticker", help="symbol for --source yfinance, e.g. AAPL")
    data.add_argument(
        "--days",
        type=positive_int,
        default=None,
        help="length of the generated series (statland, synthetic); default: 1500",
    )
    model = parser.add_argument_group("model")
    model.add_argument("--cell", choices=CELLS, default="lstm", help="default: %(default)s")
    model.add_argument("--units", type=positive_int, default=32, help="default: %(default)s")
    model.add_argument(
        "--layers",
        type=positive_int,
        default=1,
        help="stacked recurrent layers; default: %(default)s",
    )
    model.add_argument(
        "--window",
        type=positive_int,
        default=60,
        help="longest input window in days (validation/test windows have this length); "
        "default: %(default)s",
    )
    model.add_argument(
        "--min-window",
        type=positive_int,
        default=10,
        help="shortest training window; lengths are drawn from [min, window]; default: %(default)s",
    )
    model.add_argument(
        "--horizon", type=positive_int, default=1, help="days ahead forecast; default: %(default)s"
    )
    model.add_argument(
        "--target",
        choices=TARGETS,
        default="returns",
        help="what the net predicts: scaled log returns or standardised prices; "
        "default: %(default)s",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--model-dir", default="models", help="model repository root; default: %(default)s"
    )
    out.add_argument(
        "--output-dir",
        default="outputs/stock",
        help="plots, metrics JSON and (unless --log-dir) TensorBoard logs; default: %(default)s",
    )
    add_training_arguments(parser, epochs=10, batch_size=64, learning_rate=2e-3)


def _check(args: argparse.Namespace) -> str | None:
    """Cross-flag problems argparse cannot see; the message names the flag and the value."""
    if args.min_window > args.window:
        return (
            f"argument --min-window: expected at most --window ({args.window}), "
            f"got {args.min_window}"
        )
    if args.source == "csv" and not args.csv:
        return "argument --csv: required with --source csv (a file with date and close columns)"
    if args.csv and args.source != "csv":
        return f"argument --csv: only used with --source csv, got --source {args.source}"
    if args.source == "yfinance" and not args.ticker:
        return "argument --ticker: required with --source yfinance (e.g. --ticker AAPL)"
    if args.ticker and args.source != "yfinance":
        return f"argument --ticker: only used with --source yfinance, got --source {args.source}"
    if args.csv and not Path(args.csv).is_file():
        return f"argument --csv: no such file {args.csv!r}"
    if args.days is not None and args.source not in ("statland", "synthetic"):
        return f"argument --days: only used with --source statland/synthetic, got {args.source}"
    return check_training_args(
        args, {"--model-dir": args.model_dir, "--output-dir": args.output_dir}
    )


def run(args: argparse.Namespace) -> int:
    problem = _check(args)
    if problem:
        return _fail(problem)

    from keras_rnn.data.stock import DataError, load_series
    from keras_rnn.predictors.repository import remove_orphans
    from keras_rnn.predictors.stock.train import train_and_export
    from keras_rnn.training.checkpoints import CheckpointError

    configure_runtime(args)  # the strategy before any TensorFlow op, then the seeds
    remove_orphans(args.model_dir, "stock")  # what an export killed earlier left
    try:
        series = load_series(
            args.source, csv=args.csv, ticker=args.ticker, seed=args.seed or 0, length=args.days
        )
    except DataError as err:
        flag = {"csv": "--csv", "yfinance": "--ticker"}.get(args.source, "--source")
        value = {"--csv": args.csv, "--ticker": args.ticker}.get(flag, args.source)
        return _fail(f"argument {flag} {value!r}: {err}")
    try:
        train_and_export(
            model_dir=args.model_dir,
            output_dir=args.output_dir,
            series=series,
            source=args.source,
            cell=args.cell,
            units=args.units,
            layers=args.layers,
            window=args.window,
            min_window=args.min_window,
            horizon=args.horizon,
            target=args.target,
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            seed=args.seed,
            trainer_options=trainer_options_from_args(args),
        )
    except DataError as err:  # e.g. a series too short for --window/--horizon
        return _fail(f"argument --window {args.window}: {err}")
    except CheckpointError as err:  # damaged, or written by another model shape
        return _fail(f"argument --checkpoint-dir {args.checkpoint_dir!r}: {err}")
    return 0


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2
