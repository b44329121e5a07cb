"""Forecast metrics in price units, and the comparison table.

For forecasts ``f`` [N, H], actual closes ``a`` [N, H] and last known closes ``p`` [N]
(means over all N x H entries):

- MAE  = mean |f - a|;  RMSE = sqrt(mean (f - a)^2);  MAPE = 100 * mean |f - a| / |a|  (%);
- direction accuracy = the share of entries with ``sign(f - p) == sign(a - p)``, over the
  entries where the price moved (``a != p``); ``None`` for a forecaster that never predicts a
  move (persistence), whose direction is undefined;
- RMSE vs persistence = RMSE / RMSE(persistence): below 1 beats "tomorrow = today".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def forecast_metrics(
    forecast: np.ndarray, actual: np.ndarray, last: np.ndarray
) -> dict[str, float | None]:
    """MAE, RMSE, MAPE (%) and direction accuracy of ``forecast`` (see the module docstring)."""
    f = np.asarray(forecast, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    p = np.asarray(last, dtype=np.float64).reshape(-1, 1)
    if f.shape != a.shape or f.shape[0] != p.shape[0]:
        raise ValueError(f"shape mismatch: forecast {f.shape}, actual {a.shape}, last {p.shape}")
    err = f - a
    moved = a != p
    predicted_move = np.sign(f - p)
    if not moved.any() or not predicted_move.any():
        direction = None
    else:
        direction = float(np.mean(predicted_move[moved] == np.sign(a - p)[moved]))
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(math.sqrt(np.mean(err**2))),
        "mape": float(100.0 * np.mean(np.abs(err) / np.abs(a))),
        "direction_accuracy": direction,
    }


def compare(
    forecasts: dict[str, np.ndarray], actual: np.ndarray, last: np.ndarray
) -> dict[str, dict[str, float | None]]:
    """Metrics of every forecaster, plus ``rmse_vs_persistence`` when persistence is among them."""
    results = {name: forecast_metrics(f, actual, last) for name, f in forecasts.items()}
    if "persistence" in results:
        base = results["persistence"]["rmse"] or float("nan")
        for metrics in results.values():
            metrics["rmse_vs_persistence"] = metrics["rmse"] / base
    return results


def format_table(results: dict[str, dict[str, Any]], title: str = "test metrics") -> str:
    """A plain-text table (rich) of :func:`compare`'s results, one row per forecaster."""
    from rich.console import Console  # the `stock` extra (the metrics need only NumPy)
    from rich.table import Table

    table = Table(title=title)
    columns = ("mae", "rmse", "mape", "direction_accuracy", "rmse_vs_persistence")
    headers = ("MAE", "RMSE", "MAPE %", "direction", "RMSE / persistence")
    table.add_column("forecaster")
    for header in headers:
        table.add_column(header, justify="right")
    for name, metrics in results.items():
        table.add_row(name, *(_fmt(metrics.get(c)) for c in columns))
    console = Console(width=110, record=True, file=_Null())
    console.print(table)
    return console.export_text()


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class _Null:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass
