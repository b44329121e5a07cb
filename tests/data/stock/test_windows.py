"""Chronological split, no look-ahead, train-only scaling, and variable-length padded batches."""

from __future__ import annotations

import numpy as np
import pytest

from keras_rnn.data.stock import (
    PriceScaler,
    chronological_split,
    make_windows,
    part_windows,
    synthetic,
    to_dataset,
)

CLOSE = synthetic(400, seed=0).close


def test_split_is_chronological_and_covers_everything():
    split = chronological_split(400, 0.15, 0.15)
    assert (split.train_end, split.val_end, split.n) == (280, 340, 400)
    assert split.bounds("train") == (0, 280)
    assert split.bounds("val") == (280, 340)
    assert split.bounds("test") == (340, 400)


@pytest.mark.parametrize("horizon", [1, 3])
def test_windows_never_look_ahead(horizon):
    split = chronological_split(len(CLOSE))
    for part in ("train", "val", "test"):
        w = part_windows(CLOSE, split, part, window=12, min_window=4, horizon=horizon, seed=1)
        start, stop = split.bounds(part)
        # every target is inside the part, every input is before the first target
        assert (w.ends + 1 >= start).all() and (w.ends + horizon < stop).all()
        if part == "train":
            assert (w.ends - w.lengths + 1 >= 0).all()
        # inputs are exactly the closes up to t, targets exactly t+1..t+H
        for i in range(0, len(w), 17):
            t, n = w.ends[i], w.lengths[i]
            np.testing.assert_array_equal(
                w.prices[i, :n], CLOSE[t - n + 1 : t + 1].astype(np.float32)
            )
            np.testing.assert_array_equal(w.prices[i, n:], 0)
            np.testing.assert_array_equal(
                w.targets[i], CLOSE[t + 1 : t + 1 + horizon].astype(np.float32)
            )
    # consecutive parts tile the days: the first test target is the first test day
    test = part_windows(CLOSE, split, "test", window=12, horizon=horizon)
    assert test.ends[0] + 1 == split.val_end and test.ends[-1] + horizon == len(CLOSE) - 1


def test_changing_the_future_changes_no_earlier_window_or_the_scaler():
    split = chronological_split(len(CLOSE))
    changed = CLOSE.copy()
    changed[split.train_end :] *= 3.0  # a crash-proof "future": val and test prices differ
    a = part_windows(CLOSE, split, "train", window=12, min_window=4, horizon=2, seed=0)
    b = part_windows(changed, split, "train", window=12, min_window=4, horizon=2, seed=0)
    np.testing.assert_array_equal(a.prices, b.prices)
    np.testing.assert_array_equal(a.targets, b.targets)
    for target in ("returns", "prices"):
        assert PriceScaler.fit(CLOSE[: split.train_end], target) == PriceScaler.fit(
            changed[: split.train_end], target
        )


def test_scaler_is_fitted_on_training_prices_only():
    train = np.array([10.0, 20.0, 15.0, 12.0])
    prices = PriceScaler.fit(train, "prices")
    assert prices.offset == pytest.approx(14.25) and prices.scale == pytest.approx(np.std(train))
    returns = PriceScaler.fit(train, "returns")
    assert returns.scale == pytest.approx(np.std(np.diff(np.log(train))))
    with pytest.raises(ValueError, match="argument `target`"):
        PriceScaler.fit(train, "volume")


@pytest.mark.parametrize("target", ["returns", "prices"])
def test_targets_round_trip_to_prices(target):
    scaler = PriceScaler.fit(CLOSE[:200], target)
    future = np.array([[101.0, 99.0, 103.0], [50.0, 51.0, 52.5]], np.float32)
    last = np.array([100.0, 50.0], np.float32)
    encoded = scaler.encode_targets(future, last)
    np.testing.assert_allclose(scaler.decode(encoded, last).numpy(), future, rtol=1e-5)


def test_returns_features_hand_checked():
    scaler = PriceScaler("returns", 0.0, 0.5)
    prices = np.array([[100.0, 110.0, 99.0], [50.0, 55.0, 0.0]], np.float32)
    features, mask = scaler.encode_inputs(prices, np.array([3, 2]))
    expected = np.array(
        [[0.0, np.log(1.1) / 0.5, np.log(0.9) / 0.5], [0.0, np.log(1.1) / 0.5, 0.0]]
    )
    np.testing.assert_allclose(features.numpy()[..., 0], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(mask.numpy(), [[True, True, True], [True, True, False]])


def test_variable_length_windows_are_padded_per_batch_and_masked():
    split = chronological_split(len(CLOSE))
    w = part_windows(CLOSE, split, "train", window=15, min_window=3, horizon=2, seed=0)
    assert set(np.unique(w.lengths)) == set(range(3, 16))  # every length 3..15 occurs
    scaler = PriceScaler.fit(CLOSE[: split.train_end], "prices")
    seen = 0
    for x, y in to_dataset(w, scaler, batch_size=8):
        features, mask = x["features"].numpy(), x["mask"].numpy()
        lengths = w.lengths[seen : seen + len(mask)]
        assert features.shape == (len(mask), lengths.max(), 1)  # padded to the batch's longest
        np.testing.assert_array_equal(mask.sum(axis=1), lengths)
        np.testing.assert_array_equal(mask, np.arange(lengths.max())[None, :] < lengths[:, None])
        assert (features[~mask] == 0).all()
        expected = (
            w.prices[seen : seen + len(mask), : lengths.max()] - scaler.offset
        ) / scaler.scale
        np.testing.assert_allclose(features[..., 0][mask], expected[mask], rtol=1e-5)
        assert y.shape == (len(mask), 2)
        seen += len(mask)
    assert seen == len(w)


def test_make_windows_rejects_windows_outside_the_series():
    with pytest.raises(ValueError, match="outside the series"):
        make_windows(CLOSE, np.array([len(CLOSE) - 1]), np.array([5]), horizon=1)
