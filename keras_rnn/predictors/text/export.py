"""Export the text predictor as a plain SavedModel that takes raw strings.

Signatures (docs/architecture.md, ``text``; the names are :class:`keras_rnn_contract.Text`):

==================  ==================================================  ==============================
signature           inputs                                              outputs
==================  ==================================================  ==============================
``serving_default`` ``text`` string [batch]                             ``tokens`` string [batch, 5],
                                                                        ``probabilities`` float32 [batch, 5]
``next``            ``text`` string [batch], ``k`` int32 []             the same with ``k`` columns
``generate``        ``text`` string [batch], ``max_tokens`` int32 [],   ``continuation`` string [batch]
                    ``temperature`` float32 [], ``top_k`` int32 []
                    (0 = off), ``seed`` int32 [batch] (per row)
==================  ==================================================  ==============================

Tokenisation (the Keras ``StringLookup`` tables), the vocabulary, the step-by-step decoder and
the detokenisation are all in the graph (:class:`~.generate.StepDecoder`); loading needs only
TensorFlow (``tf.saved_model.load``), not ``keras_rnn``. Versions are written atomically with
:func:`keras_rnn.predictors.repository.write_version`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from keras_rnn.predictors import repository
from keras_rnn.predictors.text.generate import StepDecoder
from keras_rnn_contract import Text, text_signatures

MODEL_NAME = Text.NAME
TOP_N = Text.TOP_N  # what serving_default returns
SIGNATURES: dict[str, dict[str, Any]] = text_signatures()


def _spec(dtype: tf.DType, name: str, shape: list[int | None] | None = None) -> tf.TensorSpec:
    return tf.TensorSpec([] if shape is None else shape, dtype, name=name)


def build_archive(decoder: StepDecoder) -> keras.export.ExportArchive:
    """An ExportArchive holding the model's weights, the lookup tables and three endpoints."""
    archive = keras.export.ExportArchive()
    for layer in (decoder.embedding, *decoder.rnns, decoder.head):
        archive.track(layer)
    archive.track(decoder.tokenizer.lookup)
    archive.track(decoder.tokenizer.inverse)

    text = _spec(tf.string, Text.TEXT, [None])
    archive.add_endpoint(
        Text.SERVE, lambda text: decoder.next_tokens(text, TOP_N), input_signature=[text]
    )
    archive.add_endpoint(
        Text.NEXT,
        lambda text, k: decoder.next_tokens(text, k),
        input_signature=[text, _spec(tf.int32, Text.K)],
    )
    archive.add_endpoint(
        Text.GENERATE,
        decoder.generate,
        input_signature=[
            text,
            _spec(tf.int32, Text.MAX_TOKENS),
            _spec(tf.float32, Text.TEMPERATURE),
            _spec(tf.int32, Text.TOP_K),
            _spec(tf.int32, Text.SEED, [None]),
        ],
    )
    return archive


def export_version(
    decoder: StepDecoder,
    card: dict[str, Any],
    model_dir: str | os.PathLike = "models",
    name: str = MODEL_NAME,
) -> Path:
    """Write ``<model_dir>/<name>/<next version>/`` atomically; return its path.

    The SavedModel is written into a temporary directory; a failure (here or in the write)
    leaves the existing versions untouched.
    """
    archive = build_archive(decoder)
    card = {
        **card,
        "task": Text.NAME,
        "level": decoder.level,
        "max_prefix_tokens": decoder.max_prefix_tokens,
        "max_generate_tokens": decoder.max_generate_tokens,
        "signatures": SIGNATURES,
    }
    return repository.write_version(
        model_dir, name, lambda path: archive.write_out(str(path), verbose=False), card
    )
