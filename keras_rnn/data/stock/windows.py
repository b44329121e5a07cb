"""Chronological splits and variable-length windows, with no look-ahead, as ``tf.data`` pipelines.

A window is the closes ``p[t-L+1 .. t]`` (``L`` = its length, ``t`` = its last known day) and
its targets are ``p[t+1 .. t+H]``. A window belongs to the part (train/val/test) that holds all
its targets; its inputs may reach back into earlier parts (that is history, known at ``t``),
but never forward. Training windows lie wholly inside the training part, so nothing the model
or the scaler learns comes from validation or test days.

Batches are padded on the right to the longest window in the batch and carry a mask, so an RNN
reads each window for exactly its own length: the point of recurrence (curriculum section 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# TensorFlow is imported inside the functions that use it: the command line imports this
# package (for SOURCES and TARGETS) to build its flags, before TensorFlow may load.

PARTS = ("train", "val", "test")


@dataclass(frozen=True)
class Split:
    """Index bounds: train ``[0, train_end)``, val ``[train_end, val_end)``, test ``[val_end, n)``."""

    train_end: int
    val_end: int
    n: int

    def bounds(self, part: str) -> tuple[int, int]:
        if part == "train":
            return 0, self.train_end
        if part == "val":
            return self.train_end, self.val_end
        if part == "test":
            return self.val_end, self.n
        raise ValueError(f"Received an invalid part {part!r}: expected one of {PARTS}")

    def describe(self, dates: np.ndarray) -> dict[str, str]:
        """``{"train": "first..last", ...}`` in dates, for the model card."""
        out = {}
        for part in PARTS:
            start, stop = self.bounds(part)
            out[part] = f"{dates[start]}..{dates[stop - 1]}" if stop > start else "empty"
        return out


def chronological_split(n: int, val_fraction: float = 0.15, test_fraction: float = 0.15) -> Split:
    """Split ``n`` days in time order: the oldest for training, then validation, then test."""
    if not (0 <= val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            "Received invalid split fractions: expected 0 <= val, 0 < test and val + test < 1, "
            f"got val={val_fraction}, test={test_fraction}"
        )
    val_end = n - round(n * test_fraction)
    train_end = val_end - round(n * val_fraction)
    return Split(train_end=train_end, val_end=val_end, n=n)


@dataclass(frozen=True)
class Windows:
    """Windows of one part, as NumPy arrays.

    Attributes:
        prices: float32 [N, max_len], right-padded with 0.
        lengths: int32 [N], each >= 1.
        targets: float32 [N, H], the closes of the next H days.
        ends: int64 [N], the index of each window's last known day ``t``.
    """

    prices: np.ndarray
    lengths: np.ndarray
    targets: np.ndarray
    ends: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def last(self) -> np.ndarray:
        """The last known close of each window, float32 [N]."""
        return self.prices[np.arange(len(self)), self.lengths - 1]


def window_ends(split: Split, part: str, horizon: int, min_length: int = 1) -> np.ndarray:
    """Every last-known day ``t`` whose targets ``t+1..t+horizon`` all fall in ``part``.

    Training windows also need ``min_length`` days of training history (``t >= min_length-1``).
    """
    start, stop = split.bounds(part)
    first = max(start - 1, min_length - 1)
    last = stop - 1 - horizon
    return np.arange(first, last + 1, dtype=np.int64)


def make_windows(close: np.ndarray, ends: np.ndarray, lengths: np.ndarray, horizon: int) -> Windows:
    """Cut windows ``close[t-L+1 .. t]`` with targets ``close[t+1 .. t+horizon]``."""
    close = np.asarray(close, dtype=np.float64)
    ends = np.asarray(ends, dtype=np.int64)
    lengths = np.minimum(np.asarray(lengths, dtype=np.int64), ends + 1)
    if len(ends) and (ends.max() + horizon >= len(close) or lengths.min() < 1):
        raise ValueError("windows reach outside the series")
    width = int(lengths.max()) if len(ends) else 1
    prices = np.zeros((len(ends), width), dtype=np.float32)
    for i, (t, length) in enumerate(zip(ends, lengths, strict=True)):
        prices[i, :length] = close[t - length + 1 : t + 1]
    offsets = ends[:, None] + np.arange(1, horizon + 1)[None, :]
    targets = close[offsets].astype(np.float32) if len(ends) else np.zeros((0, horizon), np.float32)
    return Windows(prices, lengths.astype(np.int32), targets, ends)


def part_windows(
    close: np.ndarray,
    split: Split,
    part: str,
    *,
    window: int,
    horizon: int = 1,
    min_window: int | None = None,
    seed: int | None = 0,
) -> Windows:
    """All windows of ``part``.

    With ``min_window < window`` each window gets a length drawn uniformly from
    ``[min_window, window]`` (reproducible with ``seed``); otherwise all are ``window`` long
    (shorter only where the series has less history).
    """
    if window < 1 or horizon < 1:
        raise ValueError(f"expected window >= 1 and horizon >= 1, got {window} and {horizon}")
    min_window = window if min_window is None else min_window
    if not 1 <= min_window <= window:
        raise ValueError(f"expected 1 <= min_window <= window, got {min_window} and {window}")
    ends = window_ends(split, part, horizon, min_length=min_window if part == "train" else 1)
    if min_window == window:
        lengths = np.full(len(ends), window)
    else:
        lengths = np.random.default_rng(seed).integers(min_window, window + 1, size=len(ends))
    return make_windows(close, ends, lengths, horizon)


def window_examples(windows: Windows):
    """Unbatched ``(prices, targets)`` examples: each window its own length (ragged)."""
    import tensorflow as tf

    lengths = windows.lengths
    flat = np.concatenate([row[:n] for row, n in zip(windows.prices, lengths, strict=True)])
    ragged = tf.RaggedTensor.from_row_lengths(flat.astype(np.float32), lengths.astype(np.int64))
    return tf.data.Dataset.from_tensor_slices((ragged, windows.targets))


def batcher(scaler, batch_size: int, horizon: int):
    """``Dataset -> Dataset``: pad examples of :func:`window_examples` into batches of
    ``({"features": [B, T, 1], "mask": [B, T]}, targets [B, H])``, scaled by ``scaler``."""
    import tensorflow as tf

    def encode(prices, length, future):
        features, mask = scaler.encode_inputs(prices, length)
        last = tf.gather(prices, length - 1, axis=1, batch_dims=1)
        return {"features": features, "mask": mask}, scaler.encode_targets(future, last)

    def batch(ds):
        ds = ds.map(lambda prices, future: (prices, tf.shape(prices)[0], future))
        ds = ds.padded_batch(batch_size, padded_shapes=([None], [], [horizon]))
        return ds.map(encode, num_parallel_calls=tf.data.AUTOTUNE)

    return batch


def training_data(windows: Windows, scaler, batch_size: int, *, seed: int = 0):
    """``epoch -> Dataset``: the training batches of each epoch, shuffled in an order that is
    a function of ``(seed, epoch)`` (:func:`keras_rnn.training.data.shuffled_per_epoch`), so
    a resumed run sees the batches the uninterrupted one saw."""
    from keras_rnn.training.data import shuffled_per_epoch  # TensorFlow: on call only

    return shuffled_per_epoch(
        window_examples(windows),
        batcher(scaler, batch_size, windows.targets.shape[1]),
        seed=seed,
        buffer_size=max(len(windows), 1),
    )


def to_dataset(
    windows: Windows,
    scaler,
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int | None = None,
    epoch: int = 0,
):
    """A ``tf.data.Dataset`` of ``({"features": [B, T, 1], "mask": [B, T]}, targets [B, H])``.

    Windows go in as a ragged tensor (each its own length), are padded per batch by
    ``padded_batch`` to the batch's longest, and are scaled by ``scaler`` (a
    :class:`~keras_rnn.data.stock.scaling.PriceScaler`) inside the pipeline. With
    ``shuffle``, the order is that of ``epoch`` in :func:`training_data` (the same on every
    iteration); train with :func:`training_data` to get a new order each epoch.
    """
    import tensorflow as tf

    if shuffle:
        return training_data(windows, scaler, batch_size, seed=seed or 0)(epoch)
    batch = batcher(scaler, batch_size, windows.targets.shape[1])
    return batch(window_examples(windows)).prefetch(tf.data.AUTOTUNE)
