"""Where daily closing prices come from, behind one small interface: ``load_series(source)``.

Every source returns a :class:`PriceSeries`: strictly increasing dates and finite, positive
closes. Sources:

- ``sp500`` / ``nasdaq`` (the offline default): daily closes of the S&P 500 (^GSPC) and the
  NASDAQ Composite (^IXIC), 1999-01-04 to 2018-12-31, 5,031 trading days each, from files
  shipped inside this package (``keras_rnn/data/stock/bundled/``): the date and ``Close``
  columns of the Yahoo Finance extract that the ``arch`` package bundles, unchanged (its
  README names the source and the licence).
- ``csv``: a file with a date column and a close column (optionally open/high/low/volume).
- ``yfinance``: any ticker, online, through the optional ``yfinance`` package
  (``pip install 'keras-rnn[online]'``); fails within ~2 s when offline.
- ``statland``: the curriculum's StatLand market: levels low/medium/high, next day set by the
  previous two days (low, low -> low; low, medium -> high; high, medium -> low;
  high, high -> high).
- ``synthetic``: two superposed cycles plus noise: structure a recurrent net can learn.

This module does not import TensorFlow.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from keras_rnn.data import DataError

SOURCES = ("sp500", "nasdaq", "csv", "yfinance", "statland", "synthetic")

DATE_COLUMNS = ("date", "datetime", "timestamp", "time", "day")
CLOSE_COLUMNS = ("close", "adj close", "adj_close", "adjclose", "price")
YAHOO_HOST = ("query2.finance.yahoo.com", 443)

# StatLand levels: prices are scaled so that low = 0, medium = 0.5 and high = 1.
LOW, MEDIUM, HIGH = 0.0, 0.5, 1.0
STATLAND_RULES: dict[tuple[float, float], float] = {
    (LOW, LOW): LOW,
    (LOW, MEDIUM): HIGH,
    (HIGH, MEDIUM): LOW,
    (HIGH, HIGH): HIGH,
}


@dataclass(frozen=True)
class PriceSeries:
    """Daily closing prices.

    Attributes:
        name: what the prices are of, e.g. ``"S&P 500 (^GSPC)"``.
        source: where they came from, precise enough to fetch them again.
        dates: ``datetime64[D]`` [n], strictly increasing.
        close: float64 [n], finite and > 0, in price units.
    """

    name: str
    source: str
    dates: np.ndarray
    close: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        dates = np.asarray(self.dates).astype("datetime64[D]")
        close = np.asarray(self.close, dtype=np.float64)
        object.__setattr__(self, "dates", dates)
        object.__setattr__(self, "close", close)
        if dates.ndim != 1 or close.shape != dates.shape:
            raise DataError(
                f"{self.name}: expected as many dates as closes, got {dates.shape} and {close.shape}"
            )
        if len(close) < 2:
            raise DataError(f"{self.name}: expected at least 2 prices, got {len(close)}")
        _check_dates(dates, self.name)
        _check_closes(close, dates, self.name)

    def __len__(self) -> int:
        return len(self.close)

    @property
    def range(self) -> str:
        return f"{self.dates[0]}..{self.dates[-1]}"

    def describe(self) -> dict[str, Any]:
        """The model card's ``data`` entry."""
        return {"name": self.name, "source": self.source, "range": self.range, "rows": len(self)}


def load_series(
    source: str = "sp500",
    *,
    csv: str | os.PathLike | None = None,
    ticker: str | None = None,
    seed: int = 0,
    length: int | None = None,
) -> PriceSeries:
    """Load a :class:`PriceSeries` from one of :data:`SOURCES` (see the module docstring).

    Args:
        source: one of :data:`SOURCES`.
        csv: the file for ``source="csv"``.
        ticker: the symbol for ``source="yfinance"`` (e.g. ``"AAPL"``).
        seed: the random seed of the generated sources (``statland``, ``synthetic``).
        length: the number of days of the generated sources.
    """
    if source in ("sp500", "nasdaq"):
        return load_bundled(source)
    if source == "csv":
        if csv is None:
            raise DataError("source 'csv' needs a file: pass --csv PATH (csv=...)")
        return load_csv(csv)
    if source == "yfinance":
        if not ticker:
            raise DataError("source 'yfinance' needs a symbol: pass --ticker (ticker=...)")
        return load_yfinance(ticker)
    if source == "statland":
        return statland(length or 1500, seed=seed)
    if source == "synthetic":
        return synthetic(length or 1500, seed=seed)
    raise DataError(f"unknown source {source!r}: expected one of {', '.join(SOURCES)}")


# --- offline real data ---------------------------------------------------------------------------

BUNDLED = {
    "sp500": ("S&P 500 (^GSPC)", "sp500.csv"),
    "nasdaq": ("NASDAQ Composite (^IXIC)", "nasdaq.csv"),
}


