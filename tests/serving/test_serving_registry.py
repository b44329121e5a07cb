"""The model repository: newest version, pinning, failed loads kept out, swaps, retries."""

from __future__ import annotations

import gc
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from serving.exceptions import VersionNotFound, VersionNotReady
from serving.registry import ModelVersion, Registry, load_version
from serving.settings import Settings
from tests.fixtures.savedmodels import write_broken_version, write_stock_model


def forecast(mv: ModelVersion, last: float = 100.0) -> float:
    return float(
        mv.signatures["serving_default"]({"prices": np.array([[last]], np.float32)})["forecast"][
            0, 0
        ]
    )


@pytest.fixture(scope="module")
def stock_versions(tmp_path_factory) -> Path:
    """A pool of stock versions 1..3 (growth 1.01, 1.02, 1.03) to copy into test repositories."""
    pool = tmp_path_factory.mktemp("pool")
    for v in (1, 2, 3):
        write_stock_model(pool, v, growth=1.0 + v / 100)
    return pool / "stock"


def install(pool: Path, root: Path, version: int) -> None:
    """Copy a version in the way an exporter publishes: write hidden, then rename."""
    tmp = root / "stock" / f".tmp-{version}-copy"
    shutil.copytree(pool / str(version), tmp)
    tmp.rename(root / "stock" / str(version))


def states(reg: Registry, name: str = "stock") -> dict[int, str]:
    return {v: m.state for v, m in sorted(reg.versions(name).items())}


def test_serves_newest_and_swaps_to_new_version(tmp_path, stock_versions):
    (tmp_path / "stock").mkdir()
    install(stock_versions, tmp_path, 1)
    (tmp_path / "stock" / ".tmp-9-half-written").mkdir()  # ignored
    reg = Registry(Settings(model_dir=tmp_path))
    reg.scan()
    assert states(reg) == {1: "AVAILABLE"} and reg.ready()
    assert forecast(reg.get("stock")) == pytest.approx(101.0)
    old = reg.get("stock")
    install(stock_versions, tmp_path, 2)
    reg.scan()
    assert states(reg) == {2: "AVAILABLE"}  # v1 unloaded once v2 was warm
    assert reg.get("stock").version == 2
    assert forecast(old) == pytest.approx(101.0)  # a request holding v1 still completes


def test_served_models_are_frozen_out_of_gc_and_unloaded_ones_are_not_kept(
    tmp_path, stock_versions
):
    (tmp_path / "stock").mkdir()
    install(stock_versions, tmp_path, 1)
    reg = Registry(Settings(model_dir=tmp_path))
    reg.scan()
    # Full collections skip the served model: it is in the permanent generation.
    assert id(reg.get("stock").handle) not in {id(o) for o in gc.get_objects()}
    frozen = gc.get_freeze_count()
    for version in (2, 3):
        install(stock_versions, tmp_path, version)
        reg.scan()
    assert states(reg) == {3: "AVAILABLE"}
    assert id(reg.get("stock").handle) not in {id(o) for o in gc.get_objects()}
    # The cycles of unloaded versions were collected, not frozen forever (each swap leaked
    # about 2,000 objects of this small model when they were).
    assert gc.get_freeze_count() - frozen < 1500


@pytest.mark.parametrize("young", [12_345, 0])
def test_the_service_sets_the_young_gc_threshold_while_it_runs_and_restores_it(tmp_path, young):
    import asyncio

    from serving.service import Service

    before = gc.get_threshold()
    service = Service(Settings(model_dir=tmp_path, poll_interval_s=0, gc_young_threshold=young))
    service.start()
    try:
        assert gc.get_threshold() == ((young, *before[1:]) if young else before)
    finally:
        asyncio.run(service.stop())
    assert gc.get_threshold() == before


def test_broken_version_never_replaces_good_one_and_is_retried_when_fixed(tmp_path, stock_versions):
    (tmp_path / "stock").mkdir()
    install(stock_versions, tmp_path, 1)
    reg = Registry(Settings(model_dir=tmp_path))
    reg.scan()
    write_broken_version(tmp_path, "stock", 3)
    reg.scan()
    assert states(reg) == {1: "AVAILABLE", 3: "FAILED"}
    assert "saved_model.pb" in reg.versions("stock")[3].error
    assert reg.get("stock").version == 1 and reg.ready()
    reg.scan()  # unchanged broken files are not reloaded over and over
    assert states(reg) == {1: "AVAILABLE", 3: "FAILED"}
    shutil.rmtree(tmp_path / "stock" / "3")
    install(stock_versions, tmp_path, 3)
    reg.scan()
    assert states(reg) == {3: "AVAILABLE"}
    assert forecast(reg.get("stock")) == pytest.approx(103.0)


def test_only_broken_model_is_not_ready(tmp_path):
    write_broken_version(tmp_path, "stock", 1)
    reg = Registry(Settings(model_dir=tmp_path))
    reg.scan()
    assert states(reg) == {1: "FAILED"} and not reg.ready()
    with pytest.raises(VersionNotReady):
        reg.get("stock")


def test_pinned_and_several_versions(tmp_path, stock_versions):
    (tmp_path / "stock").mkdir()
    for v in (1, 2, 3):
        install(stock_versions, tmp_path, v)
    reg = Registry(Settings(model_dir=tmp_path, models={"stock": {"specific": [1, 2]}}))
    reg.scan()
    assert states(reg) == {1: "AVAILABLE", 2: "AVAILABLE"}
    assert reg.get("stock").version == 2
    assert forecast(reg.get("stock", 1)) == pytest.approx(101.0)
    with pytest.raises(VersionNotFound):
        reg.get("stock", 3)
    latest2 = Registry(Settings(model_dir=tmp_path, models={"stock": {"latest": 2}}))
    latest2.scan()
    assert states(latest2) == {2: "AVAILABLE", 3: "AVAILABLE"}


def test_old_version_serves_while_new_one_loads(tmp_path, stock_versions):
    (tmp_path / "stock").mkdir()
    install(stock_versions, tmp_path, 1)
    gate, entered = threading.Event(), threading.Event()

    def slow_loader(mv: ModelVersion, warmup: bool) -> None:
        if mv.version == 2:
            entered.set()
            gate.wait(30)
        load_version(mv, warmup)

    reg = Registry(Settings(model_dir=tmp_path), loader=slow_loader)
    reg.scan()
    install(stock_versions, tmp_path, 2)
    worker = threading.Thread(target=reg.scan)
    worker.start()
    assert entered.wait(30)
    assert states(reg) == {1: "AVAILABLE", 2: "LOADING"}
    assert reg.get("stock").version == 1 and reg.ready()
    gate.set()
    worker.join(30)
    assert states(reg) == {2: "AVAILABLE"}


def test_warmup_failure_is_a_failed_load(tmp_path, stock_versions):
    (tmp_path / "stock").mkdir()
    install(stock_versions, tmp_path, 1)

    def failing_warmup(mv: ModelVersion, warmup: bool) -> None:
        load_version(mv, warmup)
        if mv.version == 1:
            raise RuntimeError("warm-up call of signature `serving_default` failed: boom")

    reg = Registry(Settings(model_dir=tmp_path), loader=failing_warmup)
    reg.scan()
    assert states(reg) == {1: "FAILED"} and "warm-up" in reg.versions("stock")[1].error
