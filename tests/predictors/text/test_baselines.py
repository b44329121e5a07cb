"""Unigram and bigram baselines on a corpus small enough to check by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from keras_rnn.predictors.text.baselines import (
    LAMBDA_GRID,
    baselines,
    bigram_score,
    choose_lambda,
    unigram_probs,
    unigram_score,
)

# V = 4 ids (0 = OOV, never seen). Train counts: c(1)=3, c(2)=2, c(3)=1, N=6.
TRAIN = np.array([1, 2, 1, 2, 1, 3])
VAL = np.array([1, 2, 3])


def test_unigram_add_one_by_hand():
    np.testing.assert_allclose(unigram_probs(TRAIN, 4), [1 / 10, 4 / 10, 3 / 10, 2 / 10])
    score = unigram_score(TRAIN, VAL, 4)
    expected = -(math.log(0.4) + math.log(0.3) + math.log(0.2)) / 3
    assert score.cross_entropy == pytest.approx(expected)
    assert score.perplexity == pytest.approx(math.exp(expected))


def test_interpolated_bigram_by_hand():
    # pairs in train: (1,2) x2, (2,1) x2, (1,3) x1; as predecessors c(1)=3, c(2)=2.
    # p(2|1) = .5 * 2/3 + .5 * .3;  p(3|2) = .5 * 0/2 + .5 * .2
    score, lam = bigram_score(TRAIN, VAL, 4, lam=0.5)
    expected = -(math.log(0.5 * 2 / 3 + 0.5 * 0.3) + math.log(0.5 * 0.2)) / 2
    assert lam == 0.5
    assert score.cross_entropy == pytest.approx(expected)


def test_unseen_predecessor_falls_back_to_unigram():
    score, _ = bigram_score(TRAIN, np.array([0, 1]), 4, lam=0.9)  # 0 never precedes anything
    assert score.cross_entropy == pytest.approx(-math.log(0.1 * 0.4))


def test_bigram_beats_unigram_on_a_deterministic_sequence():
    seq = np.tile([1, 2, 3, 4], 200)
    lam = choose_lambda(seq[:600], 5)
    assert lam in LAMBDA_GRID and lam >= 0.9
    result = baselines(seq[:600], seq[600:], 5)
    assert (
        result["bigram"]["cross_entropy"]
        < 0.2
        < math.log(4) - 0.1
        < result["unigram"]["cross_entropy"]
    )
