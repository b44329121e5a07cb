"""deploy/k8s/, validated offline: the Kubernetes objects against the Kubernetes API's own
JSON schemas (the `kubernetes-validate` package, strict: unknown fields fail), the KServe
InferenceService against a JSON schema of the fields we use (its CRD ships with KServe,
not with any package here), and the wiring between them and the image."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
K8S = REPO / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33.0"  # a current release; the objects use only long-stable APIs
DNS_1123 = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

kubernetes_validate = pytest.importorskip("kubernetes_validate")

RESOURCES = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "requests": {"type": "object", "additionalProperties": {"type": "string"}},
        "limits": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
# KServe v1beta1 InferenceService: the fields of serving.kserve.io_inferenceservices.yaml
# that we set, with their types (predictor.model is a ModelSpec; unknown keys are errors).
INFERENCE_SERVICE = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "serving.kserve.io/v1beta1"},
        "kind": {"const": "InferenceService"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": DNS_1123, "maxLength": 63},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "spec": {
            "type": "object",
            "required": ["predictor"],
            "additionalProperties": False,
            "properties": {
                "predictor": {
                    "type": "object",
                    "required": ["model"],
                    "additionalProperties": False,
                    "properties": {
                        "minReplicas": {"type": "integer", "minimum": 0},
                        "maxReplicas": {"type": "integer", "minimum": 1},
                        "model": {
                            "type": "object",
                            "required": ["modelFormat", "storageUri"],
                            "additionalProperties": False,
                            "properties": {
                                "modelFormat": {
                                    "type": "object",
                                    "required": ["name"],
                                    "properties": {"name": {"const": "tensorflow"}},
                                },
                                "runtimeVersion": {"type": "string"},
                                "storageUri": {
                                    "type": "string",
                                    "pattern": r"^pvc://[a-z0-9-]+/[A-Za-z0-9_.-]+$",
                                },
                                "resources": RESOURCES,
                            },
                        },
                    },
                }
            },
        },
    },
}


def _documents() -> list[tuple[str, dict]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def _kinds() -> dict[str, dict]:
    return {d["kind"] + "/" + d["metadata"]["name"]: d for _, d in _documents()}


def test_kubernetes_objects_match_the_api_schemas():
    checked = 0
    for _file, doc in _documents():
        if doc["apiVersion"].startswith("serving.kserve.io/"):
            continue
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        checked += 1
    assert checked == 5  # PVC, Job, Deployment, Service, HPA


def test_a_bad_field_fails_validation():
    """The validator is not a no-op: a typo in a Deployment is an error."""
    deployment = _kinds()["Deployment/keras-rnn-api"]
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_inference_services_match_the_kserve_fields():
    import jsonschema

    services = [d for _, d in _documents() if d["kind"] == "InferenceService"]
    assert {s["metadata"]["name"] for s in services} == {"keras-rnn-stock", "keras-rnn-text"}
    for service in services:
        jsonschema.validate(service, INFERENCE_SERVICE)
        model = service["spec"]["predictor"]["model"]
        assert model["storageUri"].split("/")[-1] == service["metadata"]["name"].split("-")[-1]
    bad = yaml.safe_load(yaml.safe_dump(services[0]))
    bad["spec"]["predictor"]["model"]["storageUri"] = "/models/stock"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, INFERENCE_SERVICE)


def test_wiring():
    kinds = _kinds()
    deployment = kinds["Deployment/keras-rnn-api"]
    pod = deployment["spec"]["template"]["spec"]
    (api,) = pod["containers"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = kinds["Service/keras-rnn-api"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == api["ports"][0]["name"]
    hpa = kinds["HorizontalPodAutoscaler/keras-rnn-api"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "keras-rnn-api"
    assert "cpu" in api["resources"]["requests"]  # utilisation targets need a CPU request
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 10001

    from keras_rnn.cli import build_parser

    args = build_parser().parse_args(api["command"][1:])
    assert api["command"][0] == "keras-rnn" and args._command == "serve" and args.port == 8000

    job = kinds["Job/keras-rnn-train"]
    (trainer,) = job["spec"]["template"]["spec"]["containers"]
    assert trainer["command"] == ["train-missing"]  # deploy/train-missing.sh in the image
    assert "COPY deploy/train-missing.sh /usr/local/bin/train-missing" in (
        (REPO / "Dockerfile").read_text()
    )
    assert trainer["image"] == api["image"]
    claim = kinds["PersistentVolumeClaim/keras-rnn-models"]["metadata"]["name"]
    for pod_spec in (pod, job["spec"]["template"]["spec"]):
        assert {v["persistentVolumeClaim"]["claimName"] for v in pod_spec["volumes"] if "persistentVolumeClaim" in v} == {claim}  # fmt: skip
    for name in ("stock", "text"):
        uri = kinds[f"InferenceService/keras-rnn-{name}"]["spec"]["predictor"]["model"]
        assert uri["storageUri"] == f"pvc://{claim}/{name}"
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(
        p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"
    )
    for name in listed:
        assert re.match(r"^[a-z-]+\.yaml$", name)
