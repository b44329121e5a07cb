"""Lesson 7 as a notebook (quick): context beats the bigram, same seed same text, export agrees."""

from __future__ import annotations

import pytest

from tests.tutorials.helpers import assert_plots_written, run_full, run_quick

STEM = "07_text_predictor"


@pytest.fixture(scope="module")
def findings(tmp_path_factory, notebook_kernel):
    return run_quick(STEM, tmp_path_factory, notebook_kernel)


def test_context_decides_what_follows_at(findings):
    context = findings["context"]
    assert context["answers"]["let's meet at"][0][0] == "noon"
    assert context["answers"]["they sleep at"][0][0] == "home"
    assert len(context["bigram_after_at"]) == 3  # one distribution for every prefix


def test_the_lstm_beats_the_unigram_on_real_english(findings):
    assert findings["metrics"]["cross_entropy"] < findings["baselines"]["unigram"]["cross_entropy"]


def test_generation_is_repeatable_and_the_export_agrees(findings):
    assert findings["same_seed_same_text"]
    assert findings["export_matches"]
    assert findings["step_vs_full_max_abs_diff"] < 1e-4


def test_plots_shown_and_written(findings):
    assert_plots_written(findings)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_full_run(tmp_path_factory):
    full = run_full(STEM, tmp_path_factory)
    assert full["metrics"]["cross_entropy"] < full["baselines"]["bigram"]["cross_entropy"]
    assert_plots_written(full)
