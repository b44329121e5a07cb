"""Lesson 8 as a notebook (quick): n-grams fail once the cue leaves their window; RNNs reach."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tutorials.helpers import assert_plots_written, load_lesson, run_full, run_quick

STEM = "08_meet_at"


@pytest.fixture(scope="module")
def findings(tmp_path_factory, notebook_kernel):
    return run_quick(STEM, tmp_path_factory, notebook_kernel)


def test_the_cue_is_exactly_k_words_before_the_blank():
    lesson = load_lesson(STEM)
    rng = np.random.default_rng(0)
    for task, cues in lesson.CUES.items():
        for k in range(lesson.MIN_DISTANCE[task], 30):
            for cue in cues:
                words = lesson.sentence(task, cue, k, rng)
                assert words[-k] == cue
                assert not set(words[-k + 1 :]) & set(cues)  # no other cue in between
    with pytest.raises(ValueError, match="distance 1"):
        lesson.sentence("meet", "noon", 1, rng)


def test_an_ngram_sees_the_cue_only_within_its_window(findings):
    accuracy = findings["accuracy"]
    for name, n in (("3-gram", 3), ("5-gram", 5)):
        for k, score in accuracy[name]["meet"].items():
            if k <= n - 1:
                assert score > 0.9, (name, k, score)
            else:
                assert score < 0.6, (name, k, score)  # chance is 1/3
    assert all(score < 0.6 for score in accuracy["2-gram"]["mood"].values())


def test_the_recurrent_cells_carry_the_cue_in_the_quick_run(findings):
    reach = findings["reach"]
    assert max(reach["LSTM"]["meet"] or 0, reach["GRU"]["meet"] or 0) >= 8


def test_the_mood_sentence_defeats_every_ngram_and_a_recurrent_cell_learns_it(findings):
    """The course's second example: its cue is >= 6 words back, past every n-gram's window."""
    accuracy, reach = findings["accuracy"], findings["reach"]
    for name in ("2-gram", "3-gram", "5-gram"):
        assert all(score < 0.6 for score in accuracy[name]["mood"].values()), name
    assert max(reach[cell]["mood"] or 0 for cell in ("SimpleRNN", "LSTM", "GRU")) >= 8


def test_the_run_names_the_full_runs_findings_it_does_not_show(findings):
    """A quick run's cell at chance on a sentence, or a SimpleRNN that needs no curriculum at
    short distances, is said in the run itself, not left for the learner to misread."""
    reach, notes = findings["reach"], findings["caveats"]
    missing = {
        (c, t) for c in ("SimpleRNN", "LSTM", "GRU") for t in reach[c] if reach[c][t] is None
    }
    named = {
        (c, t) for c, t in missing if any(n.startswith(f"{c} ") and repr(t) in n for n in notes)
    }
    assert named == missing, notes
    same = reach["SimpleRNN, no curriculum"] == reach["SimpleRNN"]
    assert any("without the curriculum" in n for n in notes) == same, notes
    assert len(notes) == len(missing) + same


def test_the_learner_can_type_sentences(findings):
    typed = findings["typed"]["let's meet tomorrow evening at"]
    assert {"2-gram", "3-gram", "5-gram", "SimpleRNN", "LSTM", "GRU"} <= set(typed)
    top, probability = typed["GRU"][0]
    assert top == "dinner" and 0.0 <= probability <= 1.0


def test_plots_shown_and_written(findings):
    assert_plots_written(findings)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_full_run(tmp_path_factory):
    full = run_full(STEM, tmp_path_factory)
    assert full["reach"]["3-gram"]["meet"] == 2
    assert_plots_written(full)
