"""Price sources: CSV files written here (good and malformed), the bundled files, StatLand, synthetic, yfinance."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from keras_rnn.data.stock import DataError, load_csv, load_series, statland, synthetic
from keras_rnn.data.stock import sources as sources_module

GOOD = """Date,Open,High,Low,Close,Volume
2020-01-02,10,11,9,10.5,100
2020-01-03,10.5,12,10,11.5,120
2020-01-06,11.5,12,11,11.0,90
"""


def write(tmp_path, text: str, name: str = "prices.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_good_file(tmp_path):
    series = load_csv(write(tmp_path, GOOD))
    assert series.close.tolist() == [10.5, 11.5, 11.0]
    assert [str(d) for d in series.dates] == ["2020-01-02", "2020-01-03", "2020-01-06"]
    assert series.range == "2020-01-02..2020-01-06"
    assert series.extra["volume"].tolist() == [100, 120, 90]


def test_csv_close_only_lowercase_columns(tmp_path):
    series = load_csv(write(tmp_path, "date,close\n2021-03-01,5\n2021-03-02,6\n"))
    assert series.close.tolist() == [5.0, 6.0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Day2,Close\n2020-01-02,1\n2020-01-03,2\n", "no date column"),
        ("Date,Open\n2020-01-02,1\n2020-01-03,2\n", "no close column"),
        ("Date,Close\n2020-01-03,1\n2020-01-02,2\n", "not in ascending order"),
        ("Date,Close\n2020-01-02,1\n2020-01-02,2\n", "duplicate date 2020-01-02"),
        ("Date,Close\n2020-01-02,1\n2020-01-03,\n2020-01-06,3\n", "row(s) 3 (2020-01-03)"),
        ("Date,Close\n2020-01-02,1\n2020-01-03,abc\n", "missing or non-numeric"),
        ("Date,Close\n2020-01-02,1\nnot-a-date,2\n", "row 3: cannot read 'not-a-date'"),
        ("Date,Close\n2020-01-02,1\n2020-01-03,-2\n", "must be positive"),
        ("Date,Close\n", "no rows"),
        ("Date,Close\n2020-01-02,1\n", "at least 2 prices"),
    ],
)
def test_csv_malformed_files_say_what_is_wrong(tmp_path, text, expected):
    with pytest.raises(DataError, match=None) as info:
        load_csv(write(tmp_path, text))
    assert expected in str(info.value)


def test_csv_missing_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_csv(tmp_path / "nope.csv")


def test_sp500_offline_default_is_the_bundled_yahoo_extract():
    series = load_series("sp500")
    assert len(series) == 5031
    assert series.range == "1999-01-04..2018-12-31"
    assert "bundled/sp500.csv" in series.source
    assert series.close[0] == pytest.approx(1228.099976)  # ^GSPC close on 1999-01-04


def test_nasdaq_is_bundled_too():
    series = load_series("nasdaq")
    assert len(series) == 5031 and series.range == "1999-01-04..2018-12-31"
    assert "bundled/nasdaq.csv" in series.source and series.name.startswith("NASDAQ")


def test_statland_follows_the_four_scenarios():
    series = statland(3000, seed=1, rule_probability=0.9, low_price=10.0, high_price=20.0)
    levels = series.extra["levels"]
    np.testing.assert_allclose((series.close - 10.0) / 10.0, levels)  # low 0, medium .5, high 1
    rules = {(0.0, 0.0): 0.0, (0.0, 0.5): 1.0, (1.0, 0.5): 0.0, (1.0, 1.0): 1.0}
    followed = {pair: [] for pair in rules}
    for t in range(2, len(levels)):
        pair = (levels[t - 2], levels[t - 1])
        if pair in rules:
            followed[pair].append(levels[t] == rules[pair])
    for pair, hits in followed.items():
        # the rule, or a uniform draw that happens to agree: 0.9 + 0.1 / 3 on average
        assert len(hits) >= 20, pair
        assert 0.85 <= np.mean(hits) <= 1.0, (pair, np.mean(hits))


def test_generated_series_are_reproducible():
    a, b = synthetic(200, seed=3), synthetic(200, seed=3)
    np.testing.assert_array_equal(a.close, b.close)
    assert not np.array_equal(a.close, synthetic(200, seed=4).close)


def test_yfinance_missing_package_names_the_alternatives(monkeypatch):
    monkeypatch.setitem(sys.modules, "yfinance", None)  # import fails as if not installed
    with pytest.raises(DataError) as info:
        load_series("yfinance", ticker="AAPL")
    assert "keras-rnn[online]" in str(info.value)
    assert "--source sp500" in str(info.value)


def test_yfinance_offline_fails_fast_without_fetching(monkeypatch):
    fake = types.ModuleType("yfinance")

    def no_fetch(*_args, **_kwargs):
        raise AssertionError("must not try to download when the host is unreachable")

    fake.Ticker = no_fetch
    fake.__version__ = "0"
    monkeypatch.setitem(sys.modules, "yfinance", fake)
    monkeypatch.setattr(sources_module, "_reachable", lambda host, port, timeout: False)
    with pytest.raises(DataError, match=r"looks offline; use an offline source"):
        load_series("yfinance", ticker="AAPL")


def test_reachable_is_false_for_a_closed_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connection refused
        assert sources_module._reachable("127.0.0.1", port, timeout=2.0) is False


def test_unknown_source():
    with pytest.raises(DataError, match="unknown source 'bitcoin'"):
        load_series("bitcoin")


@pytest.mark.parametrize("which", ["sp500", "nasdaq"])
def test_bundled_file_equals_the_arch_data_it_was_cut_from(which):
    """The shipped file gives exactly the numbers `arch` gives (where arch is installed)."""
    arch_data = pytest.importorskip(f"arch.data.{which}")
    frame = arch_data.load()
    series = load_series(which)
    np.testing.assert_array_equal(series.dates, frame.index.values.astype("datetime64[D]"))
    np.testing.assert_array_equal(series.close, frame["Close"].to_numpy())  # bit for bit
