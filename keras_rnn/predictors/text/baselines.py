"""Count-based baselines the recurrent model must beat: unigram and bigram language models.

Both are fitted on the training ids and scored on the validation ids of the same split, in
nats per token (mean cross-entropy ``-1/N sum_t log p(w_t | w_{t-1})``) and perplexity
``exp(cross-entropy)``. ``V`` is the size of the id space (OOV buckets included).

* unigram, add-alpha smoothed: ``p(w) = (c(w) + alpha) / (N + alpha V)``;
* bigram, interpolated with the unigram (Jelinek-Mercer):
  ``p(w | v) = lam c(v, w) / c(v) + (1 - lam) p_uni(w)``, where ``c(v)`` counts ``v`` as a
  predecessor (``c(v, w) / c(v) = 0`` when ``c(v) = 0``). ``lam`` is picked from a grid on the
  last 10% of the training ids (fitted on the first 90%), never on the validation ids.

The unigram needs no context, so it scores every validation token; the bigram scores the
tokens that have a predecessor in the validation text (all but the first). With thousands of
tokens the one-token difference is below the reported precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LAMBDA_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


@dataclass(frozen=True)
class Score:
    cross_entropy: float  # nats per token
    perplexity: float

    def as_dict(self) -> dict[str, float]:
        return {"cross_entropy": self.cross_entropy, "perplexity": self.perplexity}


def _score(log_probs: np.ndarray) -> Score:
    ce = float(-np.mean(log_probs))
    return Score(ce, float(np.exp(ce)))


def unigram_probs(train: np.ndarray, vocab_size: int, alpha: float = 1.0) -> np.ndarray:
    """``p(w) = (c(w) + alpha) / (N + alpha V)`` for every id ``w < V``."""
    counts = np.bincount(np.asarray(train, np.int64), minlength=vocab_size).astype(np.float64)
    return (counts + alpha) / (counts.sum() + alpha * vocab_size)


class Bigram:
    """Interpolated bigram model over ids ``0 .. V-1`` (see the module docstring)."""

    def __init__(self, train: np.ndarray, vocab_size: int, lam: float, alpha: float = 1.0) -> None:
        train = np.asarray(train, np.int64)
        self.vocab_size = vocab_size
        self.lam = float(lam)
        self.unigram = unigram_probs(train, vocab_size, alpha)
        codes = train[:-1] * vocab_size + train[1:]
        self._codes, self._pair_counts = np.unique(codes, return_counts=True)
        self._prev_counts = np.bincount(train[:-1], minlength=vocab_size)

    def log_probs(self, ids: np.ndarray) -> np.ndarray:
        """``log p(ids[t] | ids[t-1])`` for ``t = 1 .. len(ids) - 1``."""
        ids = np.asarray(ids, np.int64)
        prev, nxt = ids[:-1], ids[1:]
        codes = prev * self.vocab_size + nxt
        pos = np.searchsorted(self._codes, codes)
        pos = np.minimum(pos, len(self._codes) - 1)
        pair = np.where(self._codes[pos] == codes, self._pair_counts[pos], 0).astype(np.float64)
        ctx = self._prev_counts[prev].astype(np.float64)
        ml = np.divide(pair, ctx, out=np.zeros_like(pair), where=ctx > 0)
        return np.log(self.lam * ml + (1.0 - self.lam) * self.unigram[nxt])


def unigram_score(train: np.ndarray, val: np.ndarray, vocab_size: int, alpha: float = 1.0) -> Score:
    probs = unigram_probs(train, vocab_size, alpha)
    return _score(np.log(probs[np.asarray(val, np.int64)]))


def choose_lambda(train: np.ndarray, vocab_size: int, alpha: float = 1.0) -> float:
    """The grid ``lam`` with the lowest cross-entropy on the last 10% of ``train``."""
    train = np.asarray(train)
    cut = int(len(train) * 0.9)
    if cut < 2 or len(train) - cut < 2:
        return 0.5
    fit, held = train[:cut], train[cut:]
    scores = [
        (_score(Bigram(fit, vocab_size, lam, alpha).log_probs(held)).cross_entropy, lam)
        for lam in LAMBDA_GRID
    ]
    return min(scores)[1]


def bigram_score(
    train: np.ndarray,
    val: np.ndarray,
    vocab_size: int,
    lam: float | None = None,
    alpha: float = 1.0,
) -> tuple[Score, float]:
    """The bigram's validation score and the ``lam`` it used (chosen on train when None)."""
    if lam is None:
        lam = choose_lambda(train, vocab_size, alpha)
    return _score(Bigram(train, vocab_size, lam, alpha).log_probs(val)), lam


def baselines(train: np.ndarray, val: np.ndarray, vocab_size: int) -> dict[str, dict[str, float]]:
    """Both baselines on one split, as the model card records them."""
    uni = unigram_score(train, val, vocab_size)
    bi, lam = bigram_score(train, val, vocab_size)
    return {
        "unigram": {**uni.as_dict(), "alpha": 1.0},
        "bigram": {**bi.as_dict(), "lambda": lam, "alpha": 1.0},
    }
