"""The stock predictor end to end: data -> windows -> our RNN + our trainer -> metrics -> export.

>>> from keras_rnn.predictors.stock import train_and_export  # doctest: +SKIP
>>> train_and_export(model_dir="models")  # quick defaults: S&P 500, LSTM(16), 3 epochs  # doctest: +SKIP
PosixPath('models/stock/1')

:class:`StockPipeline` fills in the steps of :mod:`keras_rnn.predictors.pipeline`, which owns
their order, the strategy, the seed and the chief-only export; the settings are a
:class:`~keras_rnn.predictors.stock.config.StockConfig`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from keras_rnn.data import DataError
from keras_rnn.data.stock import (
    PriceScaler,
    PriceSeries,
    Split,
    Windows,
    chronological_split,
    load_series,
    part_windows,
    to_dataset,
)
from keras_rnn.data.stock.windows import training_data
from keras_rnn.predictors import pipeline
from keras_rnn.predictors.stock.baselines import LinearAR, all_baselines
from keras_rnn.predictors.stock.build import build_model
from keras_rnn.predictors.stock.config import StockConfig
from keras_rnn.predictors.stock.evaluate import compare, format_table
from keras_rnn.predictors.stock.export import export_version, make_forecaster
from keras_rnn.predictors.stock.plots import plot_forecast, plot_history

SAMPLE_DAYS = 120
AR_ORDER = 5  # the order of the linear AR baseline (all_baselines' default)


@dataclass
class StockRun:
    """Everything one training run produced: the model, its data and its evaluation."""

    series: PriceSeries
    split: Split
    scaler: PriceScaler
    model: Any
    options: dict[str, Any]
    history: dict[str, list[float]]
    seconds: float
    test: Windows
    forecasts: dict[str, np.ndarray]  # name -> [N, H] price forecasts on the test windows
    metrics: dict[str, dict[str, Any]]  # name -> metrics (compare())
    trainer_options: dict[str, Any] = field(default_factory=dict)

    @property
    def model_name(self) -> str:
        o = self.options
        return f"{o['cell']} {o['layers']}x{o['units']} (ours)"

    def table(self) -> str:
        o = self.options
        title = (
            f"{self.series.name}, test {self.split.describe(self.series.dates)['test']}, "
            f"{len(self.test)} windows, horizon {o['horizon']}, target {o['target']}"
        )
        return format_table(self.metrics, title=title)

    def card(self) -> dict[str, Any]:
        """The ``model_card.json`` content (docs/architecture.md)."""
        o = self.options
        start, stop = self.split.bounds("test")
        first = max(start, stop - SAMPLE_DAYS)
        baselines = {k: v for k, v in self.metrics.items() if k != self.model_name}
        return {
            "task": "stock",
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "horizon": o["horizon"],
            "data": {
                **self.series.describe(),
                "splits": self.split.describe(self.series.dates),
                "windows": {"min_length": o["min_window"], "max_length": o["window"]},
                "test_windows": len(self.test),
            },
            "model": {
                "cell": o["cell"],
                "units": o["units"],
                "layers": o["layers"],
                "target": o["target"],
                "parameters": int(self.model.count_params()),
                "layers_from": "keras_rnn",
            },
            "scaling": {**self.scaler.to_config(), "fitted_on": "train"},
            "training": {
                "epochs": o["epochs"],
                "batch_size": o["batch_size"],
                "learning_rate": o["learning_rate"],
                "loss": "mean squared error on scaled targets",
                "seconds": round(self.seconds, 2),
                "history": self.history,
                "trainer": _jsonable(self.trainer_options),
            },
            "metrics": {"test": {"model": self.model_name, **self.metrics[self.model_name]}},
            "baselines": baselines,
            "versions": pipeline.versions(),
            "sample": {
                "name": self.series.name,
                "dates": [str(d) for d in self.series.dates[first:stop]],
                "prices": [round(float(p), 4) for p in self.series.close[first:stop]],
            },
        }


OPTION_KEYS = (  # the settings a StockRun's `options` (metrics.json, the card) records
    "source",
    "cell",
    "units",
    "layers",
    "window",
    "min_window",
    "horizon",
    "target",
    "epochs",
    "batch_size",
    "learning_rate",
    "seed",
)


class StockPipeline(pipeline.Pipeline[StockConfig, StockRun]):
    """The stock predictor's steps; ``series`` (optional) replaces loading ``config.source``."""

    def __init__(self, config: StockConfig, series: PriceSeries | None = None) -> None:
        super().__init__(config)
        self.series = series

    def data(self) -> pipeline.Data:
        c = self.config
        series = self.series
        if series is None:
            try:
                series = load_series(
                    c.source, csv=c.csv, ticker=c.ticker, seed=c.seed or 0, length=c.length
                )
            except DataError as err:
                err.key = err.key or {"csv": "csv", "yfinance": "ticker"}.get(c.source, "source")
                raise
        self.series = series
        self.split = split = chronological_split(len(series), c.val_fraction, c.test_fraction)
        self.train_close = train_close = series.close[: split.train_end]
        self.scaler = PriceScaler.fit(train_close, c.target)
        common = {"window": c.window, "horizon": c.horizon}
        windows = {
            "train": part_windows(
                series.close, split, "train", min_window=c.min_window, seed=c.seed, **common
            ),
            "val": part_windows(series.close, split, "val", **common),
            "test": part_windows(series.close, split, "test", **common),
        }
        for part, w in windows.items():
            if len(w) == 0:
                raise DataError(
                    f"the {part} part of {series.name} ({len(series)} days) has no windows of "
                    f"{c.window} days with a {c.horizon}-day horizon: use more data or a "
                    "shorter window",
                    key="window",
                )
        try:  # the baselines are fitted after training: check now that the data allows them
            LinearAR.fit(train_close, order=AR_ORDER, horizon=c.horizon)
        except ValueError as err:
            raise DataError(
                f"the train part of {series.name} ({len(train_close)} of {len(series)} days) "
                f"is too short for the AR({AR_ORDER}) baseline ({err}): use more data",
                key="window",
            ) from None
        self.test = windows["test"]
        return pipeline.Data(
            # The order of each epoch is a function of (seed, epoch): a resumed run sees the
            # same batches.
            train=training_data(windows["train"], self.scaler, c.batch_size, seed=c.seed or 0),
            validation=to_dataset(windows["val"], self.scaler, c.batch_size),
        )

    def model(self):
        c = self.config
        return build_model(c.cell, c.units, c.layers, c.horizon)

    def loss(self) -> str:
        return "mse"

    def trainer_kwargs(self) -> dict[str, Any]:
        kwargs = self.config.trainer_kwargs()
        if self.config.output_dir is not None and kwargs["log_dir"] is None:
            kwargs["log_dir"] = str(Path(self.config.output_dir) / "logs")
        return kwargs

    def evaluate(self, fitted: pipeline.Fitted) -> StockRun:
        c, test = self.config, self.test
        forecasts = {
            c.model_name: predict(make_forecaster(fitted.model, self.scaler), test),
            **all_baselines(
                test.prices, test.lengths, c.horizon, self.train_close, ar_order=AR_ORDER
            ),
        }
        return StockRun(
            series=self.series,
            split=self.split,
            scaler=self.scaler,
            model=fitted.model,
            options={key: getattr(c, key) for key in OPTION_KEYS},
            history=fitted.history,
            seconds=fitted.seconds,
            test=test,
            forecasts=forecasts,
            metrics=compare(forecasts, test.targets, test.last),
            trainer_options={**self.trainer_kwargs(), "strategy": c.strategy},
        )

    def write_outputs(self, result: StockRun) -> None:
        print(result.table())
        if self.config.output_dir is not None:
            for label, path in write_outputs(result, self.config.output_dir).items():
                print(f"{label}: {path}")

    def card(self, result: StockRun) -> dict[str, Any]:
        return result.card()

    def export(self, result: StockRun, card: dict[str, Any]) -> Path:
        c = self.config
        path = export_version(c.model_dir, result.model, result.scaler, card, name=c.name)
        print(f"exported {path}")
        return path


