"""The text predictor end to end: corpus -> tokens -> windows -> train -> evaluate -> export.

:func:`train_and_export` is what ``keras-rnn train text`` and the demo call. Its defaults are
the QUICK run: character level on the offline default corpus (the prose of the Python
language reference), a one-layer LSTM of 256 units, 6 epochs: about a minute on two CPU cores,
well below both baselines. (At word level that corpus, 42,000 training words, is too small for
the LSTM to beat the interpolated bigram in a minute; see docs/text.md.)

Evaluation is on the validation split (the last ``val_fraction`` of the text, by position):
the model's mean cross-entropy in nats per token and its perplexity ``exp(cross-entropy)``,
next to the unigram and bigram baselines fitted on the same training split
(:mod:`.baselines`).

:class:`TextPipeline` fills in the steps of :mod:`keras_rnn.predictors.pipeline`, which owns
their order, the strategy, the seed and the chief-only export; the settings are a
:class:`~keras_rnn.predictors.text.config.TextConfig` (``TextOptions``, its older name).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_rnn.data import DataError
from keras_rnn.data.text import (
    Tokenizer,
    load_corpus,
    sequence_dataset,
    split_text,
    window_examples,
)
from keras_rnn.predictors import pipeline
from keras_rnn.predictors.text.baselines import baselines, unigram_probs
from keras_rnn.predictors.text.build import build_language_model, sequence_loss
from keras_rnn.predictors.text.config import TextConfig, TextOptions
from keras_rnn.predictors.text.export import export_version
from keras_rnn.predictors.text.generate import StepDecoder
from keras_rnn.training.data import shuffled_per_epoch
from keras_rnn_contract import Text

log = logging.getLogger(__name__)

__all__ = [
    "TextConfig",
    "TextOptions",
    "TextPipeline",
    "TrainResult",
    "export",
    "make_decoder",
    "train",
    "train_and_export",
]

# Prompts whose answers go into the model card (the curriculum's examples first).
EXAMPLE_PROMPTS = (
    "let's meet at",
    "today the weather is good, and my mood is also",
    "the value of",
    "",
)


def prepare_data(opts: TextConfig):
    """Load, split and tokenise: ``(corpus, tokenizer, train_ids, val_ids)``."""
    try:
        corpus = load_corpus(
            opts.corpus, data_dir=opts.data_dir, download=opts.download, max_chars=opts.max_chars
        )
    except DataError as err:
        err.key = err.key or "corpus"
        raise
    train_text, val_text = split_text(corpus.text, opts.val_fraction)
    tokenizer = Tokenizer.fit(train_text, opts.level, opts.vocab_size, opts.num_oov_indices)
    return corpus, tokenizer, tokenizer.encode_text(train_text), tokenizer.encode_text(val_text)


@dataclass
class TrainResult:
    corpus: Any
    tokenizer: Any
    model: Any
    history: dict[str, list[float]]
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]]
    seconds: float
    num_tokens: dict[str, int]
    unigram: np.ndarray  # [V] add-one unigram of the training split: the empty-prefix answer


class TextPipeline(pipeline.Pipeline[TextConfig, TrainResult]):
    """The text predictor's steps."""

    def data(self) -> pipeline.Data:
        c = self.config
        self.corpus, self.tokenizer, self.train_ids, self.val_ids = prepare_data(c)
        try:
            examples = window_examples(self.train_ids, c.seq_len, c.stride)
            self.validation = sequence_dataset(self.val_ids, c.seq_len, c.batch_size, shuffle=False)
        except ValueError as err:  # settings that do not fit the text, e.g. seq_len > the text
            raise DataError(str(err), key="seq_len") from None
        return pipeline.Data(
            # The order is a function of (seed, epoch), so a resumed run sees the same batches.
            train=shuffled_per_epoch(examples, c.batch_size, seed=c.seed or 0),
            validation=self.validation,
        )

    def model(self) -> keras.Model:
        c = self.config
        return build_language_model(
            self.tokenizer.vocab_size,
            cell=c.cell,
            units=c.units,
            layers=c.layers,
            embedding_dim=c.embedding_dim,
        )

    def loss(self) -> keras.losses.Loss:
        return sequence_loss()

    def metrics(self) -> list[keras.metrics.Metric]:
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def trainer_kwargs(self) -> dict[str, Any]:
        c = self.config
        kwargs = c.trainer_kwargs()
        if c.output_dir is not None:
            run = Path(c.output_dir) / c.run_key()
            if kwargs["log_dir"] is None:
                kwargs["log_dir"] = str(run / "logs")
            if kwargs["checkpoint_dir"] is None:
                kwargs["checkpoint_dir"] = str(run / "checkpoints")
        return kwargs

    def evaluate(self, fitted: pipeline.Fitted) -> TrainResult:
        evaluation = fitted.trainer.evaluate(self.validation)
        ce = float(evaluation["loss"])
        metrics = {"cross_entropy": ce, "perplexity": float(np.exp(ce))}
        if "accuracy" in evaluation:
            metrics["accuracy"] = float(evaluation["accuracy"])
        vocab = self.tokenizer.vocab_size
        return TrainResult(
            corpus=self.corpus,
            tokenizer=self.tokenizer,
            model=fitted.model,
            history=fitted.history,
            metrics=metrics,
            baselines=baselines(self.train_ids, self.val_ids, vocab),
            seconds=fitted.seconds,
            num_tokens={"train": int(self.train_ids.size), "validation": int(self.val_ids.size)},
            unigram=unigram_probs(self.train_ids, vocab),
        )

    def card(self, result: TrainResult) -> dict[str, Any]:
        self.decoder = make_decoder(result, self.config)  # the card's examples and the export
        return model_card(result, self.config, self.decoder)

    def export(self, result: TrainResult, card: dict[str, Any]) -> Path:
        c = self.config
        path = export_version(self.decoder, card, c.model_dir, c.name)
        log.info("exported %s", path)
        return path


