"""Where the HTTP status is chosen: the core raises its own errors, serving/errors.py maps them.

One version lookup (the same status and message on every route and dialect), one readiness
(``Retry-After`` from the settings, not a hard-coded "1"), one set of limits, and auth checked
before the body is read, declared in OpenAPI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.fixtures.savedmodels import write_broken_version
from tests.serving.helpers import REPO

CORE = ("registry.py", "signatures.py", "limits.py", "exceptions.py", "encoding.py")


@pytest.mark.parametrize("module", CORE)
def test_the_core_does_not_pick_http_statuses(module):
    """The core imports neither the HTTP error module nor the web framework."""
    tree = ast.parse((REPO / "serving" / module).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported.add(("." * node.level) + (node.module or ""))
        elif isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
    assert not {".errors", "serving.errors", "fastapi"} & imported, imported
    source = (REPO / "serving" / module).read_text()
    assert "ApiError" not in source and "status_code" not in source


def test_every_core_error_has_one_status():
    from serving import exceptions
    from serving.errors import status_of

    classes = [
        c
        for c in vars(exceptions).values()
        if isinstance(c, type) and issubclass(c, exceptions.ServingError)
    ]
    statuses = {
        c.__name__: status_of(c("x", 2) if issubclass(c, exceptions.NotReady) else c("x"))
        for c in classes
    }
    assert statuses["InvalidInput"] == 400 and statuses["Unsupported"] == 501
    assert statuses["VersionNotReady"] == 503 and statuses["ModelNotFound"] == 404


def _same_answer(responses, status: int) -> str:
    first = responses[0][1]
    for path, r in responses:
        assert r.status_code == status, (path, r.status_code, r.text)
        assert r.json()["error"] == first.json()["error"], (path, r.json(), first.json())
    return first.json()["error"]


def test_one_version_lookup_unknown_version(client):
    """Version 9 does not exist: every route says the same thing with the same status."""
    calls = [
        ("GET /v1/models/stock/versions/9", client.get("/v1/models/stock/versions/9")),
        ("GET tf metadata", client.get("/v1/models/stock/versions/9/metadata")),
        (
            "POST :predict",
            client.post("/v1/models/stock/versions/9:predict", json={"instances": [[1.0]]}),
        ),
        ("GET v2 metadata", client.get("/v2/models/stock/versions/9")),
        ("GET v2 ready", client.get("/v2/models/stock/versions/9/ready")),
        (
            "POST v2 infer",
            client.post(
                "/v2/models/stock/versions/9/infer",
                json={
                    "inputs": [{"name": "prices", "shape": [1, 1], "datatype": "FP32", "data": [1]}]
                },
            ),
        ),
        ("POST task", client.post("/v1/stock/forecast", json={"prices": [1.0], "version": 9})),
        ("GET card", client.get("/v1/models/stock/card", params={"version": 9})),
    ]
    message = _same_answer(calls, 404)
    assert "no version 9" in message


def test_one_version_lookup_failed_version(client):
    """text v2 failed to load: the same 404 and message on every route that serves it."""
    calls = [
        ("GET tf metadata", client.get("/v1/models/text/versions/2/metadata")),
        ("GET v2 metadata", client.get("/v2/models/text/versions/2")),
        ("GET v2 ready", client.get("/v2/models/text/versions/2/ready")),
        ("POST task", client.post("/v1/text/next", json={"text": "ab", "version": 2})),
    ]
    message = _same_answer(calls, 404)
    assert "FAILED" in message and "text/2/saved_model.pb" in message


@pytest.fixture(scope="module")
def not_ready_client(tmp_path_factory, app_factory):
    """A service whose only model failed to load, with Retry-After 7."""
    from fastapi.testclient import TestClient

    root = tmp_path_factory.mktemp("broken")
    write_broken_version(root, "stock", 1)
    app = app_factory(root, retry_after_s=7, settle_s=0.0)
    with TestClient(app, raise_server_exceptions=False) as c:
        app.state.service.registry.initial_scan_done.wait(60)
        yield c


def test_one_readiness_with_the_configured_retry_after(not_ready_client):
    for path in ("/readyz", "/v2/health/ready"):
        r = not_ready_client.get(path)
        assert r.status_code == 503, (path, r.text)
        assert r.headers["retry-after"] == "7", path
    r = not_ready_client.post("/v1/stock/forecast", json={"prices": [1.0]})
    assert r.status_code == 503 and r.headers["retry-after"] == "7", r.text
    r = not_ready_client.get("/v2/models/stock/ready")
    assert r.status_code == 503 and r.headers["retry-after"] == "7", r.text


def test_one_set_of_limits():
    """The limits are Settings' fields; there is no second copy to drift."""
    from serving import signatures
    from serving.limits import Limits
    from serving.service import Service
    from serving.settings import Settings

    assert getattr(signatures, "Limits", Limits) is Limits
    settings = Settings(max_instances=3)
    assert Service(settings).limits is settings


# ---- Auth --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keyed(model_dir: Path, app_factory):
    from fastapi.testclient import TestClient

    app = app_factory(model_dir, api_key="s3cret")
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        ("/v1/text/next", b"{not json", {"content-type": "application/json"}),
        ("/v1/stock/forecast", b'{"prices": "x"}', {"content-type": "application/json"}),
        ("/v1/stock/forecast", b"", {}),
        ("/v1/models/stock:predict", b"{not json", {"content-type": "application/json"}),
        ("/v2/models/stock/infer", b"{not json", {"content-type": "application/json"}),
        # Nor is a compressed body inflated, nor its encoding judged, before the key.
        ("/v1/stock/forecast", b"not gzip at all", {"content-encoding": "gzip"}),
        ("/v1/models/stock:predict", b"\x1f\x8b\x08\x00", {"content-encoding": "gzip"}),
        ("/v2/models/stock/infer", b"x", {"content-encoding": "br"}),
    ],
)
def test_the_key_is_checked_before_the_body(keyed, path, body, headers):
    r = keyed.post(path, content=body, headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"
    r = keyed.post(path, content=body, headers={**headers, "authorization": "Bearer s3cret"})
    assert r.status_code in (400, 415, 422), r.text
    assert "error" in r.json()


def test_openapi_declares_the_key_so_docs_can_send_it(keyed):
    schema = keyed.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearer"]["description"],
    }
    assert schemes["apiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    paths = schema["paths"]
    assert paths["/v1/text/next"]["post"]["security"] == [{"bearer": []}, {"apiKey": []}]
    assert paths["/v1/models/{name}:predict"]["post"]["security"]
    assert paths["/v2/models/{name}/infer"]["post"]["security"]
    assert "security" not in paths["/healthz"]["get"]
    assert "security" not in paths["/v2/health/ready"]["get"]
    # The task routes still document their JSON body.
    body = paths["/v1/stock/forecast"]["post"]["requestBody"]["content"]["application/json"]
    assert "prices" in body["schema"]["properties"]


def test_the_page_has_a_key_form_kept_in_session_storage(keyed):
    """What the browser tests drive (tests/browser/test_api_key.py), checked via HTTP too."""
    page = keyed.get("/").text
    assert 'id="key-form"' in page and 'type="password"' in page
    http_js = keyed.get("/js/http.js").text
    assert "sessionStorage" in http_js and "localStorage" not in http_js
    assert "Authorization" in http_js
    assert keyed.get("/js/auth.js").status_code == 200
