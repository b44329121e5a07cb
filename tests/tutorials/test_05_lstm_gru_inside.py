"""Lesson 5: gates recomputed by hand equal the layers; parameter counts equal the formulas."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tutorials.helpers import assert_plots_written, run_full, run_quick

STEM = "05_lstm_gru_inside"


@pytest.fixture(scope="module")
def findings(tmp_path_factory, notebook_kernel):
    return run_quick(STEM, tmp_path_factory, notebook_kernel)


def test_gates_by_hand_reproduce_the_layers(findings):
    assert findings["lstm_hand_vs_layer_max_abs_diff"] < 1e-5
    assert findings["gru_hand_vs_layer_max_abs_diff"] < 1e-5
    lstm = {k: np.array(v) for k, v in findings["lstm"].items()}
    assert set(lstm) == set("ifgoch")
    for gate in "ifo":
        assert ((lstm[gate] > 0) & (lstm[gate] < 1)).all()
    np.testing.assert_allclose(lstm["h"], lstm["o"] * np.tanh(lstm["c"]), atol=1e-12)


def test_parameter_counts_match_the_formulas_and_keras(findings):
    rows = findings["parameter_counts"]
    assert {r["cell"] for r in rows} == {"SimpleRNN", "LSTM", "GRU", "GRU(reset_after=False)"}
    for r in rows:
        assert r["keras_rnn"] == r["formula"] == r["keras.layers"], r
    by_cell = {r["cell"]: r["formula"] for r in rows if (r["features"], r["units"]) == (3, 5)}
    assert by_cell == {"SimpleRNN": 45, "LSTM": 180, "GRU": 150, "GRU(reset_after=False)": 135}


def test_plots_written(findings):
    assert_plots_written(findings)
    names = {p.name for p in findings["plots"]}
    assert {"lstm_gates.png", "gru_gates.png", "lstm_cell_state_path.png"} <= names


@pytest.mark.slow
def test_full_run_gates_tell_the_story(tmp_path_factory):
    full = run_full(STEM, tmp_path_factory)
    assert full["lstm_accuracy"] > 0.9 and full["gru_accuracy"] > 0.9
    assert full["cell_state_spread_across_countries"] > 1.0  # the country is in c_T
    assert full["gates"]["lstm_forget_gate_on_fillers"] > 0.8  # the memory is kept
    assert full["lstm_hand_vs_layer_max_abs_diff"] < 1e-5
    assert_plots_written(full)
