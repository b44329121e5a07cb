"""The model repository writes versions atomically and never overwrites or exposes partial ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keras_rnn.predictors import repository


def _fake_savedmodel(path: Path) -> None:
    path.mkdir(parents=True)
    (path / "saved_model.pb").write_bytes(b"pb")
    (path / "variables").mkdir()


def test_versions_count_up_and_card_is_written(tmp_path):
    first = repository.write_version(tmp_path, "stock", _fake_savedmodel, card={"task": "stock"})
    second = repository.write_version(tmp_path, "stock", _fake_savedmodel)
    assert first == tmp_path / "stock" / "1"
    assert second == tmp_path / "stock" / "2"
    assert repository.list_versions(tmp_path, "stock") == [1, 2]
    assert json.loads((first / "model_card.json").read_text()) == {
        "task": "stock",
        "name": "stock",
        "version": 1,
    }
    assert repository.read_card(second) is None


def test_failed_export_leaves_no_version_and_no_temp_dir(tmp_path):
    repository.write_version(tmp_path, "stock", _fake_savedmodel)

    def broken(path: Path) -> None:
        path.mkdir()
        (path / "half-written").write_text("x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        repository.write_version(tmp_path, "stock", broken)
    assert sorted(p.name for p in (tmp_path / "stock").iterdir()) == ["1"]


def test_export_without_savedmodel_is_rejected(tmp_path):
    with pytest.raises(RuntimeError, match=r"saved_model\.pb"):
        repository.write_version(tmp_path, "text", lambda p: p.mkdir())
    assert repository.list_versions(tmp_path, "text") == []


def test_existing_version_is_never_overwritten(tmp_path):
    repository.write_version(tmp_path, "stock", _fake_savedmodel, version=3)
    with pytest.raises(FileExistsError):
        repository.write_version(tmp_path, "stock", _fake_savedmodel, version=3)
    assert repository.next_version(tmp_path, "stock") == 4


@pytest.mark.parametrize("name", ["", "..", "../etc", "a/b", ".hidden", "x" * 65, "a b"])
def test_bad_names_are_refused(tmp_path, name):
    with pytest.raises(ValueError, match="invalid model name"):
        repository.write_version(tmp_path, name, _fake_savedmodel)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("version", [0, -1, "2"])
def test_bad_versions_are_refused(tmp_path, version):
    with pytest.raises(ValueError, match="`version`"):
        repository.write_version(tmp_path, "stock", _fake_savedmodel, version=version)


def test_card_with_nan_is_written_as_valid_json(tmp_path):
    import numpy as np

    card = {"metrics": {"mae": float("nan"), "rmse": np.float32(2.5), "mape": [np.inf, 1.0]}}
    path = repository.write_version(tmp_path, "stock", _fake_savedmodel, card=card)
    text = (path / "model_card.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)["metrics"] == {"mae": None, "rmse": 2.5, "mape": [None, 1.0]}
