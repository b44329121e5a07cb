"""Lesson 2: hand-written BPTT equals finite differences and the tape; both trainings agree."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tutorials.helpers import assert_plots_written, png_outputs, run_full, run_quick

STEM = "02_rnn_from_scratch"


@pytest.fixture(scope="module")
def findings(tmp_path_factory, notebook_kernel):
    return run_quick(STEM, tmp_path_factory, notebook_kernel)


def test_bptt_equals_finite_differences(findings):
    assert findings["finite_difference_max_abs_diff"] < 1e-7


def test_hand_gradients_equal_tape_gradients(findings):
    diffs = findings["grad_max_abs_diff"]
    assert set(diffs) == {"Wx", "Wh", "bh", "Wy", "by"}
    # float32 tape vs float64 NumPy on the same float32 weights: rounding only
    assert max(diffs.values()) < 1e-5 * max(1.0, findings["grad_scale"])
    assert findings["grad_scale"] > 1e-3  # the gradients compared are not all ~0


def test_numpy_and_keras_trainings_follow_the_same_curve(findings):
    np_losses, tf_losses = np.array(findings["numpy_losses"]), np.array(findings["keras_losses"])
    assert len(np_losses) == len(tf_losses) == findings["steps"]
    assert np_losses[0] == pytest.approx(tf_losses[0], rel=1e-5)
    assert np_losses[-1] < 0.01 * np_losses[0]
    assert tf_losses[-1] < 0.01 * tf_losses[0]
    np.testing.assert_allclose(np_losses[:50], tf_losses[:50], rtol=1e-3)


def test_mean_error_is_reported_against_the_article(findings):
    assert findings["article_mean_error_pct"] == 0.5
    assert 0 < findings["keras_mean_error_pct"] < 5.0
    assert findings["numpy_mean_error_pct"] == pytest.approx(
        findings["keras_mean_error_pct"], rel=0.1
    )


def test_truncated_bptt_forgets_the_far_terms_and_trains_less_far(findings):
    """Section 4: k = T is full BPTT (error 0); at the start the error falls as k grows (the
    near steps carry most of the gradient); training with k = 1 < k = 3 < full ends higher."""
    truncation = findings["truncation"]
    start, trained = truncation["error_at_start"], truncation["error_trained"]
    full = max(start)
    assert sorted(start) == sorted(trained) == list(range(1, full + 1))
    assert start[full] < 1e-12 and trained[full] < 1e-12  # the same sum, every term kept
    assert start[1] > start[3] > start[full // 2] > start[full]
    assert start[1] > 0.3  # one backward step misses much of the gradient
    final = truncation["final_mse"]
    assert set(final) == {1, 3, full}
    assert final[1] > final[3] > final[full]  # shorter truncation: trains less far
    shown = [cell for _, cell in png_outputs(findings["_notebook"])]
    assert any("TRUNCATIONS" in line for line in shown), shown  # its figure is inline


def test_plots_written(findings):
    assert_plots_written(findings)


@pytest.mark.slow
def test_full_run_reaches_the_articles_error(tmp_path_factory):
    full = run_full(STEM, tmp_path_factory)
    assert max(full["grad_max_abs_diff"].values()) < 1e-5 * max(1.0, full["grad_scale"])
    assert full["keras_mean_error_pct"] <= full["article_mean_error_pct"]
    assert full["numpy_mean_error_pct"] <= full["article_mean_error_pct"]
    assert_plots_written(full)
