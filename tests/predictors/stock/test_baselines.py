"""Baselines and metrics on series small enough to check by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from keras_rnn.predictors.stock.baselines import (
    LinearAR,
    all_baselines,
    moving_average,
    persistence,
)
from keras_rnn.predictors.stock.evaluate import compare, forecast_metrics, format_table

# two right-padded windows: [100, 102, 101, 104] and [10, 12]
PRICES = np.array([[100.0, 102.0, 101.0, 104.0], [10.0, 12.0, 0.0, 0.0]])
LENGTHS = np.array([4, 2])


def test_persistence_repeats_the_last_close():
    np.testing.assert_array_equal(persistence(PRICES, LENGTHS, 2), [[104, 104], [12, 12]])


def test_moving_average_uses_the_last_k_valid_closes():
    np.testing.assert_allclose(
        moving_average(PRICES, LENGTHS, 1, k=3), [[(102 + 101 + 104) / 3], [(10 + 12) / 2]]
    )


def test_linear_ar_recovers_a_known_recursion():
    # log returns follow r_t = 0.01 - 0.5 r_{t-1} exactly: AR(1) must find c=0.01, a=-0.5
    r = [0.02]
    for _ in range(200):
        r.append(0.01 - 0.5 * r[-1])
    close = 100 * np.exp(np.concatenate([[0.0], np.cumsum(r)]))
    ar = LinearAR.fit(close, order=1, horizon=1)
    np.testing.assert_allclose(ar.coef[:, 0], [0.01, -0.5], atol=1e-9)
    # forecast for the window [100, 110]: r_last = log 1.1 -> 110 * exp(0.01 - 0.5 log 1.1)
    got = ar.predict(np.array([[100.0, 110.0]]), np.array([2]))
    assert got[0, 0] == pytest.approx(110 * math.exp(0.01 - 0.5 * math.log(1.1)))
    # a window of length 1 has no return: the lag counts as 0
    assert ar.predict(np.array([[50.0]]), np.array([1]))[0, 0] == pytest.approx(50 * math.exp(0.01))


def test_linear_ar_direct_multi_horizon():
    close = 100 * 1.01 ** np.arange(50)  # constant 1% growth: log(p_{t+h}/p_t) = h log 1.01
    ar = LinearAR.fit(close, order=2, horizon=3)
    got = ar.predict(np.array([[100.0, 101.0, 102.01]]), np.array([3]))
    np.testing.assert_allclose(got[0], 102.01 * 1.01 ** np.arange(1, 4), rtol=1e-9)


def test_metrics_hand_checked():
    forecast = np.array([[105.0], [11.0]])
    actual = np.array([[103.0], [13.0]])
    last = np.array([104.0, 12.0])
    m = forecast_metrics(forecast, actual, last)
    assert m["mae"] == pytest.approx(2.0)
    assert m["rmse"] == pytest.approx(2.0)
    assert m["mape"] == pytest.approx(100 * (2 / 103 + 2 / 13) / 2)
    # predicted up/down, actual down/up: both directions wrong
    assert m["direction_accuracy"] == 0.0


def test_persistence_has_no_direction_and_is_the_rmse_reference():
    actual = np.array([[103.0], [13.0]])
    last = np.array([104.0, 12.0])
    results = compare(
        {"persistence": persistence(PRICES, LENGTHS, 1), "perfect": actual}, actual, last
    )
    assert results["persistence"]["direction_accuracy"] is None
    assert results["persistence"]["mae"] == pytest.approx(1.0)
    assert results["perfect"]["rmse"] == 0.0
    assert results["perfect"]["direction_accuracy"] == 1.0
    assert results["perfect"]["rmse_vs_persistence"] == 0.0
    table = format_table(results)
    assert "persistence" in table and "n/a" in table and "RMSE / persistence" in table


def test_all_baselines_share_the_windows():
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 300)))
    out = all_baselines(PRICES, LENGTHS, 2, close)
    assert set(out) == {"persistence", "moving_average_5", "linear_ar_5"}
    assert all(v.shape == (2, 2) for v in out.values())
