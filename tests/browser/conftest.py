"""End-to-end fixtures for the web page: a real service and a real headless Chromium.

* ``service``: tiny contract-conforming SavedModels (``tests/fixtures/savedmodels.py``)
  written to a temporary model directory (``stock`` 1, a broken ``stock`` 2 and ``text`` 1),
  served by a real ``uvicorn`` process running
  ``serving.app:app`` on 127.0.0.1 at a free port. One per session: starting it (importing
  TensorFlow, loading both models) is the expensive part. ``launch_service(root, **env)``
  starts one with more ``SERVING_*`` settings (``test_api_key.py``: an API key).
* ``browser``: Debian's system ``chromium`` driven by Playwright's Python client. Nothing is
  downloaded; without a chromium binary every test here is skipped with the reason.
* ``page``: a fresh browser context per test that refuses every request not addressed to the
  service (the page must work offline, with no CDN) and fails the test on any uncaught
  JavaScript error.
* ``screenshot``: saves PNGs under ``outputs/screenshots/`` (``KERAS_RNN_SCREENSHOTS``
  overrides) so that a run leaves artifacts a person can look at.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("KERAS_RNN_SCREENSHOTS", REPO / "outputs" / "screenshots"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT_S = 120.0  # TensorFlow's import alone takes ~5 s on a busy 2-core machine
DESKTOP = {"width": 1024, "height": 900}


def _chromium() -> str | None:
    for candidate in (
        os.environ.get("KERAS_RNN_CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        "/usr/bin/chromium",
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test in this directory ``browser`` and skip them all when they cannot run."""
    here = Path(__file__).parent
    reason = None
    if _chromium() is None:
        reason = (
            "no chromium binary (install Debian's `chromium` and `chromium-driver`, e.g. "
            "`make browser`, or set KERAS_RNN_CHROMIUM)"
        )
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the `playwright` Python package is not installed (pip install '.[dev]')"
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


# --------------------------------------------------------------------------------------------
# The service


@dataclass
class Service:
    """A running ``uvicorn serving.app:app`` and the model directory it serves."""

    url: str
    model_dir: Path
    log: Path
    process: subprocess.Popen = field(repr=False)
    api_key: str | None = field(default=None, repr=False)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def get(self, path: str) -> tuple[int, dict]:
        return self._call(urllib.request.Request(self.url + path, headers=self._headers()))

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        data = json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path,
            data=data,
            headers={"Content-Type": "application/json", **self._headers()},
        )
        return self._call(req)

    @staticmethod
    def _call(req: urllib.request.Request) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_until_ready(service: Service) -> None:
    """Poll GET /v1/models until both models serve and no version is still loading."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    last = "no answer yet"
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            pytest.fail(
                f"the service exited with code {service.process.returncode} before it was "
                f"ready; its log ({service.log}):\n{_log_tail(service.log)}"
            )
        try:
            status, body = service.get("/v1/models")
            last = f"{status} {body}"
            if status == 200:
                models = {m["name"]: m["versions"] for m in body.get("models", [])}
                settled = all(
                    v["ready"] or v["state"] == "FAILED"
                    for versions in models.values()
                    for v in versions
                )
                serving = all(
                    any(v["ready"] for v in models.get(name, [])) for name in ("stock", "text")
                )
                if settled and serving:
                    return
        except (OSError, ValueError) as err:
            last = repr(err)
        time.sleep(0.25)
    pytest.fail(
        f"the service was not ready after {SERVER_START_TIMEOUT_S:.0f} s (last answer: {last}); "
        f"its log ({service.log}):\n{_log_tail(service.log)}"
    )


@contextlib.contextmanager
def launch_service(root: Path, **extra_env: str) -> Iterator[Service]:
    """``uvicorn serving.app:app`` on a free port serving a fresh model directory under
    ``root`` (stock 1, a broken stock 2, text 1); ``extra_env``: more ``SERVING_*`` settings."""
    from tests.fixtures.savedmodels import (
        write_broken_version,
        write_stock_model,
        write_text_model,
    )

    model_dir = root / "models"
    # A newer stock version that cannot load: the models panel must show it FAILED, with its
    # error, while version 1 keeps serving.
    write_broken_version(model_dir, "stock", 2)

    port = _free_port()
    log = root / "uvicorn.log"
    env = {
        **os.environ,
        "SERVING_MODEL_DIR": str(model_dir),
        # The service starts (and imports TensorFlow) while this process writes the models;
        # it picks each one up at its next scan.
        "SERVING_POLL_INTERVAL_S": "0.2",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONUNBUFFERED": "1",
        **extra_env,
    }
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "serving.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    service = Service(
        f"http://127.0.0.1:{port}", model_dir, log, process, extra_env.get("SERVING_API_KEY")
    )
    try:
        write_stock_model(model_dir, 1)
        write_text_model(model_dir, 1)
        _wait_until_ready(service)
        yield service
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is open, and tests collected after these ones call asyncio.run().
@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with launch_service(tmp_path_factory.mktemp("web")) as service:
        yield service


# --------------------------------------------------------------------------------------------
# The browser


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=_chromium(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class PageWatch:
    """What a page did that a test must not let pass silently."""

    js_errors: list[str] = field(default_factory=list)
    offsite: list[str] = field(default_factory=list)
    api_calls: list[str] = field(default_factory=list)


@pytest.fixture
def page_watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
def new_page(browser, service: Service, page_watch: PageWatch):
    """Open the page in a fresh context; call with a viewport to emulate a phone."""
    contexts = []

    def open_page(viewport: dict[str, int] = DESKTOP, routes=(), **context_args):
        """`routes`: (url pattern, handler) pairs that take precedence over the guard."""
        context = browser.new_context(viewport=viewport, **context_args)
        context.set_default_timeout(10_000)
        contexts.append(context)

        def guard(route):
            url = route.request.url
            if url.startswith(service.url + "/"):
                if "/v1/" in url:
                    page_watch.api_calls.append(f"{route.request.method} {url[len(service.url) :]}")
                route.continue_()
            else:
                page_watch.offsite.append(url)
                route.abort()

        context.route("**/*", guard)
        for pattern, handler in routes:  # the last registered route is tried first
            context.route(pattern, handler)
        page = context.new_page()
        page.on("pageerror", lambda exc: page_watch.js_errors.append(str(exc)))
        page.goto(service.url + "/")
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not page_watch.js_errors, f"uncaught JavaScript errors: {page_watch.js_errors}"
    assert not page_watch.offsite, f"the page asked for off-site resources: {page_watch.offsite}"


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture(scope="session")
def screenshot() -> Callable[..., Path]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(target, name: str, **kwargs) -> Path:
        """Screenshot a page, or one element of it (a Playwright locator)."""
        path = SCREENSHOTS / f"{name}.png"
        target.screenshot(path=str(path), **kwargs)
        return path

    return take
