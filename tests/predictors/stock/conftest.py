"""One quick training run shared by the stock tests (tf.function tracing is the slow part)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def synthetic_run():
    """LSTM on the synthetic two-cycle series: small enough for seconds on 2 cores."""
    from keras_rnn.predictors.stock.train import train

    return train(
        source="synthetic",
        length=500,
        cell="lstm",
        units=12,
        window=16,
        min_window=4,
        horizon=2,
        epochs=6,
        batch_size=32,
        learning_rate=1e-2,
        seed=0,
        trainer_options={"verbose": 0},
    )
