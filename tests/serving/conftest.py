"""Shared setup for the service tests: one model repository and one in-process app per
session, and one real uvicorn process on 127.0.0.1 (a free port) for the tests that need HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.savedmodels import write_broken_version, write_stock_model, write_text_model
from tests.serving.helpers import LiveServer, wait_ready


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """stock v1 (x1.01) and v2 (x1.02), text v1, and a broken text v2."""
    root = tmp_path_factory.mktemp("models")
    write_stock_model(root, 1, growth=1.01)
    write_stock_model(root, 2, growth=1.02)
    write_text_model(root, 1)
    write_broken_version(root, "text", 2)
    return root


@pytest.fixture(scope="session")
def app_factory():
    """Build an app for a model dir with test-friendly settings (no polling)."""
    from serving.app import create_app
    from serving.settings import Settings

    def make(model_dir: Path, **overrides):
        options = {"model_dir": model_dir, "poll_interval_s": 0.0, **overrides}
        return create_app(Settings(**options))

    return make


@pytest.fixture(scope="session")
def client(model_dir: Path, app_factory) -> Iterator:
    """In-process client of an app serving ``model_dir`` (stock v1+v2 pinned, text newest)."""
    from fastapi.testclient import TestClient

    app = app_factory(model_dir, models={"stock": {"specific": [1, 2]}})
    with TestClient(app, raise_server_exceptions=False) as c:
        wait_ready(c)
        yield c


_EARLY: dict[str, object] = {}


def _start_live(root: Path) -> LiveServer:
    write_stock_model(root, 1, growth=1.01)
    write_text_model(root, 1)
    return LiveServer(
        root,
        root.parent / "server.log",
        SERVING_POLL_INTERVAL_S="0.2",
        SERVING_MAX_BATCH_SIZE="32",
    )


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list
) -> None:
    """Start the live server as soon as collection shows a test needs it, so its start-up
    (TensorFlow import, model load) overlaps with the in-process tests."""
    if any("live_server" in getattr(item, "fixturenames", ()) for item in items):
        import tempfile

        root = Path(tempfile.mkdtemp(prefix="serving-live-")) / "models"
        root.mkdir()
        _EARLY["root"] = root
        _EARLY["server"] = _start_live(root)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    server = _EARLY.pop("server", None)
    if isinstance(server, LiveServer):
        server.stop()
    root = _EARLY.pop("root", None)
    if isinstance(root, Path):
        import shutil

        shutil.rmtree(root.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def live_dir(live_server: LiveServer) -> Path:
    """The repository the live server watches; tests add versions to it (hot swap)."""
    return live_server.model_dir


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One `keras-rnn serve` process for the session: stock v1 (x1.01) and text v1."""
    server = _EARLY.get("server")
    if not isinstance(server, LiveServer):  # collected without the hook (e.g. a plugin run)
        server = _start_live(tmp_path_factory.mktemp("live") / "models")
        _EARLY["server"] = server
    server.wait_ready()
    yield server


def pytest_configure(config: pytest.Config) -> None:
    # Starlette 1.x nudges TestClient users towards `httpx2`; httpx is what we (and FastAPI's
    # docs) use, and the warning says nothing about our code.
    config.addinivalue_line("filterwarnings", "ignore:Using `httpx` with `starlette.testclient`")
