"""Lesson 3: exact 2^50 and 0.5^50, gradient norms over 200 steps, clipping vs no clipping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.tutorials.helpers import assert_plots_written, run_full, run_quick

STEM = "03_vanishing_exploding"


@pytest.fixture(scope="module")
def findings(tmp_path_factory, notebook_kernel):
    return run_quick(STEM, tmp_path_factory, notebook_kernel)


def test_scalar_case_gives_exactly_two_and_half_to_the_50(findings):
    assert findings["two_pow_50"] == 2.0**50 == 1125899906842624.0
    assert findings["half_pow_50"] == 0.5**50
    for w2, grads in findings["scalar_gradients"].items():
        assert grads == [w2**n for n in range(51)]  # every distance, exactly


def test_gradient_norms_cover_200_steps_for_the_three_cells(findings):
    norms = findings["gradient_norms"]
    assert findings["steps"] >= 200
    for cell in ("SimpleRNN", "LSTM", "GRU"):
        values = np.array(norms[f"{cell} (default init)"])
        assert len(values) == findings["steps"]
        assert values[0] > 0
    simple = np.array(norms["SimpleRNN (default init)"])
    assert simple[100] < 1e-6 * simple[0]  # the vanilla RNN's gradient has vanished
    for cell in ("LSTM", "GRU"):  # gates biased to remember keep it alive 199 steps back
        remembered = np.array(norms[f"{cell} (gates biased to remember)"])
        assert remembered[-1] > 1e-3 * remembered[0]


def test_clipping_tames_the_exploding_run(findings):
    unclipped, clipped = findings["clipping"]["none"], findings["clipping"]["clip_norm_1"]
    assert unclipped["first_grad_norm"] > 100  # it does explode
    assert unclipped["diverged"]
    assert not clipped["diverged"]
    assert math.isfinite(clipped["final_loss"])
    assert clipped["final_loss"] < clipped["epoch_losses"][0]


def test_plots_written(findings):
    assert_plots_written(findings)


@pytest.mark.slow
def test_full_run(tmp_path_factory):
    full = run_full(STEM, tmp_path_factory)
    assert full["two_pow_50"] == 2.0**50
    assert full["steps"] >= 400
    assert full["clipping"]["none"]["diverged"] and not full["clipping"]["clip_norm_1"]["diverged"]
    assert_plots_written(full)
