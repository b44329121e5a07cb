"""Stock prices: sources (``load_series``), chronological windows, and train-only scaling.

>>> from keras_rnn.data.stock import load_series, chronological_split, part_windows
>>> series = load_series("synthetic", length=300)
>>> split = chronological_split(len(series))
>>> part_windows(series.close, split, "test", window=20, horizon=1).prices.shape
(45, 20)

Importing this package does not import TensorFlow; the ``tf.data`` and scaling functions
import it when called.
"""

from keras_rnn.data.stock.scaling import TARGETS, PriceScaler, last_price
from keras_rnn.data.stock.sources import (
    SOURCES,
    DataError,
    PriceSeries,
    load_bundled,
    load_csv,
    load_series,
    load_yfinance,
    statland,
    synthetic,
)
from keras_rnn.data.stock.windows import (
    PARTS,
    Split,
    Windows,
    chronological_split,
    make_windows,
    part_windows,
    to_dataset,
    window_ends,
)

__all__ = [
    "PARTS",
    "SOURCES",
    "TARGETS",
    "DataError",
    "PriceScaler",
    "PriceSeries",
    "Split",
    "Windows",
    "chronological_split",
    "last_price",
    "load_bundled",
    "load_csv",
    "load_series",
    "load_yfinance",
    "make_windows",
    "part_windows",
    "statland",
    "synthetic",
    "to_dataset",
    "window_ends",
]
