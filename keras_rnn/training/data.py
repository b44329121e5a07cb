"""Training data whose order is a function of (seed, epoch), so that a resumed run sees the
very batches the uninterrupted run would have.

``Trainer.fit`` accepts either a ``tf.data.Dataset`` (iterated once per epoch; on resume the
batches already trained on are skipped with ``Dataset.skip``) or a function
``epoch -> Dataset``. A dataset that reshuffles itself each iteration
(``shuffle(..., reshuffle_each_iteration=True)``) draws a new order from a counter that a
new process starts again at 0, so it cannot be resumed exactly: use :func:`shuffled_per_epoch`.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

EpochData = tf.data.Dataset | Callable[[int], tf.data.Dataset]


def shuffled_per_epoch(
    dataset: tf.data.Dataset,
    batch_size: int,
    *,
    seed: int,
    buffer_size: int | None = None,
    drop_remainder: bool = False,
) -> Callable[[int], tf.data.Dataset]:
    """``epoch -> dataset.shuffle(seed=f(seed, epoch)).batch(batch_size).prefetch()``.

    Args:
        dataset: unbatched examples.
        batch_size: the global batch size.
        seed: the run's seed; epoch e is shuffled with seed ``seed * 1_000_003 + e``.
        buffer_size: shuffle buffer (default: the whole dataset when its size is known,
            else 10,000).
        drop_remainder: drop a last, smaller batch.
    """
    if batch_size < 1:
        raise ValueError(f"Expected `batch_size` to be a positive integer, got {batch_size!r}")
    if buffer_size is None:
        size = int(dataset.cardinality())
        buffer_size = size if size > 0 else 10_000

    def for_epoch(epoch: int) -> tf.data.Dataset:
        return (
            dataset.shuffle(
                buffer_size, seed=seed * 1_000_003 + epoch, reshuffle_each_iteration=False
            )
            .batch(batch_size, drop_remainder=drop_remainder)
            .prefetch(tf.data.AUTOTUNE)
        )

    return for_epoch


def epoch_dataset(data: EpochData, epoch: int) -> tf.data.Dataset:
    """The dataset for ``epoch``."""
    dataset = data(epoch) if callable(data) else data
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(
            f"Expected a tf.data.Dataset or a function epoch -> tf.data.Dataset, got "
            f"{type(dataset).__name__}"
        )
    return dataset
