"""Naive forecasters that every model must be compared with, on the same windows.

All take a batch of right-padded windows (prices [N, T], lengths [N]) and return price
forecasts [N, H]. With ``p_L`` the last known close of a window:

- persistence: ``p_{L+h} = p_L`` (tomorrow = today), the random-walk forecast;
- moving average: ``p_{L+h} = mean(p_{L-k+1}, ..., p_L)`` over the last ``k`` closes (fewer
  when the window is shorter);
- linear autoregression on log returns, one least-squares fit per horizon h ("direct"
  forecasting): ``log(p_{L+h} / p_L) = c_h + sum_{j=1..p} a_{h,j} r_{L-j+1}``, with
  ``r_l = log(p_l / p_{l-1})``; missing lags of short windows count as 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def persistence(prices: np.ndarray, lengths: np.ndarray, horizon: int) -> np.ndarray:
    """Tomorrow (and every later day) = today's close."""
    last = _last(prices, lengths)
    return np.repeat(last[:, None], horizon, axis=1)


def moving_average(prices: np.ndarray, lengths: np.ndarray, horizon: int, k: int = 5) -> np.ndarray:
    """The mean of the last ``k`` closes (of all of them in shorter windows)."""
    if k < 1:
        raise ValueError(f"expected k >= 1, got {k}")
    prices = np.asarray(prices, dtype=np.float64)
    lengths = np.asarray(lengths)
    width = prices.shape[1]
    cols = np.arange(width)[None, :]
    inside = (cols < lengths[:, None]) & (cols >= (lengths - k)[:, None])
    mean = (prices * inside).sum(axis=1) / inside.sum(axis=1)
    return np.repeat(mean[:, None], horizon, axis=1)


@dataclass(frozen=True)
class LinearAR:
    """Direct multi-horizon AR(p) on log returns; ``coef`` [p + 1, H] (intercept first)."""

    order: int
    coef: np.ndarray

    @classmethod
    def fit(cls, train_close: np.ndarray, order: int = 5, horizon: int = 1) -> LinearAR:
        """Least squares on every window that lies inside ``train_close`` (the training part)."""
        if order < 1:
            raise ValueError(f"expected order >= 1, got {order}")
        log_p = np.log(np.asarray(train_close, dtype=np.float64))
        returns = np.diff(log_p)  # returns[i] = log p[i+1] - log p[i]
        ends = np.arange(order, len(log_p) - horizon)  # last known day t; needs `order` returns
        if len(ends) <= order + 1:
            raise ValueError(
                f"expected more than {order + horizon + 2} training prices for AR({order}), "
                f"got {len(log_p)}"
            )
        lags = np.stack([returns[ends - 1 - j] for j in range(order)], axis=1)
        design = np.concatenate([np.ones((len(ends), 1)), lags], axis=1)
        future = np.stack([log_p[ends + h] - log_p[ends] for h in range(1, horizon + 1)], axis=1)
        coef, *_ = np.linalg.lstsq(design, future, rcond=None)
        return cls(order, coef)

    def predict(self, prices: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        prices = np.asarray(prices, dtype=np.float64)
        lengths = np.asarray(lengths)
        rows = np.arange(len(lengths))
        lags = np.zeros((len(lengths), self.order))
        for j in range(self.order):  # lag j: r_{L-j} = log p_{L-j} - log p_{L-j-1}
            ok = lengths - 2 - j >= 0
            hi = prices[rows[ok], lengths[ok] - 1 - j]
            lo = prices[rows[ok], lengths[ok] - 2 - j]
            lags[ok, j] = np.log(hi / lo)
        design = np.concatenate([np.ones((len(lengths), 1)), lags], axis=1)
        return _last(prices, lengths)[:, None] * np.exp(design @ self.coef)


def all_baselines(
    prices: np.ndarray,
    lengths: np.ndarray,
    horizon: int,
    train_close: np.ndarray,
    *,
    ma_window: int = 5,
    ar_order: int = 5,
) -> dict[str, np.ndarray]:
    """``{name: forecasts [N, H]}`` of every baseline; the AR model is fitted on ``train_close``."""
    ar = LinearAR.fit(train_close, order=ar_order, horizon=horizon)
    return {
        "persistence": persistence(prices, lengths, horizon),
        f"moving_average_{ma_window}": moving_average(prices, lengths, horizon, k=ma_window),
        f"linear_ar_{ar_order}": ar.predict(prices, lengths),
    }


def _last(prices: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    lengths = np.asarray(lengths)
    return np.asarray(prices, dtype=np.float64)[np.arange(len(lengths)), lengths - 1]
