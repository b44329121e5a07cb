"""Versioned, atomic writes into a TensorFlow Serving model repository.

Layout: ``<model_dir>/<name>/<version>/`` with positive integer versions, the newest being the
highest. A version is written into a hidden temporary directory beside its final place and
renamed into place only when complete, so a reader (the service, TF Serving) never sees a
half-written version, and a failed export leaves the previous good versions untouched.

A process killed during an export leaves its temporary directory
(``<model_dir>/<name>/.tmp-<version>-<pid>-*``); :func:`remove_orphans` deletes those whose
process is gone, at the next export and when a training command starts.

The names in this layout (the version rule, the temporary prefix, the card file, the model
name rule) belong to the export contract, :mod:`keras_rnn_contract`; this module writes it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from keras_rnn_contract import (
    CARD_FILE,
    SAVED_MODEL_FILE,
    TMP_PATTERN,
    TMP_PREFIX,
    validate_name,
    version_dirs,
)

__all__ = [
    "CARD_FILE",
    "list_versions",
    "next_version",
    "read_card",
    "remove_orphans",
    "validate_name",
    "write_version",
]
# A temporary directory without a process id (written before ids were recorded) is an
# orphan once it is this old: no export takes an hour.
LEGACY_ORPHAN_AGE_S = 3600.0


def list_versions(model_dir: str | os.PathLike, name: str) -> list[int]:
    """The complete versions of a model, ascending (temporary directories are ignored)."""
    return sorted(version_dirs(Path(model_dir) / validate_name(name)))


def next_version(model_dir: str | os.PathLike, name: str) -> int:
    versions = list_versions(model_dir, name)
    return versions[-1] + 1 if versions else 1


def write_version(
    model_dir: str | os.PathLike,
    name: str,
    write: Callable[[Path], None],
    card: dict[str, Any] | None = None,
    version: int | None = None,
    warmup: bool = True,
) -> Path:
    """Write a new version atomically and return its final path.

    Args:
        model_dir: the repository root (e.g. ``models/``).
        name: the model's name (one path component).
        write: called with an empty temporary directory; it writes the SavedModel there.
        card: the model card, written as ``model_card.json`` beside the SavedModel, with
            ``name`` and ``version`` filled in.
        version: the version number; the next free one when omitted. An existing version is
            never overwritten.
        warmup: write TensorFlow Serving's warm-up requests, one per signature, into
            ``assets.extra/`` (:mod:`keras_rnn.predictors.warmup`).
    """
    base = Path(model_dir) / validate_name(name)
    base.mkdir(parents=True, exist_ok=True)
    if version is None:
        version = next_version(model_dir, name)
    if not isinstance(version, int) or version <= 0:
        raise ValueError(
            f"Received an invalid value for argument `version`: expected a positive integer, got {version!r}."
        )
    final = base / str(version)
    if final.exists():
        raise FileExistsError(
            f"Model version {final} already exists; versions are never overwritten."
        )
    remove_orphans(model_dir, name)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{version}-{os.getpid()}-", dir=base))
    try:
        staging = tmp / "export"
        write(staging)
        if not (staging / SAVED_MODEL_FILE).is_file():
            raise RuntimeError(f"The export wrote no {SAVED_MODEL_FILE} into {staging}.")
        if warmup:
            # TensorFlow: only when exporting; this module stays free of it for the CLI.
            from keras_rnn.predictors.warmup import write_warmup_requests

            write_warmup_requests(staging, name)
        if card is not None:
            card = _finite({**card, "name": name, "version": version})
            (staging / CARD_FILE).write_text(
                json.dumps(card, indent=2, allow_nan=False, default=_jsonable)
            )
        _fsync_tree(staging)
        os.rename(staging, final)  # atomic on one filesystem; fails if `final` appeared meanwhile
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


# Before this: a temporary directory named with our pid is an earlier process's.
_IMPORTED_AT = time.time()


def remove_orphans(model_dir: str | os.PathLike, name: str) -> list[Path]:
    """Delete the temporary directories that killed exports left under ``<model_dir>/<name>``.

        A directory ``.tmp-<version>-<pid>-*`` is an orphan when no process ``pid`` runs on this
        machine (a running export keeps its own) or, named with this process's pid, when it is
    older than this process (a container's entry point has the same pid every run); one without a pid when older than an hour.
        Returns what was removed.
    """
    base = Path(model_dir) / validate_name(name)
    if not base.is_dir():
        return []
    removed = []
    for path in base.iterdir():
        match = TMP_PATTERN.match(path.name)
        if not match or not path.is_dir():
            continue
        pid = match.group(1)
        if pid is not None:
            if int(pid) == os.getpid():  # ours, or an earlier process's with our pid (PID 1 in
                orphan = path.stat().st_mtime < _IMPORTED_AT  # a container, run after run)
            else:
                orphan = not _process_exists(int(pid))
        else:
            orphan = time.time() - path.stat().st_mtime > LEGACY_ORPHAN_AGE_S
        if orphan:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's
        return True
    return True


def read_card(version_dir: str | os.PathLike) -> dict[str, Any] | None:
    path = Path(version_dir) / CARD_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def _finite(value: Any) -> Any:
    """The card with NaN and infinities replaced by null: JSON has no NaN, and readers choke on it."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _fsync_tree(root: Path) -> None:
    """Flush file contents before the rename, so a crash cannot leave a renamed-but-empty file."""
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            fd = os.open(os.path.join(dirpath, f), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
