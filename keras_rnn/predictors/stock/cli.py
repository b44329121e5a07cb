"""``keras-rnn train stock``: train the price predictor, compare it with baselines, export it.

Examples::

    keras-rnn train stock                                 # S&P 500 1999-2018, offline
    keras-rnn train stock --source statland --target prices --cell gru
    keras-rnn train stock --source csv --csv prices.csv --horizon 5
    keras-rnn train stock --config run.toml --epochs 3    # the file's settings, 3 epochs

The flags are the fields of :class:`~keras_rnn.predictors.stock.config.StockConfig`, with
its ``CLI_PRESET`` defaults (a bigger run than the Python API's quick one).
This module does not import TensorFlow at import time; ``run`` does.
"""

from __future__ import annotations

import argparse

from keras_rnn.predictors import cli
from keras_rnn.predictors.stock.config import StockConfig

PROG = "keras-rnn train stock"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    cli.add_arguments(parser, StockConfig)


def run(args: argparse.Namespace) -> int:
    return cli.run(PROG, StockConfig, args, _pipeline)


def _pipeline(config: StockConfig):
    from keras_rnn.predictors.stock.train import StockPipeline  # TensorFlow: at run time only

    return StockPipeline(config)
