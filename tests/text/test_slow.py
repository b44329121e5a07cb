"""Long runs (`make test-slow`): the lesson, and char level on Tiny Shakespeare."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_lesson_runs_quick_and_saves_plots(tmp_path, monkeypatch):
    lesson = REPO / "tutorials" / "07_text_predictor.py"
    monkeypatch.syspath_prepend(str(lesson.parent))
    module = runpy.run_path(str(lesson), run_name="lesson07")
    findings = module["run"](quick=True, output_dir=tmp_path)
    assert findings["context"]["answers"]["let's meet at"][0][0] == "noon"
    assert findings["export_matches"] and findings["same_seed_same_text"]
    assert all(Path(p).is_file() and Path(p).suffix == ".png" for p in findings["plots"])


@pytest.mark.slow
def test_char_level_tiny_shakespeare_beats_the_baselines(shared_data, tmp_path):
    from keras_rnn.models.text.train import TextOptions, train

    opts = TextOptions(
        corpus=str(shared_data / "tinyshakespeare.txt"),
        level="char",
        seq_len=100,
        units=256,
        embedding_dim=32,
        epochs=1,
        batch_size=64,
        learning_rate=5e-3,
        trainer={"seed": 0, "verbose": 0},
    )
    result = train(opts)
    ce = result.metrics["cross_entropy"]
    print(
        f"tiny shakespeare, 1 epoch: {ce:.3f} nats/char in {result.seconds:.0f} s", file=sys.stderr
    )
    assert (
        ce
        < result.baselines["bigram"]["cross_entropy"]
        < result.baselines["unigram"]["cross_entropy"]
    )
