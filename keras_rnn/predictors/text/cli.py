"""``keras-rnn train text``: train the next-token predictor and export a new model version.

Examples::

    keras-rnn train text                                    # quick, offline: char level, pydoc
    keras-rnn train text --level char --corpus tinyshakespeare.txt \\
        --seq-len 100 --units 512 --epochs 20 --output-dir runs/text
    keras-rnn train text --corpus tfds:tiny_shakespeare --data-dir ~/tensorflow_datasets

No TensorFlow import at module level: ``keras-rnn --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys

from keras_rnn.predictors.text.train import TextOptions
from keras_rnn.training.cli_args import (
    add_training_arguments,
    positive_int,
    trainer_options_from_args,
)

DEFAULTS = TextOptions()  # one source of truth for the QUICK defaults
CELL_CHOICES = ("lstm", "gru", "simple_rnn")
LEVEL_CHOICES = ("char", "word")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number between 0 and 1, got {text!r}"
        ) from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value


def _vocab_size(text: str) -> int:
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(
            f"expected an integer >= 2 (OOV + one token), got {text!r}"
        )
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument(
        "--corpus",
        default="pydoc",
        metavar="SOURCE",
        help="'pydoc' (offline default: the prose of Python's language reference), "
        "'tfds:NAME[:FEATURE]' (tensorflow-datasets), or a text file / directory of *.txt; "
        "default: %(default)s",
    )
    data.add_argument(
        "--data-dir", metavar="DIR", default=None, help="tensorflow-datasets data_dir"
    )
    data.add_argument(
        "--download",
        action="store_true",
        help="let tensorflow-datasets download and prepare a tfds: corpus (needs network); "
        "without it an unprepared dataset fails at once",
    )
    data.add_argument(
        "--max-chars",
        type=positive_int,
        default=None,
        metavar="N",
        help="use only the first N characters of the corpus",
    )
    data.add_argument(
        "--level",
        choices=LEVEL_CHOICES,
        default=DEFAULTS.level,
        help="tokens are words or characters; default: %(default)s",
    )
    data.add_argument(
        "--vocab-size",
        type=_vocab_size,
        default=None,
        metavar="N",
        help="ids including the OOV bucket; default: 4000 (word), every character seen (char)",
    )
    data.add_argument(
        "--num-oov",
        type=positive_int,
        default=1,
        metavar="N",
        help="OOV buckets; default: %(default)s",
    )
    data.add_argument(
        "--seq-len",
        type=positive_int,
        default=DEFAULTS.seq_len,
        metavar="T",
        help="tokens per training window; default: %(default)s",
    )
    data.add_argument(
        "--val-fraction",
        type=_fraction,
        default=DEFAULTS.val_fraction,
        metavar="F",
        help="the last F of the text validates; default: %(default)s",
    )

    model = parser.add_argument_group("model")
    model.add_argument(
        "--cell", choices=CELL_CHOICES, default=DEFAULTS.cell, help="default: %(default)s"
    )
    model.add_argument(
        "--units", type=positive_int, default=DEFAULTS.units, help="default: %(default)s"
    )
    model.add_argument(
        "--layers",
        type=positive_int,
        default=DEFAULTS.layers,
        help="stacked recurrent layers; default: %(default)s",
    )
    model.add_argument(
        "--embedding-dim",
        type=positive_int,
        default=DEFAULTS.embedding_dim,
        help="default: %(default)s",
    )

    out = parser.add_argument_group("export")
    out.add_argument(
        "--model-dir",
        default="models",
        metavar="DIR",
        help="model repository root; default: %(default)s",
    )
    out.add_argument(
        "--output-dir",
        default="runs/text",
        metavar="DIR",
        help="TensorBoard logs and checkpoints go to DIR/<run hash>/ unless --log-dir / "
        "--checkpoint-dir say otherwise; default: %(default)s",
    )
    out.add_argument(
        "--max-prefix-tokens",
        type=positive_int,
        default=None,
        metavar="N",
        help="exported model keeps the last N prefix tokens; default: 8 x --seq-len",
    )
    out.add_argument(
        "--max-generate-tokens",
        type=positive_int,
        default=None,
        metavar="N",
        help="cap on generated tokens; default: 100 (word), 500 (char)",
    )

    add_training_arguments(
        parser,
        epochs=DEFAULTS.epochs,
        batch_size=DEFAULTS.batch_size,
        learning_rate=DEFAULTS.learning_rate,
    )


def options_from_args(args: argparse.Namespace) -> dict:
    """The :func:`~keras_rnn.predictors.text.train_and_export` keyword arguments of ``args``."""
    trainer = trainer_options_from_args(args)
    return {
        "corpus": args.corpus,
        "data_dir": args.data_dir,
        "download": args.download,
        "max_chars": args.max_chars,
        "level": args.level,
        "vocab_size": args.vocab_size,
        "num_oov_indices": args.num_oov,
        "seq_len": args.seq_len,
        "val_fraction": args.val_fraction,
        "cell": args.cell,
        "units": args.units,
        "layers": args.layers,
        "embedding_dim": args.embedding_dim,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "max_prefix_tokens": args.max_prefix_tokens,
        "max_generate_tokens": args.max_generate_tokens,
        "model_dir": args.model_dir,
        "output_dir": args.output_dir,
        "trainer": trainer,
    }


def _fail(flag: str, value: object, message: str) -> int:
    print(f"keras-rnn train text: error: {flag} {value!r}: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from keras_rnn.data.text import CorpusError
    from keras_rnn.predictors.repository import read_card, remove_orphans
    from keras_rnn.predictors.text.train import train_and_export
    from keras_rnn.training.checkpoints import CheckpointError
    from keras_rnn.training.cli_args import check_training_args, configure_runtime

    options = options_from_args(args)
    if args.vocab_size is not None and args.vocab_size <= args.num_oov:
        return _fail("--vocab-size", args.vocab_size, f"must exceed --num-oov ({args.num_oov})")
    problem = check_training_args(
        args, {"--model-dir": args.model_dir, "--output-dir": args.output_dir}
    )
    if problem:
        print(f"keras-rnn train text: error: {problem}", file=sys.stderr)
        return 2
    configure_runtime(args)
    remove_orphans(args.model_dir, "text")  # what an export killed earlier left
    try:
        path = train_and_export(**options)
    except CorpusError as err:
        return _fail("--corpus", args.corpus, str(err))
    except CheckpointError as err:  # damaged, or written by another model shape
        where = args.checkpoint_dir or f"{args.output_dir}/<run>/checkpoints"
        return _fail("--checkpoint-dir", where, str(err))
    except ValueError as err:  # settings that do not fit the data, e.g. --seq-len > the text
        print(f"keras-rnn train text: error: {err}", file=sys.stderr)
        return 2
    if path is not None:
        print(metrics_table(read_card(path) or {}))
        print(f"exported {path}")
    return 0


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
