"""`keras-rnn train text` reports its metrics; a seed means the same weights on every call."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys

from keras_rnn.predictors import repository
from keras_rnn.predictors.text import cli


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="keras-rnn train text")
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_train_text_prints_validation_metrics_and_the_baselines(corpus_file, tmp_path, capsys):
    argv = [
        "--corpus", str(corpus_file), "--level", "char", "--seq-len", "16", "--units", "8",
        "--embedding-dim", "4", "--epochs", "1", "--batch-size", "64",
        "--model-dir", str(tmp_path / "models"), "--output-dir", str(tmp_path / "runs"),
        "--seed", "1", "--quiet",
    ]  # fmt: skip
    assert cli.run(_parse(argv)) == 0
    out = capsys.readouterr().out
    card = repository.read_card(tmp_path / "models" / "text" / "1")
    rows = {
        "lstm 1x8 (ours)": card["metrics"]["validation"],
        "unigram": card["baselines"]["unigram"],
        "bigram": card["baselines"]["bigram"],
    }
    assert "cross-entropy" in out and "perplexity" in out
    for name, metrics in rows.items():
        line = next((row for row in out.splitlines() if name in row), None)
        assert line is not None, f"no {name!r} row in:\n{out}"
        numbers = [float(x) for x in re.findall(r"\d+\.\d+", line)]
        assert round(metrics["cross_entropy"], 3) in numbers, line
        assert round(metrics["perplexity"], 2) in numbers, line


SCRIPT = """
import json, sys
import numpy as np
from keras_rnn.predictors.text.train import TextOptions, train

opts = TextOptions(corpus=sys.argv[1], level="char", seq_len=16, units=8, embedding_dim=4,
                   epochs=1, batch_size=64, trainer={"seed": 3, "verbose": 0})
runs = [train(opts).model.get_weights() for _ in range(3)]
diff = lambda a, b: max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))
print(json.dumps({"first_vs_second": diff(runs[0], runs[1]),
                  "second_vs_third": diff(runs[1], runs[2])}))
"""


def test_the_first_train_call_in_a_process_gives_the_weights_of_later_calls(corpus_file):
    # A fresh process: the first call is the one that differed.
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(corpus_file)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    diffs = json.loads(out.stdout.strip().splitlines()[-1])
    assert diffs == {"first_vs_second": 0.0, "second_vs_third": 0.0}
