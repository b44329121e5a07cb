"""The pipeline skeleton's rules, on a toy predictor: the strategy first, the seed once
between the data and the weights, resumable data only, and only the chief exports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_rnn.predictors import pipeline
from keras_rnn.predictors.config import RunConfig, same
from keras_rnn.training.data import shuffled_per_epoch


@dataclass
class ToyConfig(RunConfig):
    epochs: int = same("epochs", 1)
    learning_rate: float = same("learning_rate", 1e-2)
    seed: int | None = same("seed", 5)
    verbose: int = same("verbose", 0)
    name: str = same("name", "toy")


class Toy(pipeline.Pipeline[ToyConfig, dict]):
    def __init__(self, config, calls, resumable=True):
        super().__init__(config)
        self.calls, self.resumable = calls, resumable

    def data(self):
        self.calls.append("data")
        x = np.linspace(-1, 1, 32, dtype="float32")[:, None]
        examples = tf.data.Dataset.from_tensor_slices((x, 2 * x))
        train = shuffled_per_epoch(examples, 8, seed=self.config.seed or 0)
        return pipeline.Data(
            train=train if self.resumable else train(0), validation=examples.batch(8)
        )

    def model(self):
        self.calls.append("model")
        return keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])

    def loss(self):
        return "mse"

    def evaluate(self, fitted):
        self.calls.append("evaluate")
        return {"weights": [w.copy() for w in fitted.model.get_weights()]}

    def card(self, result):
        self.calls.append("card")
        return {}

    def export(self, result, card):
        self.calls.append("export")
        return Path(self.config.model_dir) / "toy" / "1"


@pytest.fixture
def calls(monkeypatch):
    calls: list[str] = []
    real_resolve, real_configure = pipeline.resolve_strategy, pipeline.configure

    def resolve(name):
        calls.append(f"strategy:{name}")
        return real_resolve(name)

    def configure(**kwargs):
        calls.append(f"seed:{kwargs['seed']}")
        real_configure(**kwargs)

    monkeypatch.setattr(pipeline, "resolve_strategy", resolve)
    monkeypatch.setattr(pipeline, "configure", configure)
    return calls


def test_the_steps_run_in_order_with_the_strategy_once_and_the_seed_once(calls, tmp_path):
    path = pipeline.train_and_export(Toy(ToyConfig(model_dir=str(tmp_path)), calls))
    assert path == tmp_path / "toy" / "1"
    assert calls == ["strategy:default", "data", "seed:5", "model", "evaluate", "card", "export"]


def test_the_same_seed_gives_the_same_weights_whatever_ran_before(calls, tmp_path):
    first = pipeline.train(Toy(ToyConfig(), calls))
    keras.random.uniform((3,))  # the global RNGs move on
    second = pipeline.train(Toy(ToyConfig(), calls))
    for a, b in zip(first["weights"], second["weights"], strict=True):
        np.testing.assert_array_equal(a, b)


def test_data_that_a_resumed_run_could_not_replay_is_refused_before_training(calls):
    with pytest.raises(TypeError, match="epoch -> Dataset"):
        pipeline.train(Toy(ToyConfig(), calls, resumable=False))
    assert "model" not in calls


def test_only_the_chief_exports(calls, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pipeline, "is_chief", lambda strategy: False)
    assert pipeline.train_and_export(Toy(ToyConfig(model_dir=str(tmp_path)), calls)) is None
    assert "export" not in calls and "card" not in calls
    assert "not the chief worker" in capsys.readouterr().out
