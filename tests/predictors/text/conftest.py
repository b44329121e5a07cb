"""Fixtures of the text predictor's tests: a made-up corpus, one quick model, one export."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

# "at" is followed by "noon" after "meet" and by "home" / "work" otherwise, so the answer to
# "let's meet at" needs two words of context: a bigram model cannot know it, an RNN can.
_SENTENCES = (
    "let's meet at noon .",
    "they sleep at home .",
    "we stay at work .",
    "you eat bread .",
    "i like tea .",
    "today the weather is good , and my mood is also good .",
)


def made_up_text(n: int = 300, seed: int = 0) -> str:
    rng = random.Random(seed)
    return "\n".join(rng.choice(_SENTENCES) for _ in range(n)) + "\n"


QUICK = dict(
    level="word",
    seq_len=8,
    stride=1,
    cell="lstm",
    units=32,
    layers=1,
    embedding_dim=16,
    epochs=4,
    batch_size=32,
    learning_rate=1e-2,
    max_prefix_tokens=12,
    max_generate_tokens=20,
    val_fraction=0.2,
    trainer={"seed": 0, "verbose": 0},
)


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "made_up.txt"
    path.write_text(made_up_text())
    return path


@pytest.fixture(scope="session")
def trained(corpus_file):
    """``(options, TrainResult)`` of one quick word-level run on the made-up corpus."""
    import keras

    from keras_rnn.predictors.text.train import TextOptions, train

    keras.utils.set_random_seed(0)
    opts = TextOptions(corpus=str(corpus_file), **QUICK).resolved()
    return opts, train(opts)


@pytest.fixture(scope="session")
def decoder(trained):
    from keras_rnn.predictors.text.train import make_decoder

    opts, result = trained
    return make_decoder(result, opts)


@pytest.fixture(scope="session")
def exported(trained, tmp_path_factory) -> Path:
    """The version directory of the quick model's export."""
    from dataclasses import replace

    from keras_rnn.predictors.text.train import export

    opts, result = trained
    model_dir = tmp_path_factory.mktemp("models")
    return export(result, replace(opts, model_dir=str(model_dir)))


@pytest.fixture(scope="session")
def loaded(exported):
    import tensorflow as tf

    return tf.saved_model.load(str(exported))
