"""The text predictor's run config: one field per setting, its default the quick run.

Field defaults are what ``train_and_export()`` uses without arguments: character level on
the offline default corpus, a one-layer LSTM of 256 units, 6 epochs (about a minute on two
CPU cores). ``keras-rnn train text`` changes only what :data:`TextConfig.CLI_PRESET` says.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from keras_rnn.data import LEVELS
from keras_rnn.predictors.config import CELLS, ConfigError, RunConfig, same, setting
from keras_rnn_cli.args import fraction, positive_int, vocab_size

# Filled in when a config is made, when left None: they depend on other fields.
WORD_VOCAB_SIZE = 4000
PREFIX_WINDOWS = 8  # max_prefix_tokens = 8 * seq_len
GENERATE_TOKENS = {"word": 100, "char": 500}

# What shapes the model and the data: a checkpoint of one run never resumes another.
RUN_KEY_FIELDS = (
    "corpus",
    "max_chars",
    "level",
    "vocab_size",
    "num_oov_indices",
    "seq_len",
    "stride",
    "val_fraction",
    "cell",
    "units",
    "layers",
    "embedding_dim",
)


@dataclass
class TextConfig(RunConfig):
    """Everything a text run depends on (corpus, tokens, model, training, export)."""

    CLI_PRESET: ClassVar[dict[str, Any]] = {"corpus": "pydoc", "output_dir": "runs/text"}

    corpus: str | None = setting(
        None,
        group="data",
        metavar="SOURCE",
        help="'pydoc' (offline default: the prose of Python's language reference), "
        "'tfds:NAME[:FEATURE]' (tensorflow-datasets), or a text file / directory of *.txt",
    )
    data_dir: str | None = setting(
        None, group="data", metavar="DIR", help="tensorflow-datasets data_dir"
    )
    download: bool = setting(
        False,
        group="data",
        help="let tensorflow-datasets download and prepare a tfds: corpus (needs network); "
        "without it an unprepared dataset fails at once",
    )
    max_chars: int | None = setting(
        None,
        positive_int,
        group="data",
        metavar="N",
        help="use only the first N characters of the corpus",
    )
    level: str = setting(
        "char", choices=LEVELS, group="data", help="tokens are words or characters"
    )
    vocab_size: int | None = setting(
        None,
        vocab_size,
        group="data",
        metavar="N",
        help=f"ids including the OOV bucket; default: {WORD_VOCAB_SIZE} (word), every "
        "character seen (char)",
    )
    num_oov_indices: int = setting(
        1, positive_int, flag="--num-oov", group="data", metavar="N", help="OOV buckets"
    )
    seq_len: int = setting(
        64, positive_int, group="data", metavar="T", help="tokens per training window"
    )
    stride: int | None = setting(
        None,
        positive_int,
        group="data",
        metavar="N",
        help="tokens between window starts; default: --seq-len (windows tile the text)",
    )
    val_fraction: float = setting(
        0.1, fraction, group="data", metavar="F", help="the last F of the text validates"
    )
    cell: str = setting("lstm", choices=CELLS, group="model", help="the recurrent cell")
    units: int = setting(256, positive_int, group="model", help="hidden units per layer")
    layers: int = setting(1, positive_int, group="model", help="stacked recurrent layers")
    embedding_dim: int = setting(32, positive_int, group="model", help="embedding width")
    epochs: int = same("epochs", 6)
    learning_rate: float = same("learning_rate", 5e-3)
    max_prefix_tokens: int | None = setting(
        None,
        positive_int,
        group="output",
        metavar="N",
        help=f"exported model keeps the last N prefix tokens; default: {PREFIX_WINDOWS} x "
        "--seq-len",
    )
    max_generate_tokens: int | None = setting(
        None,
        positive_int,
        group="output",
        metavar="N",
        help="cap on generated tokens; default: "
        + ", ".join(f"{n} ({level})" for level, n in GENERATE_TOKENS.items()),
    )
    output_dir: str | None = same(
        "output_dir",
        None,
        help="TensorBoard logs and checkpoints go to DIR/<run hash>/ unless --log-dir / "
        "--checkpoint-dir say otherwise",
    )
    name: str = same("name", "text")

    def check(self) -> None:
        super().check()
        if self.vocab_size is None and self.level == "word":
            self.vocab_size = WORD_VOCAB_SIZE
        if self.max_prefix_tokens is None:
            self.max_prefix_tokens = PREFIX_WINDOWS * self.seq_len
        if self.max_generate_tokens is None:
            self.max_generate_tokens = GENERATE_TOKENS[self.level]
        if self.vocab_size is not None and self.vocab_size <= self.num_oov_indices:
            raise ConfigError(
                "vocab_size",
                self.vocab_size,
                f"must exceed `num_oov_indices` ({self.num_oov_indices})",
            )

    def run_key(self) -> str:
        """A short hash of what shapes the model and data: checkpoints of one run never
        resume another."""
        blob = json.dumps({k: getattr(self, k) for k in RUN_KEY_FIELDS}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]


TextOptions = TextConfig  # the name older code imports
