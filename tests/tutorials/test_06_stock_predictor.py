"""Lesson 6 as a notebook (quick): its printed claims hold, its figures are shown and saved."""

from __future__ import annotations

import pytest

from tests.tutorials.helpers import assert_plots_written, run_full, run_quick

STEM = "06_stock_predictor"


@pytest.fixture(scope="module")
def findings(tmp_path_factory, notebook_kernel):
    return run_quick(STEM, tmp_path_factory, notebook_kernel)


def test_data_and_split(findings):
    data = findings["data"]
    assert data["range"] == "1999-01-04..2018-12-31" and data["rows"] == 5031
    assert data["test_above_train_max"] == 1.0  # why the net reads returns, not prices


def test_padding_changes_nothing(findings):
    assert findings["variable_lengths"]["padded_vs_alone_max_abs_diff"] <= 1e-3
    assert len(set(findings["variable_lengths"]["lengths"])) > 1


def test_statland_scenarios_learned_and_persistence_beaten(findings):
    stat = findings["statland"]
    assert stat["all_correct"], stat["scenarios"]
    assert stat["rmse_vs_persistence"] < 0.95


def test_statland_direction_is_given_over_slices_with_a_spread(findings):
    slices = findings["statland"]["direction_by_slice"]
    assert len(slices) == 5 and all(0.0 <= rate <= 1.0 for rate in slices)


def test_the_loss_plot_has_persistence_on_both_parts(findings):
    persistence = findings["sp500"]["persistence_loss"]
    assert persistence["train"] == pytest.approx(1.0, abs=0.1)  # the scale is the train std
    assert persistence["val"] < 0.6 * persistence["train"]  # 2013-2015 was calm


def test_cycles_beaten_by_far(findings):
    assert findings["synthetic"]["rmse_vs_persistence"] < 0.7


def test_sp500_verdict_matches_the_numbers(findings):
    sp = findings["sp500"]
    ratio = sp["rmse_vs_persistence"]
    assert sp["beats_persistence"] == (ratio < 1.0)
    assert ("does NOT beat" in sp["verdict"]) == (ratio >= 1.0)
    assert abs(ratio - 1.0) < 0.05  # "about the same as persistence", as the lesson says


def test_export_round_trip(findings):
    assert findings["export"]["served_vs_in_memory_max_abs_diff"] <= 1e-2  # price units ~2500
    assert (findings["export"]["path"] / "model_card.json").is_file()


def test_plots_written(findings):
    assert_plots_written(findings)
    assert {p.name for p in findings["plots"]} == {
        "sp500_split.png",
        "statland_scenarios.png",
        "synthetic_forecast.png",
        "sp500_forecast.png",
        "sp500_training.png",
    }


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_full_run(tmp_path_factory):
    full = run_full(STEM, tmp_path_factory)
    assert full["statland"]["all_correct"], full["statland"]["scenarios"]
    assert full["synthetic"]["rmse_vs_persistence"] < 0.7
    sp = full["sp500"]
    assert sp["beats_persistence"] == (sp["rmse_vs_persistence"] < 1.0)
    assert abs(sp["rmse_vs_persistence"] - 1.0) < 0.05
    assert full["export"]["served_vs_in_memory_max_abs_diff"] <= 1e-2
    assert_plots_written(full)
