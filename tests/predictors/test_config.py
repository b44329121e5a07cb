"""The run configs: one typed record per run, checked once, made alike from Python and files."""

from __future__ import annotations

import dataclasses

import pytest

from keras_rnn.predictors.config import ConfigError, RunConfig
from keras_rnn.predictors.stock.config import StockConfig
from keras_rnn.predictors.text.config import TextConfig, TextOptions


def test_the_field_defaults_are_the_quick_runs_and_the_presets_the_commands():
    quick, command = StockConfig(), StockConfig(**StockConfig.CLI_PRESET)
    assert (quick.units, quick.window, quick.min_window, quick.epochs) == (16, 20, 5, 3)
    assert (quick.learning_rate, quick.seed, quick.output_dir) == (3e-3, 0, None)
    assert (command.units, command.window, command.min_window, command.epochs) == (32, 60, 10, 10)
    assert (command.learning_rate, command.seed, command.output_dir) == (
        2e-3,
        None,
        "outputs/stock",
    )
    text = TextConfig()
    assert (text.units, text.seq_len, text.epochs, text.embedding_dim) == (256, 64, 6, 32)
    assert text.clip_norm == 1.0 and text.corpus is None
    assert TextConfig(**TextConfig.CLI_PRESET).output_dir == "runs/text"


@pytest.mark.parametrize(
    ("config_class", "changes", "key"),
    [
        (StockConfig, {"units": 0}, "units"),
        (StockConfig, {"units": 2.5}, "units"),
        (StockConfig, {"units": True}, "units"),
        (StockConfig, {"cell": "transformer"}, "cell"),
        (StockConfig, {"window": 5, "min_window": 9}, "min_window"),
        (StockConfig, {"source": "csv"}, "csv"),
        (StockConfig, {"length": 50}, "length"),
        (StockConfig, {"clip_norm": -1.0}, "clip_norm"),
        (StockConfig, {"strategy": "tpu"}, "strategy"),
        (StockConfig, {"deterministic": True, "seed": None}, "deterministic"),
        (TextConfig, {"level": "sentence"}, "level"),
        (TextConfig, {"val_fraction": 1.5}, "val_fraction"),
        (TextConfig, {"vocab_size": 3, "num_oov_indices": 3}, "vocab_size"),
        (TextConfig, {"epochs": "6"}, "epochs"),
    ],
)
def test_a_bad_value_is_refused_when_the_config_is_made_naming_the_field(
    config_class, changes, key
):
    with pytest.raises(ConfigError) as err:
        config_class(**changes)
    assert err.value.key == key and f"`{key}`" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_the_older_trainer_dicts_set_fields_like_keywords():
    assert TextOptions is TextConfig
    a = TextConfig(trainer={"seed": 3, "verbose": 0, "clip_norm": None})
    b = TextConfig(seed=3, verbose=0, clip_norm=None)
    assert a == b and a.trainer_kwargs() == b.trainer_kwargs()
    assert StockConfig(trainer_options={"verbose": 0}).verbose == 0
    with pytest.raises(TypeError, match="unknown settings"):
        StockConfig(trainer_options={"verbosity": 0})
    with pytest.raises(TypeError):
        StockConfig(unit=8)  # a misspelt field is not silently ignored


def test_level_dependent_defaults_are_filled_once_and_paths_are_strings(tmp_path):
    word = TextConfig(level="word", seq_len=10, model_dir=tmp_path)
    assert (word.vocab_size, word.max_prefix_tokens, word.max_generate_tokens) == (4000, 80, 100)
    assert word.model_dir == str(tmp_path) and isinstance(
        StockConfig(model_dir=tmp_path).model_dir, str
    )
    char = TextConfig()
    assert (char.vocab_size, char.max_prefix_tokens, char.max_generate_tokens) == (None, 512, 500)
    assert word.resolved() == word and StockConfig(min_window=None).min_window == 20


def test_the_run_key_is_that_of_the_old_resolved_options():
    """Checkpoint directories are named by it: the values are those of
    ``TextOptions(...).resolved().run_key()`` before the run configs, so a run resumes the
    checkpoints written before."""
    assert TextConfig().run_key() == "6864020347"
    assert TextConfig(corpus="pydoc").run_key() == "87cb3a6ec4"  # the command's preset
    assert TextConfig(corpus="pydoc", level="word").run_key() == "1b37fd43ac"
    assert TextConfig(epochs=1, seed=4).run_key() == "6864020347"  # training settings: no


def test_every_shared_setting_is_a_field_of_both_configs():
    shared = {f.name for f in dataclasses.fields(RunConfig)}
    for config_class in (StockConfig, TextConfig):
        assert shared <= {f.name for f in dataclasses.fields(config_class)}
    assert set(RunConfig.TRAINER_FIELDS) <= shared