def train(
    config: StockConfig | None = None,
    *,
    series: PriceSeries | None = None,
    callbacks: tuple = (),
    **options: Any,
) -> StockRun:
    """Train our RNN on one series and evaluate it and the baselines on the test windows.

    Args:
        config: the settings; or give them as keyword arguments (the fields of
            :class:`~keras_rnn.predictors.stock.config.StockConfig`, e.g. ``units=8``;
            ``trainer_options={...}`` sets Trainer fields such as ``verbose`` too).
        series: the prices; loaded from ``source``/``csv``/``ticker``/``length`` when None.
        callbacks: :mod:`keras_rnn.training` callbacks for ``fit``.
    """
    return pipeline.train(StockPipeline(_config(config, options), series), callbacks)


def predict(forecaster, windows: Windows, batch_size: int = 1024) -> np.ndarray:
    """Run ``forecaster(prices, lengths)`` over ``windows`` in batches -> float64 [N, H]."""
    fn = tf.function(forecaster, reduce_retracing=True)
    out = [
        fn(windows.prices[i : i + batch_size], windows.lengths[i : i + batch_size]).numpy()
        for i in range(0, len(windows), batch_size)
    ]
    return np.concatenate(out).astype(np.float64)


def write_outputs(run: StockRun, output_dir: str | Path) -> dict[str, Path]:
    """Write ``metrics.json``, ``metrics.txt`` and the plots into ``output_dir``; return paths."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "metrics": out / "metrics.json",
        "table": out / "metrics.txt",
        "forecast_plot": out / "forecast.png",
        "history_plot": out / "training.png",
    }
    payload = {"model": run.model_name, "options": run.options, "test": run.metrics}
    paths["metrics"].write_text(json.dumps(payload, indent=2))
    paths["table"].write_text(run.table())
    plot_forecast(run, paths["forecast_plot"])
    plot_history(run.history, paths["history_plot"], title=f"{run.model_name} on {run.series.name}")
    return paths


def train_and_export(
    config: StockConfig | None = None,
    *,
    series: PriceSeries | None = None,
    callbacks: tuple = (),
    **options: Any,
) -> Path | None:
    """Train (the quick defaults of :class:`StockConfig`, overridable), export a new version,
    return its path.

    The SavedModel goes to ``<model_dir>/<name>/<version>/`` (atomically, with
    ``model_card.json``); with ``output_dir``, plots and metrics are written there, and the
    TensorBoard logs go to ``<output_dir>/logs`` unless ``log_dir`` says otherwise.
    In a multi-worker run only the chief writes and exports; the others return None.
    """
    run = StockPipeline(_config(config, options), series)
    return pipeline.train_and_export(run, callbacks)


def _config(config: StockConfig | None, options: dict[str, Any]) -> StockConfig:
    if config is None:
        return StockConfig(**options)
    return config.replace(**options) if options else config


def _jsonable(options: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, str | int | float | bool | type(None)) else str(v)
        for k, v in options.items()
    }
