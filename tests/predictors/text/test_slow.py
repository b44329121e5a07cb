"""Long runs (`make test-slow`): char level on Tiny Shakespeare (the lesson: tests/tutorials)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_char_level_tiny_shakespeare_beats_the_baselines(shared_data, tmp_path):
    from keras_rnn.predictors.text.train import TextOptions, train

    opts = TextOptions(
        corpus=str(shared_data / "tinyshakespeare.txt"),
        level="char",
        seq_len=100,
        units=256,
        embedding_dim=32,
        epochs=1,
        batch_size=64,
        learning_rate=5e-3,
        trainer={"seed": 0, "verbose": 0},
    )
    result = train(opts)
    ce = result.metrics["cross_entropy"]
    print(
        f"tiny shakespeare, 1 epoch: {ce:.3f} nats/char in {result.seconds:.0f} s", file=sys.stderr
    )
    assert (
        ce
        < result.baselines["bigram"]["cross_entropy"]
        < result.baselines["unigram"]["cross_entropy"]
    )
