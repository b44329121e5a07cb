"""The stock predictor's run config: one field per setting, its default the quick run.

>>> StockConfig().units, StockConfig(**StockConfig.CLI_PRESET).units
(16, 32)

Field defaults are what ``train_and_export()`` uses without arguments: offline, well under a
minute on 2 CPU cores. ``keras-rnn train stock`` is a bigger run: :data:`CLI_PRESET` holds
the defaults it changes, and nothing else defines a default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from keras_rnn.data.stock.scaling import TARGETS
from keras_rnn.data.stock.sources import SOURCES
from keras_rnn.predictors.config import CELLS, ConfigError, RunConfig, same, setting
from keras_rnn_cli.args import fraction, positive_int

GENERATED = ("statland", "synthetic")  # the sources `length` (--days) sizes


@dataclass
class StockConfig(RunConfig):
    """Everything a stock run depends on (data, model, training, outputs)."""

    CLI_PRESET: ClassVar[dict[str, Any]] = {
        "units": 32,
        "window": 60,
        "min_window": 10,
        "epochs": 10,
        "learning_rate": 2e-3,
        "seed": None,
        "output_dir": "outputs/stock",
    }

    source: str = setting(
        "sp500",
        choices=SOURCES,
        group="data",
        help="sp500/nasdaq: daily closes 1999-2018 shipped in the package (Yahoo Finance via "
        "`arch`, offline); csv: --csv PATH; yfinance: --ticker, online (pip install "
        "'keras-rnn[online]'); statland/synthetic: generated",
    )
    csv: str | None = setting(
        None, group="data", metavar="PATH", help="CSV file with date and close columns"
    )
    ticker: str | None = setting(None, group="data", help="symbol for --source yfinance, e.g. AAPL")
    length: int | None = setting(
        None,
        positive_int,
        flag="--days",
        group="data",
        metavar="N",
        help="length of the generated series (statland, synthetic); default: 1500",
    )
    val_fraction: float = setting(
        0.15, fraction, group="data", metavar="F", help="the F days after training validate"
    )
    test_fraction: float = setting(
        0.15, fraction, group="data", metavar="F", help="the last F days test"
    )
    cell: str = setting("lstm", choices=CELLS, group="model", help="the recurrent cell")
    units: int = setting(16, positive_int, group="model", help="hidden units per layer")
    layers: int = setting(1, positive_int, group="model", help="stacked recurrent layers")
    window: int = setting(
        20,
        positive_int,
        group="model",
        help="longest input window in days (validation/test windows have this length)",
    )
    min_window: int | None = setting(
        5,
        positive_int,
        group="model",
        help="shortest training window; lengths are drawn from [min, window] (None: window)",
    )
    horizon: int = setting(1, positive_int, group="model", help="days ahead forecast")
    target: str = setting(
        "returns",
        choices=TARGETS,
        group="model",
        help="what the net predicts: scaled log returns or standardised prices",
    )
    epochs: int = same("epochs", 3)
    learning_rate: float = same("learning_rate", 3e-3)
    seed: int | None = same("seed", 0)
    output_dir: str | None = same(
        "output_dir", None, help="plots, metrics JSON and (unless --log-dir) TensorBoard logs"
    )
    name: str = same("name", "stock")

    def check(self) -> None:
        super().check()
        if self.min_window is None:
            self.min_window = self.window
        if self.min_window > self.window:
            raise ConfigError(
                "min_window",
                None,
                f"expected at most `window` ({self.window}), got {self.min_window}",
            )
        source = self.source
        if source == "csv" and not self.csv:
            raise ConfigError(
                "csv", None, "required with `source` csv (a file with date and close columns)"
            )
        if self.csv and source != "csv":
            raise ConfigError("csv", None, f"only used with `source` csv, got `source` {source}")
        if source == "yfinance" and not self.ticker:
            raise ConfigError(
                "ticker", None, "required with `source` yfinance (e.g. `ticker` AAPL)"
            )
        if self.ticker and source != "yfinance":
            raise ConfigError(
                "ticker", None, f"only used with `source` yfinance, got `source` {source}"
            )
        if self.csv and not Path(self.csv).is_file():
            raise ConfigError("csv", None, f"no such file {self.csv!r}")
        if self.length is not None and source not in GENERATED:
            raise ConfigError(
                "length", None, f"only used with `source` statland/synthetic, got {source}"
            )

    @property
    def model_name(self) -> str:
        """How tables and the card name our network: ``lstm 1x16 (ours)``."""
        return f"{self.cell} {self.layers}x{self.units} (ours)"
