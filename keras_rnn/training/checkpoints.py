"""Checkpoints that lose nothing: what is saved, how it is written, how a damaged one is skipped.

A checkpoint is a ``tf.train.Checkpoint`` of the model, the optimizer (slots, iteration
count, learning rate, loss scale), the running epoch metrics, and the counters that place the
run in its data: ``epoch`` (0-based, the epoch in progress) and ``step_in_epoch`` (batches
of that epoch already trained on), plus ``global_step`` and a JSON ``state`` string (history
and callback state). Files are ``<dir>/ckpt-<global_step>.{index,data-*}``; the ``checkpoint``
list file beside them is written for ``tf.train.latest_checkpoint`` but never trusted.

Atomic saves: a checkpoint is written into a temporary directory ``<dir>/.tmp-ckpt-*``,
every file is fsync'ed, then the data files and, last, the ``.index`` are renamed into
``<dir>`` and the directory is fsync'ed. A checkpoint exists exactly when its ``.index``
does, so a save cut short at any moment (SIGKILL, power loss) leaves nothing a restore
would read; the leftovers (the temporary directory, data files without an index,
``*_temp`` folders of older versions) are removed at the next start by :meth:`clean`.

On restore the directory is scanned, newest first. A checkpoint damaged later (truncated,
bit flips: the bundle format keeps a CRC32C per tensor) is moved aside into
``<dir>/corrupt/`` with a warning and the previous one is used. When every checkpoint is
damaged, :class:`CheckpointError` is raised, and raised again on every later start as long
as ``corrupt/`` holds the only checkpoints: starting over silently would throw the run away.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

import tensorflow as tf
from google.protobuf.message import DecodeError

log = logging.getLogger(__name__)

PREFIX = "ckpt"
LIST_FILE = "checkpoint"
CORRUPT_DIR = "corrupt"
TMP_PREFIX = ".tmp-ckpt-"
_NUMBER = re.compile(rf"^{PREFIX}-(\d+)\.index$")
_DATA = re.compile(rf"^{PREFIX}-(\d+)\.data-\d+-of-\d+$")


class CheckpointError(RuntimeError):
    """The checkpoints in the directory cannot be used; the message (one line) says why."""


class CheckpointStore:
    """Save and restore one ``tf.train.Checkpoint`` in ``directory``.

    Args:
        checkpoint: what to save (built: every variable must exist before restoring).
        directory: where the files go; created when missing.
        keep: how many of the newest checkpoints to keep.
        write: False on non-chief workers of a multi-worker run: they take part in the
            save (it is collective) but their copy is discarded.
    """

    def __init__(
        self,
        checkpoint: tf.train.Checkpoint,
        directory: str | Path,
        keep: int = 3,
        write: bool = True,
    ) -> None:
        if keep < 1:
            raise ValueError(f"Expected `keep_checkpoints` >= 1, got {keep!r}")
        self.checkpoint = checkpoint
        self.directory = Path(directory)
        self.keep = keep
        self.write = write
        self._last_saved: tuple[int, str] | None = None

    # --- what is there ---------------------------------------------------------------------

    def candidates(self) -> list[Path]:
        """Checkpoint prefixes in the directory, newest (highest step) first.

        The directory is scanned rather than the ``checkpoint`` list trusted: a damaged list
        must not hide good checkpoints.
        """
        return [prefix for _, prefix in _indexed(self.directory)]

    def quarantined(self) -> list[Path]:
        """Prefixes of the checkpoints moved to ``corrupt/``, newest first."""
        return [prefix for _, prefix in _indexed(self.directory / CORRUPT_DIR)]

    # --- restore ---------------------------------------------------------------------------

    def restore_latest(self) -> Path | None:
        """Restore the newest checkpoint that reads back whole; None when there is none.

        Damaged ones are moved to ``corrupt/`` with a warning. Raises
        :class:`CheckpointError` when the checkpoints there cannot be restored, now or
        (all damaged, in ``corrupt/``) before.
        """
        failures = []
        for prefix in self.candidates():
            try:
                self.checkpoint.restore(str(prefix)).assert_existing_objects_matched()
            except (AssertionError, ValueError) as err:
                # It reads, but does not fit: a different model, not a damaged file. Moving
                # good checkpoints aside for that would be wrong; say so and stop.
                raise CheckpointError(
                    f"checkpoint {prefix} does not match the model being trained "
                    f"({_first_line(err)}); resume with the settings that wrote it, or use "
                    "another checkpoint directory"
                ) from err
            except (tf.errors.OpError, IndexError, OSError, DecodeError) as err:
                reason = _first_line(err)
                failures.append(f"{prefix.name}: {reason}")
                warnings.warn(
                    f"checkpoint {prefix} is damaged or incomplete ({reason}); "
                    "falling back to the previous one",
                    RuntimeWarning,
                    stacklevel=2,
                )
                self._quarantine(prefix)
                continue
            return prefix
        damaged = self.quarantined()
        if damaged:
            names = ", ".join(p.name for p in damaged[:3]) + (", ..." if len(damaged) > 3 else "")
            raise CheckpointError(
                f"none of the checkpoints in {self.directory} could be restored: every one is "
                f"damaged ({names}, moved to {self.directory / CORRUPT_DIR}). Pass --no-resume "
                "(resume=False) to start over in this directory, --restart (restart=True) to "
                "delete them and start over, or use another directory"
            )
        return None

    def _quarantine(self, prefix: Path) -> None:
        if not self.write:
            return
        corrupt = self.directory / CORRUPT_DIR
        corrupt.mkdir(exist_ok=True)
        for path in self.directory.glob(f"{prefix.name}.*"):
            shutil.move(str(path), corrupt / path.name)

    # --- clean up --------------------------------------------------------------------------

    def remove_all(self) -> None:
        """Delete every checkpoint (``corrupt/`` and the list file included): a restart."""
        if not self.write or not self.directory.is_dir():
            return
        for prefix in self.candidates():
            Path(f"{prefix}.index").unlink(missing_ok=True)  # invisible first
        for path in self.directory.iterdir():
            if path.name == LIST_FILE or _DATA.match(path.name):
                path.unlink(missing_ok=True)
        shutil.rmtree(self.directory / CORRUPT_DIR, ignore_errors=True)
        self._last_saved = None

    def clean(self) -> list[Path]:
        """Remove what interrupted saves left: temporary directories and list files
        (``.tmp-ckpt-*``; the ``*_temp`` folders and ``.worker-scratch-*`` of older versions)
        and data files whose ``.index`` never arrived. Return what was removed. Only the
        chief cleans."""
        if not self.write or not self.directory.is_dir():
            return []
        indexed = {step for step, _ in _indexed(self.directory)}
        removed = []
        for path in self.directory.iterdir():
            name = path.name
            temporary = name.startswith((TMP_PREFIX, ".worker-scratch-")) or (
                path.is_dir() and name.startswith(f"{PREFIX}-") and name.endswith("_temp")
            )
            data = _DATA.match(name)
            orphan_data = data is not None and int(data.group(1)) not in indexed
            if temporary and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif temporary or orphan_data:  # a list file cut short; data without an index
                path.unlink(missing_ok=True)
            else:
                continue
            removed.append(path)
        if removed:
            log.info("removed leftovers of interrupted saves: %s", [p.name for p in removed])
        return removed

    def prune(self) -> None:
        """Keep the newest ``keep`` checkpoints; delete the others (index first)."""
        if not self.write:
            return
        for _, prefix in _indexed(self.directory)[self.keep :]:
            Path(f"{prefix}.index").unlink(missing_ok=True)  # invisible from here on
            for path in self.directory.glob(f"{prefix.name}.data-*"):
                path.unlink(missing_ok=True)

    # --- save ------------------------------------------------------------------------------

    def save(self, global_step: int, overwrite: bool = False) -> str:
        """Write ``ckpt-<global_step>`` atomically; return its prefix.

        Saving the step saved last again is a no-op unless ``overwrite`` (the state changed
        without a step: an epoch's end after a save at its last step). An overwritten
        checkpoint's old ``.index`` goes first, so a kill meanwhile leaves the previous
        checkpoint as the newest, never a mix of the two.
        """
        if not overwrite and self._last_saved is not None and self._last_saved[0] == global_step:
            return self._last_saved[1]
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{PREFIX}-{global_step}"
        final = self.directory / name
        tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{global_step}-", dir=self.directory))
        try:
            # Checkpoint.save would count saves in `save_counter`; write() does not, so bump
            # it here: a restore expects the variable (it exists once accessed).
            self.checkpoint.save_counter.assign_add(1)
            self.checkpoint.write(str(tmp / name))
            if self.write:
                Path(f"{final}.index").unlink(missing_ok=True)
                files = [p for p in tmp.iterdir() if p.is_file() and p.name.startswith(name)]
                for path in files:
                    _fsync(path)
                # The index last: a checkpoint is visible exactly when its .index exists.
                for path in sorted(files, key=lambda p: p.name.endswith(".index")):
                    publish(path, self.directory / path.name)
                _fsync(self.directory)
                self.prune()
                self._write_list()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self._last_saved = (global_step, str(final))
        log.info("saved checkpoint %s", final)
        return str(final)

    def _write_list(self) -> None:
        """The ``checkpoint`` file ``tf.train.latest_checkpoint`` reads, replaced atomically."""
        names = [p.name for p in reversed(self.candidates())]
        if not names:
            return
        lines = [f'model_checkpoint_path: "{names[-1]}"']
        lines += [f'all_model_checkpoint_paths: "{n}"' for n in names]
        target = self.directory / LIST_FILE
        fd, tmp_name = tempfile.mkstemp(prefix=f"{TMP_PREFIX}list-", dir=self.directory)
        try:
            with os.fdopen(fd, "w") as f:
                f.write("\n".join(lines) + "\n")
                f.flush()
                os.fsync(f.fileno())
            publish(Path(tmp_name), target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise


def publish(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst`` atomically (replacing it). One function, so tests can
    interrupt a save between two renames."""
    os.replace(src, dst)


def _indexed(directory: Path) -> list[tuple[int, Path]]:
    """(step, prefix) of every ``ckpt-<step>.index`` in ``directory``, newest first."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _NUMBER.match(path.name)
        if match:
            found.append((int(match.group(1)), directory / f"{PREFIX}-{match.group(1)}"))
    return sorted(found, reverse=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__
