"""``keras-rnn train text``: train the next-token predictor and export a new model version.

Examples::

    keras-rnn train text                                    # quick, offline: char level, pydoc
    keras-rnn train text --level char --corpus tinyshakespeare.txt \\
        --seq-len 100 --units 512 --epochs 20 --output-dir runs/text
    keras-rnn train text --corpus tfds:tiny_shakespeare --data-dir ~/tensorflow_datasets

The flags are the fields of :class:`~keras_rnn.predictors.text.config.TextConfig` (the
Python API's quick run), with its ``CLI_PRESET`` defaults. No TensorFlow import at module
level: ``keras-rnn --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from keras_rnn.predictors import cli
from keras_rnn.predictors.repository import read_card
from keras_rnn.predictors.text.config import TextConfig

PROG = "keras-rnn train text"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    cli.add_arguments(parser, TextConfig)


def config_from_args(args: argparse.Namespace) -> TextConfig:
    """The run config of parsed flags (``CommandError`` naming a bad flag)."""
    return cli.config_from_args(TextConfig, args)


def run(args: argparse.Namespace) -> int:
    return cli.run(PROG, TextConfig, args, _pipeline, report=_report)


def _pipeline(config: TextConfig):
    from keras_rnn.predictors.text.train import TextPipeline  # TensorFlow: at run time only

    return TextPipeline(config)


def _report(path: Path) -> None:
    print(metrics_table(read_card(path) or {}))
    print(f"exported {path}")


def metrics_table(card: dict) -> str:
    """The validation cross-entropy and perplexity of the model and the baselines, as text."""
    model = card.get("model", {})
    name = f"{model.get('cell')} {model.get('layers')}x{model.get('units')} (ours)"
    rows = {name: card.get("metrics", {}).get("validation", {}), **card.get("baselines", {})}
    lines = [
        f"validation metrics, nats per {card.get('level', 'token')}:",
        f"  {'model':24s}{'cross-entropy':>15s}{'perplexity':>12s}",
    ]
    for row, metrics in rows.items():
        lines.append(
            f"  {row:24s}{metrics.get('cross_entropy', float('nan')):15.3f}"
            f"{metrics.get('perplexity', float('nan')):12.2f}"
        )
    return "\n".join(lines)
