"""PNG figures of a stock run: actual vs forecast on the test period, and the training curves."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from keras_rnn.predictors.stock.train import StockRun


def _pyplot():
    # On call only: matplotlib is the `stock` extra, and the backend must be set before
    # pyplot is imported.
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    return plt


def plot_forecast(run: StockRun, path: str | Path, last_days: int = 250) -> Path:
    """Actual closes vs the 1-day-ahead forecasts of the model and baselines (last days of test)."""
    plt = _pyplot()
    test = run.test
    days = run.series.dates[test.ends + 1][-last_days:]
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(11, 7), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    actual = test.targets[-last_days:, 0]
    top.plot(days, actual, color="black", lw=1.6, label="actual close")
    for name, forecast in run.forecasts.items():
        style = {"lw": 1.4} if "(ours)" in name else {"lw": 0.9, "alpha": 0.8, "ls": "--"}
        top.plot(days, forecast[-last_days:, 0], label=name, **style)
        if "(ours)" in name or name == "persistence":
            bottom.plot(days, np.abs(forecast[-last_days:, 0] - actual), label=name, lw=0.9)
    top.set_title(f"{run.series.name}: next-day forecasts, last {len(days)} test days")
    top.set_ylabel("price")
    top.legend(fontsize=8)
    bottom.set_ylabel("absolute error")
    bottom.legend(fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_history(history: dict[str, list[float]], path: str | Path, title: str = "") -> Path:
    """Training and validation loss per epoch (log scale)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for key in ("loss", "val_loss"):
        if history.get(key):
            epochs = np.arange(1, len(history[key]) + 1)
            ax.plot(epochs, history[key], marker="o", label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE (scaled targets)")
    ax.set_yscale("log")
    ax.set_title(title or "training curves")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