def load_bundled(which: str = "sp500") -> PriceSeries:
    """Daily closes shipped with this package (Yahoo Finance extract via ``arch``, 1999-2018).

    The file holds ``date,close`` rows, the closes written as Python's shortest round-trip
    ``repr``, so ``float()`` reads back exactly the numbers ``arch.data.<which>.load()`` gives.
    Needs neither pandas nor ``arch``.
    """
    if which not in BUNDLED:
        raise DataError(f"no bundled series {which!r}: expected one of {', '.join(BUNDLED)}")
    name, filename = BUNDLED[which]
    resource = files("keras_rnn.data.stock") / "bundled" / filename
    rows = resource.read_text(encoding="utf-8").splitlines()[1:]
    dates, closes = zip(*(row.split(",") for row in rows if row), strict=True)
    return PriceSeries(
        name=name,
        source=f"bundled file keras_rnn/data/stock/bundled/{filename} (Yahoo Finance daily "
        "'Close', 1999-2018, as distributed with the arch package; offline)",
        dates=np.array(dates, dtype="datetime64[D]"),
        close=np.array([float(c) for c in closes], dtype=np.float64),
    )


# --- CSV -----------------------------------------------------------------------------------------


def load_csv(path: str | os.PathLike, *, close_column: str | None = None) -> PriceSeries:
    """Read ``path``: a date column and a close column (names matched case-insensitively).

    Date columns: any of :data:`DATE_COLUMNS`; close columns: any of :data:`CLOSE_COLUMNS` (the
    first found) unless ``close_column`` names one. Rows must be in ascending date order, with no
    duplicate dates and no missing closes; each problem is reported with its row number
    (1-based, the header being row 1, as a spreadsheet shows it).
    """
    import pandas as pd  # the `stock` extra: only the csv source needs it

    path = Path(path)
    if not path.is_file():
        raise DataError(f"CSV file {str(path)!r} does not exist")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DataError(f"CSV file {str(path)!r} cannot be parsed: {err}") from None
    columns = {str(c).strip().lower(): c for c in frame.columns}
    date_col = next((columns[c] for c in DATE_COLUMNS if c in columns), None)
    if date_col is None:
        raise DataError(
            f"CSV file {str(path)!r} has no date column: expected one named "
            f"{' or '.join(repr(c) for c in DATE_COLUMNS)}; found {list(map(str, frame.columns))}"
        )
    wanted = (close_column.strip().lower(),) if close_column else CLOSE_COLUMNS
    close_col = next((columns[c] for c in wanted if c in columns), None)
    if close_col is None:
        raise DataError(
            f"CSV file {str(path)!r} has no close column: expected one named "
            f"{' or '.join(repr(c) for c in wanted)}; found {list(map(str, frame.columns))}"
        )
    if frame.empty:
        raise DataError(f"CSV file {str(path)!r} has a header but no rows")

    dates = pd.to_datetime(frame[date_col], errors="coerce")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise DataError(
            f"CSV file {str(path)!r}, row {row + 2}: cannot read {frame[date_col].iloc[row]!r} "
            f"in column {str(date_col)!r} as a date (expected e.g. 2018-12-31)"
        )
    close = pd.to_numeric(frame[close_col], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(close)
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = ", ".join(f"{r + 2} ({dates.iloc[r].date()})" for r in rows[:5])
        more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        raise DataError(
            f"CSV file {str(path)!r}: {len(rows)} missing or non-numeric value(s) in column "
            f"{str(close_col)!r} at row(s) {shown}{more}; fill or drop them first "
            "(e.g. pandas' DataFrame.ffill())"
        )
    extra = {
        str(c).lower(): frame[columns[c]].to_numpy()
        for c in ("open", "high", "low", "volume")
        if c in columns
    }
    return PriceSeries(
        name=path.stem,
        source=f"CSV file {path.resolve()} (column {str(close_col)!r})",
        dates=dates.to_numpy(),
        close=close,
        extra=extra,
    )


# --- online --------------------------------------------------------------------------------------


def load_yfinance(ticker: str, *, period: str = "max", timeout: float = 2.0) -> PriceSeries:
    """Daily closes of ``ticker`` from Yahoo Finance via the optional ``yfinance`` package.

    Fails fast, with what to use instead, when the package is missing or the host cannot be
    reached within ``timeout`` seconds (name resolution included).
    """
    offline_hint = (
        "use an offline source instead: --source sp500 or --source nasdaq (bundled daily "
        "closes, 1999-2018) or --source csv --csv PATH"
    )
    try:
        import yfinance
    except ImportError:
        raise DataError(
            "source 'yfinance' needs the optional yfinance package: "
            f"pip install 'keras-rnn[online]'; or {offline_hint}"
        ) from None
    if not _reachable(*YAHOO_HOST, timeout=timeout):
        raise DataError(
            f"cannot reach Yahoo Finance ({YAHOO_HOST[0]}) within {timeout:g} s: this machine "
            f"looks offline; {offline_hint}"
        )
    try:
        frame = yfinance.Ticker(ticker).history(period=period, interval="1d", auto_adjust=False)
    except Exception as err:  # yfinance raises many kinds; all mean "no data"
        raise DataError(f"yfinance could not fetch {ticker!r}: {err}; {offline_hint}") from None
    if frame is None or frame.empty or "Close" not in frame:
        raise DataError(f"yfinance returned no daily prices for {ticker!r}; {offline_hint}")
    frame = frame.dropna(subset=["Close"])
    index = frame.index.tz_localize(None) if frame.index.tz is not None else frame.index
    return PriceSeries(
        name=ticker,
        source=f"Yahoo Finance via yfinance {yfinance.__version__} (ticker {ticker!r}, daily Close)",
        dates=index.values,
        close=frame["Close"].to_numpy(),
    )


def _reachable(host: str, port: int, timeout: float) -> bool:
    """Can a TCP connection be opened within ``timeout`` s? A thread bounds the DNS lookup too."""
    result: list[bool] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


# --- generated -----------------------------------------------------------------------------------


def statland(
    length: int = 1500,
    *,
    seed: int = 0,
    rule_probability: float = 0.8,
    low_price: float = 10.0,
    high_price: float = 20.0,
    noise: float = 0.0,
) -> PriceSeries:
    """The StatLand market of the curriculum, as a price series.

    Each day's level is low (0), medium (0.5) or high (1). When the previous two days match
    one of the four StatLand scenarios (:data:`STATLAND_RULES`), the next day follows the rule
    with probability ``rule_probability``; otherwise (and for the other pairs) it is drawn
    uniformly. Price = ``low_price + level * (high_price - low_price)`` (+ Gaussian ``noise`` in
    price units), so min-max scaling on the data recovers low = 0, medium = 0.5, high = 1.
    """
    if length < 3:
        raise DataError(f"statland: expected length >= 3, got {length}")
    rng = np.random.default_rng(seed)
    levels = np.empty(length)
    choices = np.array([LOW, MEDIUM, HIGH])
    levels[:2] = rng.choice(choices, size=2)
    for t in range(2, length):
        rule = STATLAND_RULES.get((levels[t - 2], levels[t - 1]))
        follow = rule is not None and rng.random() < rule_probability
        levels[t] = rule if follow else rng.choice(choices)
    close = low_price + levels * (high_price - low_price)
    if noise:
        close = close + rng.normal(0.0, noise, size=length)
    return PriceSeries(
        name="StatLand",
        source=f"generated: keras_rnn.data.stock.statland(length={length}, seed={seed}, "
        f"rule_probability={rule_probability}, noise={noise})",
        dates=_business_days(length),
        close=close,
        extra={"levels": levels},
    )


def synthetic(
    length: int = 1500,
    *,
    seed: int = 0,
    periods: tuple[float, float] = (23.0, 61.0),
    amplitudes: tuple[float, float] = (0.05, 0.08),
    noise: float = 0.002,
    start_price: float = 100.0,
) -> PriceSeries:
    """A series with learnable structure: two cycles in the log price plus a little noise.

    ``log p_t = log(start_price) + sum_k a_k sin(2 pi t / P_k + phi_k) + eps_t``,
    ``eps_t ~ N(0, noise^2)``. Daily returns are then mostly a deterministic function of the
    recent past, so a recurrent net (and linear autoregression) beat persistence by far.
    """
    if length < 3:
        raise DataError(f"synthetic: expected length >= 3, got {length}")
    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype=np.float64)
    phases = rng.uniform(0, 2 * np.pi, size=len(periods))
    log_price = np.log(start_price) + rng.normal(0.0, noise, size=length)
    for period, amplitude, phase in zip(periods, amplitudes, phases, strict=True):
        log_price += amplitude * np.sin(2 * np.pi * t / period + phase)
    return PriceSeries(
        name="synthetic cycles",
        source=f"generated: keras_rnn.data.stock.synthetic(length={length}, seed={seed}, "
        f"periods={periods}, amplitudes={amplitudes}, noise={noise})",
        dates=_business_days(length),
        close=np.exp(log_price),
    )


# --- checks --------------------------------------------------------------------------------------


def _business_days(length: int) -> np.ndarray:
    start = np.datetime64("2000-01-03", "D")
    return np.busday_offset(start, np.arange(length), roll="forward")


def _check_dates(dates: np.ndarray, name: str) -> None:
    step = np.diff(dates.astype(np.int64))
    if (step == 0).any():
        i = int(np.flatnonzero(step == 0)[0])
        raise DataError(
            f"{name}: duplicate date {dates[i]} at positions {i} and {i + 1} (0-based data rows; "
            f"row {i + 2} and {i + 3} of a CSV file with a header); keep one row per date"
        )
    if (step < 0).any():
        i = int(np.flatnonzero(step < 0)[0])
        raise DataError(
            f"{name}: dates are not in ascending order: {dates[i + 1]} comes after {dates[i]} "
            f"(data rows {i} and {i + 1}, 0-based; row {i + 2} and {i + 3} of a CSV file with a "
            "header); sort the rows by date first"
        )


def _check_closes(close: np.ndarray, dates: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(close) | (close <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{name}: {int(bad.sum())} close(s) missing or not > 0, the first on {dates[i]} "
            f"(value {close[i]!r}); prices must be positive numbers"
        )
