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
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from keras_rnn_contract import Text

log = logging.getLogger(__name__)

# Prompts whose answers go into the model card (the curriculum's examples first).
EXAMPLE_PROMPTS = (
    "let's meet at",
    "today the weather is good, and my mood is also",
    "the value of",
    "",
)


@dataclass
class TextOptions:
    """Everything a run depends on; the defaults are the QUICK run."""

    corpus: str | None = None  # None: the offline default ("pydoc"); "tfds:NAME"; a path
    data_dir: str | None = None
    download: bool = False
    max_chars: int | None = None
    level: str = "char"
    vocab_size: int | None = None  # None: 4000 ids at word level, every character at char level
    num_oov_indices: int = 1
    seq_len: int = 64
    stride: int | None = None  # None: seq_len (windows tile the text)
    val_fraction: float = 0.1
    cell: str = "lstm"
    units: int = 256
    layers: int = 1
    embedding_dim: int = 32
    epochs: int = 6
    batch_size: int = 64
    learning_rate: float = 5e-3
    max_prefix_tokens: int | None = None  # None: 8 * seq_len
    max_generate_tokens: int | None = None  # None: 100 words or 500 characters
    model_dir: str = "models"
    name: str = "text"
    output_dir: str | None = None  # TensorBoard logs and checkpoints go under it when given
    trainer: dict[str, Any] = field(default_factory=dict)  # extra Trainer(...) keyword arguments

    def resolved(self) -> TextOptions:
        """A copy with the level-dependent defaults filled in."""
        out = TextOptions(**{**asdict(self), "trainer": dict(self.trainer)})
        if out.vocab_size is None and out.level == "word":
            out.vocab_size = 4000
        if out.max_prefix_tokens is None:
            out.max_prefix_tokens = 8 * out.seq_len
        if out.max_generate_tokens is None:
            out.max_generate_tokens = 100 if out.level == "word" else 500
        return out

    def run_key(self) -> str:
        """A short hash of what shapes the model and data: checkpoints of one run never
        resume another."""
        keys = (
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
        blob = json.dumps({k: getattr(self, k) for k in keys}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]


def prepare_data(opts: TextOptions):
    """Load, split and tokenise: ``(corpus, tokenizer, train_ids, val_ids)``."""
    from keras_rnn.data.text import Tokenizer, load_corpus, split_text

    corpus = load_corpus(
        opts.corpus, data_dir=opts.data_dir, download=opts.download, max_chars=opts.max_chars
    )
    train_text, val_text = split_text(corpus.text, opts.val_fraction)
    tokenizer = Tokenizer.fit(train_text, opts.level, opts.vocab_size, opts.num_oov_indices)
    return corpus, tokenizer, tokenizer.encode_text(train_text), tokenizer.encode_text(val_text)


def _trainer_kwargs(opts: TextOptions) -> dict[str, Any]:
    kwargs = {"clip_norm": 1.0, **opts.trainer}
    if opts.output_dir is not None:
        run = Path(opts.output_dir) / opts.run_key()
        if kwargs.get("log_dir") is None:
            kwargs["log_dir"] = str(run / "logs")
        if kwargs.get("checkpoint_dir") is None:
            kwargs["checkpoint_dir"] = str(run / "checkpoints")
    return {k: v for k, v in kwargs.items() if v is not None or k in ("clip_norm", "clip_value")}


def train_and_export(**options: Any) -> Path | None:
    """Train the text predictor, evaluate it against the baselines and export a new version.

    Keyword arguments are the fields of :class:`TextOptions` (``trainer=`` takes extra
    ``Trainer`` arguments: ``clip_norm``, ``log_dir``, ``checkpoint_dir``, ``seed``, ...).
    Returns the version directory ``<model_dir>/<name>/<version>`` (None on the non-chief
    workers of a multi-worker run: only the chief exports).
    """
    unknown = set(options) - set(TextOptions.__dataclass_fields__)
    if unknown:
        raise TypeError(
            f"train_and_export() got unknown options {sorted(unknown)}; known: {sorted(TextOptions.__dataclass_fields__)}"
        )
    from keras_rnn.training.devices import is_chief, resolve_strategy

    opts = TextOptions(**options).resolved()
    result = train(opts)
    if not is_chief(resolve_strategy(opts.trainer.get("strategy"))):
        log.info("not the chief worker: the chief exports the model")
        return None
    return export(result, opts)


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


def train(opts: TextOptions) -> TrainResult:
    """Build, train and evaluate (no export)."""
    import keras

    from keras_rnn.data.text import sequence_dataset, window_examples
    from keras_rnn.predictors.text.baselines import baselines, unigram_probs
    from keras_rnn.predictors.text.build import build_language_model, sequence_loss
    from keras_rnn.training import Trainer
    from keras_rnn.training.data import shuffled_per_epoch
    from keras_rnn.training.devices import resolve_strategy

    opts = opts.resolved()
    # The strategy before any TensorFlow op (tokenising runs some): a multi-worker strategy
    # can configure TensorFlow's collective ops only at program start-up. Under it the
    # model's variables must be created in its scope.
    strategy = resolve_strategy(opts.trainer.get("strategy"))
    opts.trainer["strategy"] = strategy
    corpus, tokenizer, train_ids, val_ids = prepare_data(opts)
    seed = opts.trainer.get("seed")
    # The order is a function of (seed, epoch), so a resumed run sees the same batches.
    train_data = shuffled_per_epoch(
        window_examples(train_ids, opts.seq_len, opts.stride), opts.batch_size, seed=seed or 0
    )
    val_ds = sequence_dataset(val_ids, opts.seq_len, opts.batch_size, shuffle=False)
    if seed is not None:
        # The Trainer seeds at the start of fit(), after the weights are drawn: without this
        # the first call in a process drew them from an unseeded RNG, later calls from the
        # state the previous fit() left, and the same seed gave different weights.
        keras.utils.set_random_seed(seed)
    with strategy.scope():
        model = build_language_model(
            tokenizer.vocab_size,
            cell=opts.cell,
            units=opts.units,
            layers=opts.layers,
            embedding_dim=opts.embedding_dim,
        )
        optimizer = keras.optimizers.Adam(opts.learning_rate)  # its slots live on every replica
    trainer = Trainer(
        model,
        sequence_loss(),
        optimizer,
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        **_trainer_kwargs(opts),
    )
    start = time.perf_counter()
    history = trainer.fit(train_data, epochs=opts.epochs, validation_data=val_ds)
    seconds = time.perf_counter() - start
    evaluation = trainer.evaluate(val_ds)
    ce = float(evaluation["loss"])
    metrics = {"cross_entropy": ce, "perplexity": float(np.exp(ce))}
    if "accuracy" in evaluation:
        metrics["accuracy"] = float(evaluation["accuracy"])
    return TrainResult(
        corpus=corpus,
        tokenizer=tokenizer,
        model=model,
        history={k: [float(x) for x in v] for k, v in history.history.items()},
        metrics=metrics,
        baselines=baselines(train_ids, val_ids, tokenizer.vocab_size),
        seconds=seconds,
        num_tokens={"train": int(train_ids.size), "validation": int(val_ids.size)},
        unigram=unigram_probs(train_ids, tokenizer.vocab_size),
    )


def make_decoder(result: TrainResult, opts: TextOptions):
    """The step-by-step decoder of a trained result (what the export serves)."""
    from keras_rnn.predictors.text.generate import StepDecoder

    opts = opts.resolved()
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
    import tensorflow as tf

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


def export(result: TrainResult, opts: TextOptions) -> Path:
    """Export ``result`` as a new version of ``opts.model_dir/opts.name`` with its card."""
    import datetime

    import keras
    import tensorflow as tf

    import keras_rnn
    from keras_rnn.predictors.text.export import export_version

    opts = opts.resolved()
    decoder = make_decoder(result, opts)
    card = {
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
        "versions": {
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "keras_rnn": keras_rnn.__version__,
        },
        "examples": examples(decoder),
    }
    path = export_version(decoder, card, opts.model_dir, opts.name)
    log.info("exported %s", path)
    return path
