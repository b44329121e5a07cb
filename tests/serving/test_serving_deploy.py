"""Deployment files, checked without a Docker engine: docker-compose.yml against the Compose
specification's structure, the commands against our CLI, and the configs against each other.

The Compose specification's JSON schema is not shipped by any installed package and there is
no network, so the structural rules it states for the parts we use are checked here.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
SERVICE_KEYS = {
    "image",
    "pull_policy",
    "build",
    "command",
    "entrypoint",
    "environment",
    "volumes",
    "ports",
    "expose",
    "depends_on",
    "healthcheck",
    "deploy",
    "restart",
    "stop_grace_period",
    "labels",
    "networks",
}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
DURATION = re.compile(r"^(\d+(\.\d+)?(us|ms|s|m|h))+$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_structure(compose):
    assert set(compose) <= {"name", "services", "volumes", "networks", "configs", "secrets"} | {
        k for k in compose if k.startswith("x-")
    }
    assert re.match(r"^[a-z0-9][a-z0-9_-]*$", compose["name"])
    services = compose["services"]
    assert set(services) == {"trainer", "api", "lb", "tfserving"}
    for name, svc in services.items():
        assert re.match(r"^[a-zA-Z0-9._-]+$", name)
        assert set(svc) <= SERVICE_KEYS, (name, set(svc) - SERVICE_KEYS)
        assert "image" in svc or "build" in svc, name
        assert svc.get("restart", "no") in {"no", "always", "on-failure", "unless-stopped"}
        for port in svc.get("ports", []):
            assert re.match(r"^\d+:\d+$", str(port)), port
        for volume in svc.get("volumes", []):
            source, target, *mode = volume.split(":")
            assert target.startswith("/") and mode in ([], ["ro"]), volume
            if not source.startswith("."):
                assert source in compose["volumes"], f"{name} uses undeclared volume {source}"
            else:
                assert (REPO / source).is_file(), f"{name} mounts missing file {source}"
        for dep, spec in svc.get("depends_on", {}).items():
            assert dep in services and dep != name
            assert spec["condition"] in CONDITIONS
        if "healthcheck" in svc:
            hc = svc["healthcheck"]
            assert hc["test"][0] in {"CMD", "CMD-SHELL", "NONE"}
            for key in ("interval", "timeout", "start_period"):
                assert DURATION.match(hc[key]), (key, hc[key])
            assert isinstance(hc["retries"], int) and hc["retries"] > 0
        if "environment" in svc:
            assert all(isinstance(v, str) for v in svc["environment"].values()), "quote env values"
    assert compose["volumes"] == {"models": None}


def test_compose_wiring(compose):
    s = compose["services"]
    # the one-shot trainer finishes before anything serves its exports
    assert s["trainer"]["restart"] == "no"
    assert s["api"]["depends_on"]["trainer"]["condition"] == "service_completed_successfully"
    assert s["tfserving"]["depends_on"]["trainer"]["condition"] == "service_completed_successfully"
    assert s["lb"]["depends_on"]["api"]["condition"] == "service_healthy"
    # all three read the same volume; only the trainer writes it
    assert "models:/models" in s["trainer"]["volumes"]
    assert (
        "models:/models:ro" in s["api"]["volumes"]
        and "models:/models:ro" in s["tfserving"]["volumes"]
    )
    # our image is built, never pulled (it is on no registry)
    assert s["api"]["pull_policy"] == s["trainer"]["pull_policy"] == "build"
    assert s["api"]["build"]["context"] == "."
    assert s["api"]["deploy"]["replicas"] >= 2 and "ports" not in s["api"]  # only the lb publishes
    assert "/readyz" in " ".join(s["api"]["healthcheck"]["test"])
    assert s["tfserving"]["image"].startswith("tensorflow/serving:")
    assert s["api"]["image"] == s["trainer"]["image"]


def test_commands_parse_with_our_cli(compose):
    from keras_rnn.cli import build_parser

    parser = build_parser()
    api = compose["services"]["api"]["command"]
    assert api[0] == "keras-rnn"
    args = parser.parse_args(api[1:])
    assert args._command == "serve" and args.port == 8000 and args.host == "0.0.0.0"
    # the trainer runs deploy/train-missing.sh (installed as `train-missing` in the image)
    assert compose["services"]["trainer"]["command"] == ["train-missing"]
    script = (REPO / "deploy/train-missing.sh").read_text()
    steps = [shlex.split(line.strip()) for line in script.splitlines() if "keras-rnn train" in line]
    steps = [step for step in steps if step[0] == "keras-rnn"]
    assert steps == [["keras-rnn", "train", "$name", "--model-dir", "$MODEL_DIR"]]
    for name in ("stock", "text"):
        try:
            parsed = parser.parse_args(["train", name, "--model-dir", "/models"])
        except SystemExit:
            pytest.skip(f"`keras-rnn train {name}` needs the predictor's CLI, not importable here")
        assert str(parsed.model_dir) == "/models"


def test_configs_agree(compose):
    tf_config = (REPO / "deploy/tfserving/models.config").read_text()
    names = re.findall(r'name:\s*"([^"]+)"', tf_config)
    paths = re.findall(r'base_path:\s*"([^"]+)"', tf_config)
    assert names == ["stock", "text"] and paths == ["/models/stock", "/models/text"]
    assert tf_config.count("{") == tf_config.count("}")
    assert any(
        c == "--model_config_file=/config/models.config"
        for c in compose["services"]["tfserving"]["command"]
    )
    nginx = (REPO / "deploy/nginx/nginx.conf").read_text()
    assert "server api:8000" in nginx and nginx.count("{") == nginx.count("}")
    assert re.search(r"listen\s+8080;", nginx) and compose["services"]["lb"]["ports"] == [
        "8000:8080"
    ]


def test_dockerfile_and_ignore():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim", dockerfile, re.M)
    assert re.search(r"^USER app$", dockerfile, re.M)  # not root
    assert "/readyz" in dockerfile and 'CMD ["keras-rnn", "serve"]' in dockerfile
    for copied in re.findall(r"^COPY (\S+(?: \S+)*) \S+$", dockerfile, re.M):
        for path in copied.split():
            assert (REPO / path).exists(), path
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".git", ".venv", "models"} <= set(ignored)


def test_check_exports_calls_every_signature(tmp_path, capsys):
    """deploy/check_exports.py, the cross-version check of docs/serving.md, on a fixture model."""
    from deploy.check_exports import main
    from tests.fixtures.savedmodels import write_stock_model, write_text_model

    write_stock_model(tmp_path, 1, growth=1.01)
    write_text_model(tmp_path, 1)
    assert main([str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tensorflow"].startswith("2.")
    # growth 1.01 on a window ending at 2720: the fixture's forecast is 1.01 * last price
    assert result["stock/1/serving_default"]["forecast"] == [[pytest.approx(2747.2, abs=1e-3)]]
    text = {k for k in result if k.startswith("text/1/")}
    assert text and all(result[k] for k in text)  # string and scalar inputs were fed too
    with pytest.raises(SystemExit):
        main([str(tmp_path / "missing")])
