"""Lesson 1: the looped layer equals the hand-unrolled net; StatQuest and trained weights answer."""

from __future__ import annotations

import pytest

from tests.tutorials.helpers import assert_plots_written, run_full, run_quick

STEM = "01_statland"


@pytest.fixture(scope="module")
def findings(tmp_path_factory, notebook_kernel):
    return run_quick(STEM, tmp_path_factory, notebook_kernel)


def test_looped_layer_equals_hand_unrolled_for_2_and_3_days(findings):
    assert set(findings["unroll_max_abs_diff"]) == {2, 3}
    for diff in (
        *findings["unroll_max_abs_diff"].values(),
        *findings["unroll_max_abs_diff_learned"].values(),
    ):
        assert diff <= 1e-6


def test_statquest_weights_answer_the_four_scenarios(findings):
    rows = findings["statquest"]["rows"]
    assert {k: r["expected"] for k, r in rows.items()} == {
        "low,low": "low",
        "low,medium": "high",
        "high,medium": "low",
        "high,high": "high",
    }
    assert findings["statquest"]["all_correct"]
    # 1.1 * ReLU(1.8 * 0.5) = 0.99 for the two "high" answers, 0 for the "low" ones
    assert rows["low,medium"]["prediction"] == pytest.approx(0.99, abs=1e-6)
    assert rows["high,medium"]["prediction"] == pytest.approx(0.0, abs=1e-6)


def test_training_from_random_weights_answers_all_four(findings):
    assert findings["train_steps"] is not None
    assert findings["trained"]["all_correct"]
    assert findings["final_loss"] < 0.01
    assert set(findings["learned_weights"]) == {"w1", "w2", "b1", "w3", "b2"}


def test_training_is_repeated_over_several_seeds(findings):
    by_seed = findings["by_seed"]
    assert len(by_seed) >= 4
    assert sum(r["all_correct"] for r in by_seed.values()) >= len(by_seed) // 2


def test_five_parameters_whatever_the_length_and_padding_changes_nothing(findings):
    assert findings["n_params"] == 5
    assert findings["padded"]["params"] == 5
    assert findings["padded"]["padded_vs_alone_max_abs_diff"] <= 1e-6


def test_plots_written(findings):
    assert_plots_written(findings)
    assert {p.name for p in findings["plots"]} == {"training_loss.png", "scenarios.png"}


@pytest.mark.slow
def test_full_run(tmp_path_factory):
    full = run_full(STEM, tmp_path_factory)
    assert full["statquest"]["all_correct"] and full["trained"]["all_correct"]
    assert max(full["unroll_max_abs_diff"].values()) <= 1e-6
    assert_plots_written(full)
