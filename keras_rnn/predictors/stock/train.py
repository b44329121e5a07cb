"""The stock predictor end to end: data -> windows -> our RNN + our trainer -> metrics -> export.

>>> from keras_rnn.predictors.stock import train_and_export  # doctest: +SKIP
>>> train_and_export(model_dir="models")  # quick defaults: S&P 500, LSTM(16), 3 epochs  # doctest: +SKIP
PosixPath('models/stock/1')
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from keras_rnn.data.stock import (
    DataError,
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
from keras_rnn.predictors.stock.baselines import LinearAR, all_baselines
from keras_rnn.predictors.stock.evaluate import compare, format_table

# What `train_and_export()` uses when called without arguments: offline, well under a minute
# on 2 CPU cores. The CLI's defaults (keras_rnn.predictors.stock.cli) are bigger.
QUICK: dict[str, Any] = {
    "source": "sp500",
    "cell": "lstm",
    "units": 16,
    "layers": 1,
    "window": 20,
    "min_window": 5,
    "horizon": 1,
    "target": "returns",
    "epochs": 3,
    "batch_size": 64,
    "learning_rate": 3e-3,
}
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
        import keras
        import tensorflow as tf

        import keras_rnn

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
            "versions": {
                "tensorflow": tf.__version__,
                "keras": keras.__version__,
                "keras_rnn": keras_rnn.__version__,
            },
            "sample": {
                "name": self.series.name,
                "dates": [str(d) for d in self.series.dates[first:stop]],
                "prices": [round(float(p), 4) for p in self.series.close[first:stop]],
            },
        }


def train(
    *,
    series: PriceSeries | None = None,
    source: str = QUICK["source"],
    csv: str | None = None,
    ticker: str | None = None,
    length: int | None = None,
    cell: str = QUICK["cell"],
    units: int = QUICK["units"],
    layers: int = QUICK["layers"],
    window: int = QUICK["window"],
    min_window: int | None = QUICK["min_window"],
    horizon: int = QUICK["horizon"],
    target: str = QUICK["target"],
    epochs: int = QUICK["epochs"],
    batch_size: int = QUICK["batch_size"],
    learning_rate: float = QUICK["learning_rate"],
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int | None = 0,
    trainer_options: dict[str, Any] | None = None,
    callbacks: tuple = (),
) -> StockRun:
    """Train our RNN on one series and evaluate it and the baselines on the test windows.

    Args:
        series: the prices; loaded from ``source``/``csv``/``ticker``/``length`` when None.
        cell, units, layers: the network (:func:`~keras_rnn.predictors.stock.build.build_model`).
        window, min_window: training windows have lengths drawn from [min_window, window];
            validation and test windows are ``window`` long.
        horizon: days ahead; target: ``"returns"`` or ``"prices"`` (see
            :mod:`keras_rnn.data.stock.scaling`).
        trainer_options: keyword arguments for :class:`keras_rnn.training.Trainer`
            (clipping, checkpoints, TensorBoard ``log_dir``, verbosity, ...).
    """
    import keras

    from keras_rnn.predictors.stock.build import build_model
    from keras_rnn.predictors.stock.export import make_forecaster
    from keras_rnn.training import Trainer
    from keras_rnn.training.devices import resolve_strategy

    # The strategy first: a multi-worker strategy configures TensorFlow's collective ops,
    # which is only possible before the first TensorFlow op (the data pipeline below runs some).
    requested = {"seed": seed, **(trainer_options or {})}
    strategy = resolve_strategy(requested.get("strategy"))
    trainer_options = {**requested, "strategy": strategy}
    if series is None:
        series = load_series(source, csv=csv, ticker=ticker, seed=seed or 0, length=length)
    min_window = window if min_window is None else min_window
    options = {
        "source": source,
        "cell": cell,
        "units": units,
        "layers": layers,
        "window": window,
        "min_window": min_window,
        "horizon": horizon,
        "target": target,
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seed": seed,
    }
    split = chronological_split(len(series), val_fraction, test_fraction)
    train_close = series.close[: split.train_end]
    scaler = PriceScaler.fit(train_close, target)
    common = {"window": window, "horizon": horizon}
    windows = {
        "train": part_windows(
            series.close, split, "train", min_window=min_window, seed=seed, **common
        ),
        "val": part_windows(series.close, split, "val", **common),
        "test": part_windows(series.close, split, "test", **common),
    }
    for part, w in windows.items():
        if len(w) == 0:
            raise DataError(
                f"the {part} part of {series.name} ({len(series)} days) has no windows of "
                f"{window} days with a {horizon}-day horizon: use more data or a shorter window"
            )
    try:  # the baselines are fitted after training: check now that the data allows them
        LinearAR.fit(train_close, order=AR_ORDER, horizon=horizon)
    except ValueError as err:
        raise DataError(
            f"the train part of {series.name} ({len(train_close)} of {len(series)} days) is "
            f"too short for the AR({AR_ORDER}) baseline ({err}): use more data"
        ) from None
    # The order of each epoch is a function of (seed, epoch): a resumed run sees the same batches.
    train_data = training_data(windows["train"], scaler, batch_size, seed=seed or 0)
    val_ds = to_dataset(windows["val"], scaler, batch_size)

    if seed is not None:
        keras.utils.set_random_seed(seed)
    with strategy.scope():  # variables of a mirrored/multi-worker run live on every replica
        model = build_model(cell, units, layers, horizon)
        optimizer = keras.optimizers.Adam(learning_rate)
    trainer = Trainer(model, "mse", optimizer, **trainer_options)
    started = time.perf_counter()
    history = trainer.fit(train_data, epochs=epochs, validation_data=val_ds, callbacks=callbacks)
    seconds = time.perf_counter() - started

    test = windows["test"]
    forecasts = {
        f"{cell} {layers}x{units} (ours)": predict(make_forecaster(model, scaler), test),
        **all_baselines(test.prices, test.lengths, horizon, train_close, ar_order=AR_ORDER),
    }
    return StockRun(
        series=series,
        split=split,
        scaler=scaler,
        model=model,
        options=options,
        history={k: [float(v) for v in vs] for k, vs in history.history.items()},
        seconds=seconds,
        test=test,
        forecasts=forecasts,
        metrics=compare(forecasts, test.targets, test.last),
        trainer_options=requested,
    )


def predict(forecaster, windows: Windows, batch_size: int = 1024) -> np.ndarray:
    """Run ``forecaster(prices, lengths)`` over ``windows`` in batches -> float64 [N, H]."""
    import tensorflow as tf

    fn = tf.function(forecaster, reduce_retracing=True)
    out = [
        fn(windows.prices[i : i + batch_size], windows.lengths[i : i + batch_size]).numpy()
        for i in range(0, len(windows), batch_size)
    ]
    return np.concatenate(out).astype(np.float64)


def write_outputs(run: StockRun, output_dir: str | Path) -> dict[str, Path]:
    """Write ``metrics.json``, ``metrics.txt`` and the plots into ``output_dir``; return paths."""
    from keras_rnn.predictors.stock.plots import plot_forecast, plot_history

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
    *,
    model_dir: str | Path = "models",
    output_dir: str | Path | None = None,
    name: str = "stock",
    **options: Any,
) -> Path | None:
    """Train with :data:`QUICK` defaults (overridable), export a new version, return its path.

    The SavedModel goes to ``<model_dir>/<name>/<version>/`` (atomically, with
    ``model_card.json``); with ``output_dir``, plots and metrics are written there, and the
    TensorBoard logs go to ``<output_dir>/logs`` unless ``trainer_options`` says otherwise.
    In a multi-worker run only the chief writes and exports; the others return None.
    """
    from keras_rnn.predictors.stock.export import export_version
    from keras_rnn.training.devices import is_chief, resolve_strategy

    if output_dir is not None:
        trainer_options = dict(options.pop("trainer_options", None) or {})
        if trainer_options.get("log_dir") is None:
            trainer_options["log_dir"] = str(Path(output_dir) / "logs")
        options["trainer_options"] = trainer_options
    run = train(**options)
    if not is_chief(resolve_strategy(run.trainer_options.get("strategy"))):
        print("not the chief worker: the chief writes the outputs and exports the model")
        return None
    print(run.table())
    if output_dir is not None:
        for label, path in write_outputs(run, output_dir).items():
            print(f"{label}: {path}")
    path = export_version(model_dir, run.model, run.scaler, run.card(), name=name)
    print(f"exported {path}")
    return path


def _jsonable(options: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, str | int | float | bool | type(None)) else str(v)
        for k, v in options.items()
    }
