"""Versions copied in place (``mkdir N && cp -r v/* N/``), not published atomically.

A copy in progress must not be loaded (the files settle first), a version that failed is
retried once any of its files changes, and a failed version's status never shows the
server's paths.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from serving.registry import Registry, load_version
from serving.settings import Settings
from tests.fixtures.savedmodels import write_stock_model


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> Path:
    """Stock versions 1 (x1.01) and 2 (x1.02), written once for the module."""
    root = tmp_path_factory.mktemp("pool")
    write_stock_model(root, 1, growth=1.01)
    write_stock_model(root, 2, growth=1.02)
    return root / "stock"


def slow_copy(src: Path, dst: Path, pieces: int = 4, pause: float = 0.05) -> None:
    """What ``mkdir dst && cp -r src/* dst/`` looks like to a watcher on a slow disk: the
    directory first, then every file created empty and filled in ``pieces`` writes."""
    dst.mkdir()
    for root, dirs, files in os.walk(src):
        rel = Path(root).relative_to(src)
        for d in sorted(dirs):
            (dst / rel / d).mkdir()
            time.sleep(pause)
        for f in sorted(files):
            data = (Path(root) / f).read_bytes()
            step = max(1, len(data) // pieces)
            with open(dst / rel / f, "wb") as out:
                for i in range(0, max(len(data), 1), step):
                    out.write(data[i : i + step])
                    out.flush()
                    time.sleep(pause)


def test_version_copied_in_pieces_is_loaded_once_complete_and_never_failed(tmp_path, pool):
    (tmp_path / "stock").mkdir()
    shutil.copytree(pool / "1", tmp_path / "stock" / "1")
    reg = Registry(Settings(model_dir=tmp_path, poll_interval_s=0.05, settle_s=2.0))
    reg.start()
    try:
        assert reg.wait_ready(60)
        seen: list[str] = []
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                mv = reg._models.get("stock", {}).get(2)
                if mv is not None and (not seen or seen[-1] != mv.state):
                    seen.append(mv.state)
                time.sleep(0.01)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            slow_copy(pool / "2", tmp_path / "stock" / "2")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and reg.get("stock").version != 2:
                time.sleep(0.05)
        finally:
            done.set()
            watcher.join(10)
        assert reg.get("stock").version == 2, (seen, reg.versions("stock"))
        assert "FAILED" not in seen, seen
        assert reg.versions("stock")[2].state == "AVAILABLE"
    finally:
        reg.stop()


def _age(path: Path, seconds: float) -> None:
    """Move every mtime under ``path`` ``seconds`` into the past (a settled version)."""
    past = time.time() - seconds
    for root, _, files in os.walk(path):
        for entry in [root, *(os.path.join(root, f) for f in files)]:
            os.utime(entry, (past, past))


def test_failed_version_is_retried_when_any_file_changes(tmp_path, pool):
    """The bug: a truncated ``variables.data-*`` failed the version, and completing that
    file (which changes neither ``saved_model.pb`` nor a directory's mtime) never retried it."""
    version = tmp_path / "stock" / "1"
    shutil.copytree(pool / "1", version)
    data_file = next((version / "variables").glob("variables.data-*"))
    full = data_file.read_bytes()
    data_file.write_bytes(full[: len(full) // 2])
    _age(version, 60)
    reg = Registry(Settings(model_dir=tmp_path, settle_s=0.3))
    reg.scan()
    assert reg.versions("stock")[1].state == "FAILED"
    reg.scan()  # nothing changed: not retried
    assert reg.versions("stock")[1].state == "FAILED"
    data_file.write_bytes(full)  # the copy completes
    reg.scan()
    assert reg.versions("stock")[1].state == "AVAILABLE", reg.versions("stock")[1].error


def test_a_version_still_being_written_waits_for_the_settle_time(tmp_path, pool):
    version = tmp_path / "stock" / "1"
    shutil.copytree(pool / "1", version)
    calls: list[float] = []

    def loader(mv, warmup):
        calls.append(time.monotonic())
        load_version(mv, warmup)

    reg = Registry(Settings(model_dir=tmp_path, settle_s=0.5), loader=loader)
    (version / "saved_model.pb").touch()  # just written
    written = time.monotonic()
    reg.scan()
    assert reg.versions("stock")[1].state == "AVAILABLE"
    assert calls[0] - written >= 0.45  # it waited for the files to settle before loading


def test_failed_status_names_paths_relative_to_the_model_directory(tmp_path):
    version = tmp_path / "stock" / "1"
    (version / "variables").mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"not a SavedModel")
    _age(version, 60)
    reg = Registry(Settings(model_dir=tmp_path, settle_s=0.3))
    reg.scan()
    error = reg.versions("stock")[1].error
    assert "stock/1/saved_model.pb" in error, error
    assert str(tmp_path) not in error and str(tmp_path.resolve()) not in error, error


def test_public_error_cuts_every_absolute_path(tmp_path):
    from serving.registry import public_error

    model_dir = tmp_path / "models"
    message = (
        f"OSError: Cannot parse file b'{model_dir}/stock/2/saved_model.pb' "
        "(from /usr/lib/python3/site-packages/tensorflow/loader.py, line 3)"
    )
    public = public_error(message, model_dir)
    assert "b'stock/2/saved_model.pb'" in public
    assert "/usr/lib" not in public and ".../loader.py" in public
    assert str(tmp_path) not in public