def train(opts: TextConfig | None = None, **options: Any) -> TrainResult:
    """Build, train and evaluate (no export)."""
    return pipeline.train(TextPipeline(_config(opts, options)))


def train_and_export(config: TextConfig | None = None, **options: Any) -> Path | None:
    """Train the text predictor, evaluate it against the baselines and export a new version.

    Keyword arguments are the fields of :class:`TextConfig` (``trainer=`` takes a dict of
    Trainer fields too: ``clip_norm``, ``log_dir``, ``checkpoint_dir``, ``seed``, ...), or
    give a ``config``. Returns the version directory ``<model_dir>/<name>/<version>`` (None
    on the non-chief workers of a multi-worker run: only the chief exports).
    """
    return pipeline.train_and_export(TextPipeline(_config(config, options)))


def _config(config: TextConfig | None, options: dict[str, Any]) -> TextConfig:
    if config is None:
        return TextConfig(**options)
    return config.replace(**options) if options else config


def make_decoder(result: TrainResult, opts: TextConfig):
    """The step-by-step decoder of a trained result (what the export serves)."""
    return StepDecoder(
        result.model,
        result.tokenizer,
        opts.max_prefix_tokens,
        opts.max_generate_tokens,
        prior=result.unigram,
    )


def examples(
    decoder, prompts=EXAMPLE_PROMPTS, k: int = 5, max_tokens: int | None = None, seed: int = 0
) -> list[dict[str, Any]]:
    """Top-k suggestions and a seeded continuation (temperature 0.8, top-k 10) per prompt."""
    text = tf.constant(list(prompts))
    nxt = decoder.next_tokens(text, k)
    n = (
        max_tokens
        if max_tokens is not None
        else min(decoder.max_generate_tokens, 20 if decoder.level == "word" else 120)
    )
    gen = decoder.generate(text, n, 0.8, 10, seed)
    out = []
    for i, prompt in enumerate(prompts):
        out.append(
            {
                "text": prompt,
                "next": [
                    {"token": t.decode("utf-8"), "probability": round(float(p), 4)}
                    for t, p in zip(
                        nxt[Text.TOKENS][i].numpy(),
                        nxt[Text.PROBABILITIES][i].numpy(),
                        strict=True,
                    )
                ],
                "generate": {
                    "max_tokens": n,
                    "temperature": 0.8,
                    "top_k": 10,
                    "seed": seed,
                    "continuation": gen[Text.CONTINUATION][i].numpy().decode("utf-8"),
                },
            }
        )
    return out


def model_card(result: TrainResult, opts: TextConfig, decoder: StepDecoder) -> dict[str, Any]:
    """The ``model_card.json`` content of a trained result; ``decoder`` answers its examples."""
    return {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "task": "text",
        "data": {
            "source": result.corpus.source,
            "description": result.corpus.description,
            "characters": result.corpus.num_chars,
            "tokens": result.num_tokens,
            "split": f"by position: first {1 - opts.val_fraction:.0%} train, last {opts.val_fraction:.0%} validation",
            "vocab_size": result.tokenizer.vocab_size,
            "num_oov_indices": result.tokenizer.num_oov_indices,
        },
        "model": {
            "cell": opts.cell,
            "units": opts.units,
            "layers": opts.layers,
            "embedding_dim": opts.embedding_dim,
            "parameters": int(result.model.count_params()),
        },
        "training": {
            "epochs": opts.epochs,
            "batch_size": opts.batch_size,
            "seq_len": opts.seq_len,
            "learning_rate": opts.learning_rate,
            "seconds": round(result.seconds, 2),
            "history": result.history,
        },
        "metrics": {"validation": result.metrics, "unit": "nats per token"},
        "baselines": result.baselines,
        "versions": pipeline.versions(),
        "examples": examples(decoder),
    }


def export(result: TrainResult, opts: TextConfig) -> Path:
    """Export ``result`` as a new version of ``opts.model_dir/opts.name`` with its card."""
    run = TextPipeline(opts)
    return run.export(result, run.card(result))
