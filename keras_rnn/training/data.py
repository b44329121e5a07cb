"""The order of the training data: a function of (seed, epoch), owned by the trainer's side.

A resumed run must see the very batches the uninterrupted run would have. ``Trainer.fit``
accepts either a ``tf.data.Dataset`` (iterated once per epoch; on resume the batches already
trained on are skipped with ``Dataset.skip``) or a function ``epoch -> Dataset``. Every
shuffled pipeline of the project (stock windows, text windows) gets its order from
:func:`shuffled_per_epoch` here: epoch ``e`` is shuffled with the seed :func:`epoch_seed`
``(seed, e)``, and never by a counter hidden in the process.

A dataset that reshuffles itself each iteration (``shuffle(..., reshuffle_each_iteration=True)``)
draws each epoch's order from such a counter, which a new process starts again at 0: after a
restart it would replay epoch 0's order. :func:`check_resumable` finds such a shuffle in a
pipeline; the Trainer calls it whenever it checkpoints, and refuses the data.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf
from tensorflow.core.framework import graph_pb2

EpochData = tf.data.Dataset | Callable[[int], tf.data.Dataset]
Batcher = Callable[[tf.data.Dataset], tf.data.Dataset]

_SEED_STRIDE = 1_000_003  # a prime larger than any epoch count: (seed, epoch) -> distinct seeds


def epoch_seed(seed: int, epoch: int) -> int:
    """The shuffle seed of ``epoch`` in a run seeded with ``seed``: ``seed * 1_000_003 + epoch``."""
    return int(seed) * _SEED_STRIDE + int(epoch)


def shuffled_per_epoch(
    dataset: tf.data.Dataset,
    batch_size: int | Batcher,
    *,
    seed: int,
    buffer_size: int | None = None,
    drop_remainder: bool = False,
) -> Callable[[int], tf.data.Dataset]:
    """``epoch -> dataset.shuffle(seed=epoch_seed(seed, epoch)) -> batches -> prefetch``.

    Args:
        dataset: unbatched examples.
        batch_size: the global batch size, or a function ``Dataset -> Dataset`` that batches
            (e.g. ``padded_batch`` plus a ``map``), for pipelines that need their own batching.
        seed: the run's seed; epoch e is shuffled with seed :func:`epoch_seed` ``(seed, e)``.
        buffer_size: shuffle buffer (default: the whole dataset when its size is known,
            else 10,000).
        drop_remainder: drop a last, smaller batch (with an integer ``batch_size``).
    """
    if callable(batch_size):
        batch: Batcher = batch_size
    else:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"Expected `batch_size` to be a positive integer, got {batch_size!r}")
        size = batch_size

        def batch(ds: tf.data.Dataset) -> tf.data.Dataset:
            return ds.batch(size, drop_remainder=drop_remainder)

    if buffer_size is None:
        cardinality = int(dataset.cardinality())
        buffer_size = cardinality if cardinality > 0 else 10_000

    def for_epoch(epoch: int) -> tf.data.Dataset:
        shuffled = dataset.shuffle(
            buffer_size, seed=epoch_seed(seed, epoch), reshuffle_each_iteration=False
        )
        return batch(shuffled).prefetch(tf.data.AUTOTUNE)

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


def check_resumable(dataset: tf.data.Dataset) -> None:
    """Raise ``ValueError`` if ``dataset``'s order is not the same in every process.

    A pipeline that reshuffles itself on each iteration has an order that depends on how
    often it was iterated in this process, and an unseeded shuffle one that differs from
    process to process: either way a resumed run would not see the batches the
    uninterrupted one saw. The pipeline's graph is read for ``Shuffle*Dataset`` ops with
    ``reshuffle_each_iteration=True``, or whose two seeds are both 0 (no seed given, no
    global seed set).
    """
    nodes = _graph_nodes(dataset)
    by_name = {node.name: node for node in nodes}
    for node in nodes:
        if "Shuffle" not in node.op:
            continue
        reshuffle = node.attr.get("reshuffle_each_iteration")
        if reshuffle is not None and reshuffle.b:
            raise ValueError(
                "The training data reshuffles itself each iteration "
                "(shuffle(..., reshuffle_each_iteration=True)): a resumed run would replay "
                f"epoch 0's order. {_RESUMABLE_HINT}"
            )
        if _unseeded(node, by_name):
            raise ValueError(
                "The training data is shuffled without a seed (shuffle(...) with no seed= "
                f"and no global seed): a resumed run would see another order. {_RESUMABLE_HINT}"
            )


_RESUMABLE_HINT = (
    "Pass a function epoch -> Dataset whose order depends on the epoch, e.g. "
    "keras_rnn.training.data.shuffled_per_epoch(examples, batch_size, seed=...), or turn "
    "checkpoints off."
)


def _unseeded(node, by_name: dict) -> bool:
    """A shuffle op whose seed and seed2 inputs (its 3rd and 4th) are constant zeros."""
    if len(node.input) < 4:
        return False
    seeds = [by_name.get(name.split(":")[0].lstrip("^")) for name in node.input[2:4]]
    if any(seed is None or seed.op != "Const" for seed in seeds):
        return False
    return all(int(tf.make_ndarray(seed.attr["value"].tensor)) == 0 for seed in seeds)


def _graph_nodes(dataset: tf.data.Dataset) -> list:
    """The ops of the dataset's graph, functions included ([] if it cannot be read)."""
    try:
        # tf.data has no public reader of a pipeline's structure; its serialised graph is the
        # stable format (what tf.data service and snapshots ship between processes).
        serialized = dataset._as_serialized_graph(
            external_state_policy=tf.data.experimental.ExternalStatePolicy.IGNORE
        )
        graph = graph_pb2.GraphDef.FromString(serialized.numpy())
    except (AttributeError, TypeError, ValueError, tf.errors.OpError):  # pragma: no cover
        return []
    nodes = list(graph.node)
    for function in graph.library.function:
        nodes.extend(function.node_def)
    return nodes
