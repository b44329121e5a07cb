"""The image and its neighbours, checked without a Docker engine: the lock the Dockerfile
installs (tensorflow-cpu, in step with pyproject.toml), the Dockerfile's habits, the trainer
script that trains only missing models, nginx's retries and request ids, and TF Serving's
pinned release and monitoring config."""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


@pytest.fixture(scope="module")
def lock() -> dict[str, Version]:
    """Name -> pinned version, from deploy/requirements.lock; every pin carries hashes."""
    text = (DEPLOY / "requirements.lock").read_text()
    pins: dict[str, Version] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        first = block.strip().splitlines()[0] if block.strip() else ""
        if not first or first.startswith("#"):
            continue
        match = re.match(r"^([A-Za-z0-9._-]+)==([^\s\\]+)", first)
        assert match, f"not an exact pin: {first!r}"
        assert "--hash=sha256:" in block, f"no hash for {first!r}"
        pins[canonicalize_name(match.group(1))] = Version(match.group(2))
    return pins


def _requirements_in() -> list[Requirement]:
    lines = (DEPLOY / "requirements.in").read_text().splitlines()
    return [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]


def test_requirements_in_is_the_core_stock_and_serving_with_tensorflow_cpu(project):
    expected = {}
    for text in [
        *project["dependencies"],
        *project["optional-dependencies"]["stock"],
        *project["optional-dependencies"]["serving"],
    ]:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"python_version": "3.11"}):
            continue  # the image's Python is 3.11 (tomli is for < 3.11)
        name = "tensorflow-cpu" if req.name == "tensorflow" else req.name
        expected[canonicalize_name(name)] = str(req.specifier)
    found = {canonicalize_name(r.name): str(r.specifier) for r in _requirements_in()}
    assert found == expected


def test_lock_pins_everything_with_tensorflow_cpu(lock, project):
    for req in _requirements_in():
        name = canonicalize_name(req.name)
        assert name in lock, f"{name} is in requirements.in but not locked"
        assert req.specifier.contains(lock[name]), (name, lock[name])
    assert "tensorflow" not in lock, "the image must not pull the full tensorflow wheel"
    tf_spec = next(Requirement(r) for r in project["dependencies"] if r.startswith("tensorflow"))
    assert tf_spec.specifier.contains(lock["tensorflow-cpu"])


def test_tf_serving_release_matches_the_exporting_tensorflow(lock):
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    tag = compose["services"]["tfserving"]["image"].split(":")[1]
    exporting = lock["tensorflow-cpu"]
    assert Version(tag).release[:2] == exporting.release[:2], (tag, exporting)
    kserve = (DEPLOY / "k8s" / "inferenceservice.yaml").read_text()
    assert f'runtimeVersion: "{tag}"' in kserve


def test_dockerfile_builds_from_the_lock_as_a_non_root_user():
    dockerfile = (REPO / "Dockerfile").read_text()
    runs = " ".join(re.findall(r"^RUN .*?(?<!\\)$", dockerfile, re.M | re.S))
    assert "pip install --require-hashes --no-deps -r /tmp/requirements.lock" in dockerfile
    assert "COPY deploy/requirements.lock" in dockerfile
    assert "--mount=type=cache,target=/root/.cache/pip" in dockerfile
    assert "PIP_NO_CACHE_DIR" not in dockerfile  # the cache mount is the cache
    assert "pip install --no-deps --no-build-isolation ." in dockerfile
    assert not re.search(r"pip install[^\n]*\btensorflow\b", dockerfile)
    assert re.search(r"^USER app$", dockerfile, re.M) and "useradd" in runs
    assert re.search(r"^HEALTHCHECK .*\n\s+CMD .*/readyz", dockerfile, re.M)
    assert dockerfile.startswith("# syntax=docker/dockerfile:1")  # RUN --mount needs BuildKit


