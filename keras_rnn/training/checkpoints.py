"""Checkpoints that lose nothing: what is saved, when, and how a damaged one is skipped.

A checkpoint is a ``tf.train.Checkpoint`` of the model, the optimizer (slots, iteration
count, loss scale), the running epoch metrics, and the counters that place the run in its
data: ``epoch`` (0-based, the epoch in progress) and ``step_in_epoch`` (batches of that
epoch already trained on), plus ``global_step`` and a JSON ``state`` string (history and
callback state). Files are ``<dir>/ckpt-<global_step>.{index,data-*}``, listed in
``<dir>/checkpoint`` by a ``tf.train.CheckpointManager`` that keeps the newest N.

Why a kill at any moment is safe: TensorFlow writes a checkpoint's files first and then
replaces the ``checkpoint`` list atomically (write + rename), so a save cut short leaves
the previous list, and the previous checkpoint, intact. What is still checked on restore:
a listed checkpoint whose files were damaged later (truncated, bit flips: the bundle
format keeps a CRC32C per tensor) or are missing. :meth:`CheckpointStore.restore_latest`
tries the newest first and falls back to older ones with a warning, moving the bad files
aside into ``<dir>/corrupt/`` (the manager forgets them at its next rotation).
"""

from __future__ import annotations

import logging
import re
import shutil
import warnings
from pathlib import Path

import tensorflow as tf
from google.protobuf.message import DecodeError

log = logging.getLogger(__name__)

PREFIX = "ckpt"
_NUMBER = re.compile(rf"^{PREFIX}-(\d+)\.index$")


class CheckpointError(RuntimeError):
    """No checkpoint in the directory could be restored."""


class CheckpointStore:
    """Save and restore one ``tf.train.Checkpoint`` in ``directory``.

    Args:
        checkpoint: what to save (built: every variable must exist before restoring).
        directory: where the files go; created when missing.
        keep: how many of the newest checkpoints to keep.
        write: False on non-chief workers of a multi-worker run: they take part in the
            save (it is collective) but write into a scratch directory that is removed.
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
        self._manager: tf.train.CheckpointManager | None = None
        self._last_saved: tuple[int, str] | None = None

    # --- restore ---------------------------------------------------------------------------

    def candidates(self) -> list[Path]:
        """Checkpoint prefixes found in the directory, newest (highest step) first.

        The directory is scanned rather than the ``checkpoint`` list trusted: a damaged list
        must not hide good checkpoints.
        """
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.iterdir():
            match = _NUMBER.match(path.name)
            if match:
                found.append((int(match.group(1)), self.directory / f"{PREFIX}-{match.group(1)}"))
        return [prefix for _, prefix in sorted(found, reverse=True)]

    def restore_latest(self) -> Path | None:
        """Restore the newest checkpoint that reads back whole; None when there is none.

        Damaged ones are moved to ``corrupt/`` with a warning. Raises
        :class:`CheckpointError` when checkpoints exist but none can be restored (starting
        over silently would throw away the run).
        """
        candidates = self.candidates()
        failures = []
        for prefix in candidates:
            try:
                self.checkpoint.restore(str(prefix)).assert_existing_objects_matched()
            except (AssertionError, ValueError) as err:
                # It reads, but does not fit: a different model, not a damaged file. Moving
                # good checkpoints aside for that would be wrong; say so and stop.
                raise CheckpointError(
                    f"checkpoint {prefix} does not match the model being trained ({err}); "
                    "resume with the model that wrote it, or use another checkpoint directory"
                ) from err
            except (tf.errors.OpError, IndexError, OSError, DecodeError) as err:
                reason = (
                    str(err).strip().splitlines()[0][:300]
                    if str(err).strip()
                    else type(err).__name__
                )
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
        if failures:
            raise CheckpointError(
                f"none of the checkpoints in {self.directory} could be restored: "
                + "; ".join(failures)
                + ". Move the directory away (or pass --no-resume with a new --checkpoint-dir) "
                "to start over."
            )
        return None

    def _quarantine(self, prefix: Path) -> None:
        if not self.write:
            return
        corrupt = self.directory / "corrupt"
        corrupt.mkdir(exist_ok=True)
        for path in self.directory.glob(f"{prefix.name}.*"):
            shutil.move(str(path), corrupt / path.name)

    # --- save ------------------------------------------------------------------------------

    @property
    def manager(self) -> tf.train.CheckpointManager:
        if self._manager is None:
            directory = self.directory if self.write else self._scratch()
            directory.mkdir(parents=True, exist_ok=True)
            self._manager = tf.train.CheckpointManager(
                self.checkpoint, str(directory), max_to_keep=self.keep, checkpoint_name=PREFIX
            )
        return self._manager

    def save(self, global_step: int) -> str:
        """Write ``ckpt-<global_step>``; return its prefix. Re-saving a step is a no-op."""
        if self._last_saved is not None and self._last_saved[0] == global_step:
            return self._last_saved[1]
        path = self.manager.save(checkpoint_number=global_step)
        self._last_saved = (global_step, path)
        if not self.write:
            shutil.rmtree(self._scratch(), ignore_errors=True)
            self._manager = None
        log.info("saved checkpoint %s", path)
        return path

    def _scratch(self) -> Path:
        return self.directory / f".worker-scratch-{id(self)}"
