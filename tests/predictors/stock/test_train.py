"""Training end to end: beats persistence on learnable data; card, plots and export."""

from __future__ import annotations

import json

import numpy as np

from keras_rnn.predictors.repository import read_card
from keras_rnn.predictors.stock.export import export_version, make_forecaster
from keras_rnn.predictors.stock.train import predict, write_outputs


def test_quick_training_beats_persistence_on_a_learnable_series(synthetic_run):
    run = synthetic_run
    ours = run.metrics[run.model_name]
    persistence = run.metrics["persistence"]
    assert run.history["loss"][-1] < run.history["loss"][0]
    # the cycles make tomorrow's move predictable: far better than "tomorrow = today"
    assert ours["rmse_vs_persistence"] < 0.7, run.table()
    assert ours["mae"] < persistence["mae"]
    assert ours["direction_accuracy"] > 0.7
    assert set(run.metrics) == {run.model_name, "persistence", "moving_average_5", "linear_ar_5"}


def test_evaluation_uses_the_same_test_windows_for_everyone(synthetic_run):
    run = synthetic_run
    start, stop = run.split.bounds("test")
    assert run.test.ends[0] + 1 == start and run.test.ends[-1] + 2 == stop - 1
    assert all(f.shape == run.test.targets.shape for f in run.forecasts.values())
    np.testing.assert_array_equal(run.forecasts["persistence"][:, 0], run.test.last)


def test_card_outputs_and_export(synthetic_run, tmp_path):
    import tensorflow as tf

    run = synthetic_run
    paths = write_outputs(run, tmp_path / "out")
    for key in ("forecast_plot", "history_plot"):
        assert paths[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads(paths["metrics"].read_text())
    assert saved["test"][run.model_name]["rmse"] == run.metrics[run.model_name]["rmse"]

    card = run.card()
    path = export_version(tmp_path / "models", run.model, run.scaler, card)
    card = read_card(path)
    assert card["task"] == "stock" and card["horizon"] == 2 and card["version"] == 1
    assert card["data"]["range"] == run.series.range and "synthetic" in card["data"]["source"]
    assert set(card["data"]["splits"]) == {"train", "val", "test"}
    assert card["model"]["cell"] == "lstm" and card["model"]["units"] == 12
    assert card["training"]["seconds"] > 0 and card["training"]["history"]["loss"]
    assert set(card["baselines"]) == {"persistence", "moving_average_5", "linear_ar_5"}
    assert card["metrics"]["test"]["rmse"] == run.metrics[run.model_name]["rmse"]
    assert set(card["versions"]) == {"tensorflow", "keras", "keras_rnn"}
    sample = card["sample"]
    start, stop = run.split.bounds("test")
    days = min(120, stop - start)  # the last 120 closes of the test period, or all of it
    assert len(sample["dates"]) == len(sample["prices"]) == days == 75
    assert sample["dates"][0] == str(run.series.dates[start])
    assert sample["dates"][-1] == str(run.series.dates[-1])
    np.testing.assert_allclose(sample["prices"], run.series.close[-days:], atol=1e-4)

    # the exported graph reproduces the evaluated forecasts
    serve = tf.saved_model.load(str(path)).signatures["padded"]
    got = serve(prices=tf.constant(run.test.prices), lengths=tf.constant(run.test.lengths))
    np.testing.assert_allclose(got["forecast"].numpy(), run.forecasts[run.model_name], rtol=1e-5)
    again = predict(make_forecaster(run.model, run.scaler), run.test)
    np.testing.assert_allclose(again, run.forecasts[run.model_name], rtol=1e-6)
