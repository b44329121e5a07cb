"""Helpers for the lesson tests: load a lesson from tutorials/ as a module, run it, check plots."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

TUTORIALS = Path(__file__).resolve().parents[2] / "tutorials"


def load_lesson(stem: str) -> ModuleType:
    """Import ``tutorials/<stem>.py`` (its ``import _common`` needs tutorials/ on sys.path)."""
    if str(TUTORIALS) not in sys.path:
        sys.path.insert(0, str(TUTORIALS))
    name = f"lesson_{stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, TUTORIALS / f"{stem}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def run_quick(stem: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import keras

    keras.utils.set_random_seed(0)
    out_dir = tmp_path_factory.mktemp(stem)
    findings = load_lesson(stem).run(quick=True, output_dir=out_dir)
    findings["_output_dir"] = out_dir
    return findings


def run_full(stem: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import keras

    keras.utils.set_random_seed(0)
    out_dir = tmp_path_factory.mktemp(f"{stem}_full")
    findings = load_lesson(stem).run(quick=False, output_dir=out_dir)
    findings["_output_dir"] = out_dir
    return findings


def assert_plots_written(findings: dict[str, Any]) -> None:
    plots = findings["plots"]
    assert plots, "the lesson saved no plots"
    for path in plots:
        path = Path(path)
        assert path.parent == Path(findings["_output_dir"])
        assert path.suffix == ".png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
