"""The one shape of a predictor's run: config -> data -> model -> Trainer -> evaluate ->
model card -> export.

Each predictor is a :class:`Pipeline` subclass that fills in the steps of its own (its data,
its network, its evaluation, its card, its exporter). The order of the steps, and the rules
that hold for every run, are written here once (:func:`train`, :func:`train_and_export`):

1. **The strategy first**, before any TensorFlow op (the data pipelines run some):
   ``MultiWorkerMirroredStrategy`` configures TensorFlow's collective ops, which TensorFlow
   allows only at program start-up. It is resolved once and handed to the Trainer.
2. **The data**: the training data is a function ``epoch -> Dataset`` whose order is a
   function of ``(seed, epoch)`` (:func:`keras_rnn.training.data.shuffled_per_epoch`), so
   a resumed run sees the batches the uninterrupted one saw.
3. **The seed, once**, with determinism and the dtype policy
   (:func:`keras_rnn.training.devices.configure`), just before the weights are drawn: the
   same seed gives the same weights whatever ran before in the process.
4. **The model and its optimizer in the strategy's scope** (their variables live on every
   replica), then ``Trainer(...).fit``.
5. **Evaluate, then only the chief writes**: on the other workers of a multi-worker run
   :func:`train_and_export` returns None. The chief removes, before training, what earlier
   exports killed half-way left (:func:`~keras_rnn.predictors.repository.remove_orphans`),
   and after it writes the outputs, the model card and a new version.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import keras
import tensorflow as tf

import keras_rnn
from keras_rnn.predictors.config import CELLS, RunConfig
from keras_rnn.predictors.repository import remove_orphans
from keras_rnn.training import Trainer
from keras_rnn.training.devices import configure, is_chief, resolve_strategy

ConfigT = TypeVar("ConfigT", bound=RunConfig)
ResultT = TypeVar("ResultT")

RECURRENT_LAYERS: dict[str, type] = {
    "lstm": keras_rnn.LSTM,
    "gru": keras_rnn.GRU,
    "simple_rnn": keras_rnn.SimpleRNN,
}
assert tuple(RECURRENT_LAYERS) == CELLS  # the config's choices are these layers


def recurrent_layer(cell: str) -> type:
    """The :mod:`keras_rnn` layer class of a cell name (one of :data:`CELLS`)."""
    if cell not in RECURRENT_LAYERS:
        raise ValueError(
            f"Received an invalid value for argument `cell`: expected one of {CELLS}, got {cell!r}."
        )
    return RECURRENT_LAYERS[cell]


@dataclass
class Data:
    """What a pipeline's data step gives the Trainer."""

    train: Callable[[int], tf.data.Dataset]  # epoch -> batches, ordered by (seed, epoch)
    validation: tf.data.Dataset


@dataclass
class Fitted:
    """A trained model and how the training went."""

    model: keras.Model
    trainer: Trainer
    history: dict[str, list[float]]  # metric -> one value per epoch
    seconds: float  # wall time of fit()


class Pipeline(ABC, Generic[ConfigT, ResultT]):
    """A predictor's steps; :func:`train` and :func:`train_and_export` run them in order."""

    def __init__(self, config: ConfigT) -> None:
        self.config = config

    @abstractmethod
    def data(self) -> Data:
        """Load, split and batch the data (after the strategy, before the seed)."""

    @abstractmethod
    def model(self) -> keras.Model:
        """The network (called in the strategy's scope, after the seed)."""

    @abstractmethod
    def loss(self) -> Any:
        """The Trainer's loss."""

    def metrics(self) -> Sequence[Any]:
        """The Trainer's metrics."""
        return ()

    def trainer_kwargs(self) -> dict[str, Any]:
        """The Trainer's keyword arguments: the config's, plus the predictor's default
        directories under ``output_dir`` where it has them."""
        return self.config.trainer_kwargs()

    @abstractmethod
    def evaluate(self, fitted: Fitted) -> ResultT:
        """Evaluate the trained model (and the baselines): the run's result."""

    def write_outputs(self, result: ResultT) -> None:
        """Write the run's own outputs (plots, tables) before the export; the chief only."""

    @abstractmethod
    def card(self, result: ResultT) -> dict[str, Any]:
        """The ``model_card.json`` content."""

    @abstractmethod
    def export(self, result: ResultT, card: dict[str, Any]) -> Path:
        """Write a new version of ``config.name`` under ``config.model_dir``; its path."""


def train(
    pipeline: Pipeline[Any, ResultT],
    callbacks: Sequence[Any] = (),
    strategy: tf.distribute.Strategy | None = None,
) -> ResultT:
    """Steps 1-4 and the evaluation: strategy, data, seed, model, fit, evaluate.

    ``strategy``: the one :func:`train_and_export` resolved; None resolves ``config.strategy``.
    """
    config = pipeline.config
    if strategy is None:
        strategy = resolve_strategy(config.strategy)  # before any TensorFlow op (see above)
    data = pipeline.data()
    if not callable(data.train):
        raise TypeError(
            f"{type(pipeline).__name__}.data(): the training data must be a function "
            "epoch -> Dataset whose order depends on (seed, epoch), so that a resumed run "
            "replays it: keras_rnn.training.data.shuffled_per_epoch(examples, batch_size, "
            f"seed=...); got {type(data.train).__name__}"
        )
    # The Trainer seeds again at the start of fit(), after the weights are drawn: without
    # this the first run in a process drew them from an unseeded RNG, later runs from the
    # state the previous fit() left, and the same seed gave different weights.
    configure(
        seed=config.seed,
        deterministic=config.deterministic,
        mixed_precision=config.mixed_precision,
    )
    with strategy.scope():  # variables of a mirrored/multi-worker run live on every replica
        model = pipeline.model()
        optimizer = keras.optimizers.Adam(config.learning_rate)
    trainer = Trainer(
        model,
        pipeline.loss(),
        optimizer,
        metrics=pipeline.metrics(),
        strategy=strategy,
        **pipeline.trainer_kwargs(),
    )
    started = time.perf_counter()
    history = trainer.fit(
        data.train, epochs=config.epochs, validation_data=data.validation, callbacks=callbacks
    )
    seconds = time.perf_counter() - started
    fitted = Fitted(
        model=model,
        trainer=trainer,
        history={k: [float(v) for v in vs] for k, vs in history.history.items()},
        seconds=seconds,
    )
    return pipeline.evaluate(fitted)


def train_and_export(pipeline: Pipeline[Any, Any], callbacks: Sequence[Any] = ()) -> Path | None:
    """Train, then (the chief only) write the outputs, the card and a new version.

    The chief first removes what exports killed half-way left. Returns the version's path,
    None on the other workers of a multi-worker run."""
    config = pipeline.config
    strategy = resolve_strategy(config.strategy)  # once, before any TensorFlow op (see above)
    chief = is_chief(strategy)
    if chief:
        remove_orphans(config.model_dir, config.name)  # what an export killed earlier left
    result = train(pipeline, callbacks, strategy)
    if not chief:
        print("not the chief worker: the chief writes the outputs and exports the model")
        return None
    pipeline.write_outputs(result)
    return pipeline.export(result, pipeline.card(result))


def versions() -> dict[str, str]:
    """The library versions a model card records."""
    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_rnn": keras_rnn.__version__,
    }