def test_dockerfile_copies_only_what_the_build_context_keeps():
    dockerfile = (REPO / "Dockerfile").read_text()
    ignored = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for sources in re.findall(r"^COPY (\S+(?: \S+)*) \S+$", dockerfile, re.M):
        for source in sources.split():
            assert (REPO / source).exists(), source
            parts = Path(source).parts
            prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
            hits = [p for p in ignored if any(fnmatch.fnmatch(x, p) for x in prefixes)]
            assert not hits, f"{source} is excluded from the build context by {hits}"


def _fake_keras_rnn(tmp_path: Path) -> tuple[Path, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    fake = bin_dir / "keras-rnn"
    # Records its arguments and exports a version, as `keras-rnn train NAME` would.
    fake.write_text(f'#!/bin/sh\necho "$*" >> {log}\nmkdir -p "$4/$2/1"\n')
    fake.chmod(0o755)
    return bin_dir, log


def _train_missing(models: Path, bin_dir: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(DEPLOY / "train-missing.sh")],
        env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "MODEL_DIR": str(models), **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )


def test_trainer_trains_only_missing_models(tmp_path):
    bin_dir, log = _fake_keras_rnn(tmp_path)
    models = tmp_path / "models"
    (models / "text" / ".tmp-1-abc").mkdir(parents=True)  # a half-written export is no version
    _train_missing(models, bin_dir)
    calls = log.read_text().splitlines()
    assert calls == [f"train stock --model-dir {models}", f"train text --model-dir {models}"]
    second = _train_missing(models, bin_dir)  # `docker compose up` again: nothing retrains
    assert log.read_text().splitlines() == calls
    assert second.stdout.count("skipping") == 2
    _train_missing(models, bin_dir, KERAS_RNN_RETRAIN="1")
    assert len(log.read_text().splitlines()) == 4


def test_nginx_keeps_the_clients_request_id_and_retries_predictions():
    conf = (DEPLOY / "nginx" / "nginx.conf").read_text()
    mapping = re.search(r"map \$http_x_request_id \$(\w+) \{(.*?)\}", conf, re.S)
    assert mapping, "no map from the client's X-Request-ID"
    var, body = mapping.groups()
    assert re.search(r"default\s+\$http_x_request_id;", body)
    assert re.search(r'""\s+\$request_id;', body)  # generated only when the client sent none
    assert f"proxy_set_header X-Request-ID ${var};" in conf
    assert "proxy_set_header X-Request-ID $request_id;" not in conf
    locations = dict(re.findall(r"location (\S+) \{(.*?)\}", conf, re.S))
    assert "non_idempotent" in locations["/"]
    assert "non_idempotent" not in locations["/v1/admin/"]  # admin actions are not replayed


def test_tf_serving_exposes_prometheus_metrics():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    svc = compose["services"]["tfserving"]
    assert "--monitoring_config_file=/config/monitoring.config" in svc["command"]
    assert "./deploy/tfserving/monitoring.config:/config/monitoring.config:ro" in svc["volumes"]
    config = (DEPLOY / "tfserving" / "monitoring.config").read_text()
    body = re.search(r"prometheus_config\s*\{(.*?)\}", config, re.S).group(1)
    assert re.search(r"enable:\s*true", body)
    assert re.search(r'path:\s*"/monitoring/prometheus/metrics"', body)


def test_the_lock_carries_the_build_backend_the_dockerfile_builds_with(lock):
    """``pip install --no-deps --no-build-isolation .`` builds keras-rnn with the setuptools
    already in the image, which is the lock's (``--allow-unsafe``): the setuptools Python 3.11
    bundles (65.5 in a fresh venv here) is older than the SPDX ``license`` string needs
    (>= 77), so a lock compiled without it would break the image build."""
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "--no-build-isolation" in dockerfile
    build = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    for text in build:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in lock, f"build requirement {name} is not in deploy/requirements.lock"
        assert req.specifier.contains(lock[name]), (name, lock[name], str(req.specifier))
