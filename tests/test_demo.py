"""`keras-rnn demo`: the README's main job. Serving and asking run in the default suite on
fixture models; the whole job, training included, is a slow test."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import pytest

from tests.fixtures.savedmodels import expected_stock_forecast, write_stock_model, write_text_model


def _demo(*args: str, cwd, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keras_rnn.cli", "demo", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _answers(stdout: str) -> dict[str, dict]:
    """Each printed curl line's path -> (its body, the JSON answer printed after it)."""
    found = {}
    for match in re.finditer(r"^\$ curl ([^\n]*)\n(\{\n.*?\n\})$", stdout, flags=re.M | re.S):
        words = shlex.split(match.group(1))
        url, body = words[words.index("POST") + 1], json.loads(words[words.index("-d") + 1])
        found[url.split("/", 3)[3]] = {"body": body, "answer": json.loads(match.group(2))}
    return found


def test_demo_serves_what_the_repository_holds_and_prints_pasteable_requests(tmp_path):
    models = tmp_path / "models"
    write_stock_model(models)
    write_text_model(models)
    result = _demo("--skip-training", "--model-dir", str(models), cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    answers = _answers(result.stdout)
    assert set(answers) == {"v1/stock/forecast", "v1/text/next", "v1/text/generate"}
    stock = answers["v1/stock/forecast"]
    assert len(stock["body"]["prices"]) == 30
    assert stock["answer"]["version"] == 1
    assert stock["answer"]["forecast"] == pytest.approx(
        expected_stock_forecast(stock["body"]["prices"]).tolist(), rel=1e-6
    )
    assert answers["v1/text/next"]["body"]["text"] == "let's meet at "  # survived shell quoting
    assert len(answers["v1/text/next"]["answer"]["suggestions"]) == 5
    assert isinstance(answers["v1/text/generate"]["answer"]["continuation"], str)


def test_demo_without_models_fails_with_a_message(tmp_path):
    result = _demo(
        "--skip-training", "--model-dir", str(tmp_path / "empty"), cwd=tmp_path, timeout=300
    )
    assert result.returncode != 0
    assert "keras-rnn demo:" in result.stderr


@pytest.mark.slow
def test_the_main_job_trains_exports_serves_and_answers(tmp_path):
    result = _demo(cwd=tmp_path, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "models" / "stock" / "1" / "saved_model.pb").is_file()
    assert (tmp_path / "models" / "text" / "1" / "model_card.json").is_file()
    assert (tmp_path / "outputs" / "stock" / "forecast.png").is_file()
    # Both predictors report against their baselines, as the README says.
    assert "persistence" in result.stdout
    assert "validation metrics, nats per char" in result.stdout and "bigram" in result.stdout
    assert set(_answers(result.stdout)) == {"v1/stock/forecast", "v1/text/next", "v1/text/generate"}
