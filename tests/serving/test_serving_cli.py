"""`keras-rnn serve`: flags become settings, bad flags exit 2 naming flag and value, and the
module imports no TensorFlow (so `keras-rnn --help` stays fast)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from serving import cli


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_module_does_not_import_tensorflow():
    code = "import sys, serving.cli; sys.exit(1 if 'tensorflow' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_flags_become_settings():
    args = parse(
        "--model-dir",
        "/m",
        "--port",
        "9000",
        "--max-batch-size",
        "8",
        "--model-version",
        "stock=3,4",
        "--cors-origin",
        "https://a.example",
        "--poll-interval",
        "0",
        "--no-warmup",
        "--request-deadline",
        "2.5",
        "--inline-call-max-ms",
        "0",
    )
    env = cli.settings_env(args)
    assert env["SERVING_MODEL_DIR"] == "/m" and env["SERVING_PORT"] == "9000"
    assert env["SERVING_MAX_BATCH_SIZE"] == "8" and env["SERVING_POLL_INTERVAL_S"] == "0.0"
    assert json.loads(env["SERVING_MODELS"]) == {"stock": {"specific": [3, 4]}}
    assert (
        json.loads(env["SERVING_CORS_ORIGINS"]) == ["https://a.example"]
        and env["SERVING_WARMUP"] == "false"
    )

    from serving.settings import Settings

    settings = Settings(
        **{
            k.removeprefix("SERVING_").lower(): v
            for k, v in env.items()
            if k not in {"SERVING_MODELS", "SERVING_CORS_ORIGINS"}
        }
    )
    assert settings.max_batch_size == 8 and settings.port == 9000
    assert settings.request_deadline_s == 2.5 and settings.inline_call_max_ms == 0


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--port", "70000"),
        ("--port", "x"),
        ("--max-batch-size", "0"),
        ("--poll-interval", "-1"),
        ("--inline-call-max-ms", "-1"),
        ("--model-version", "stock=0"),
        ("--model-version", "../x=1"),
        ("--log-level", "loud"),
        ("--request-deadline", "0"),
    ],
)
def test_bad_flags_exit_2_naming_flag_and_value(flag, value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([flag, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert flag in err and value in err, err


def test_missing_model_dir_exits_2(tmp_path):
    missing = tmp_path / "nope"
    result = subprocess.run(
        [sys.executable, "-m", "serving.cli", "--model-dir", str(missing)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (
        result.returncode == 2 and "--model-dir" in result.stderr and str(missing) in result.stderr
    )


def test_empty_api_key_means_auth_off(monkeypatch):
    from serving.settings import Settings

    monkeypatch.setenv("SERVING_API_KEY", "")
    assert Settings().api_key is None
    monkeypatch.setenv("SERVING_API_KEY", "k1")
    assert Settings().api_key.get_secret_value() == "k1"
