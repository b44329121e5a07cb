"""The per-epoch progress bar: loss, metrics, gradient norm and steps/s, live.

Built on Keras's ``Progbar`` (the bar ``model.fit`` shows). Quiet mode (``verbose=0``)
prints nothing; messages still go to ``logging``.
"""

from __future__ import annotations

import logging
import time

from keras.utils import Progbar

log = logging.getLogger("keras_rnn.training")


class EpochProgress:
    """One bar per epoch. ``target`` is the number of steps (None when unknown)."""

    def __init__(self, verbose: int = 1) -> None:
        self.verbose = verbose
        self._bar: Progbar | None = None
        self._target: int | None = None
        self._start = 0.0
        self._first_step = 0

    def say(self, message: str) -> None:
        """Print a line (unless quiet) and log it."""
        log.info(message)
        if self.verbose:
            print(message, flush=True)

    def begin_epoch(self, epoch: int, epochs: int, target: int | None, first_step: int = 0) -> None:
        self._start = time.perf_counter()
        self._first_step = first_step
        self._target = target
        self._bar = None
        if self.verbose:
            resumed = f" (resumed after step {first_step})" if first_step else ""
            print(f"Epoch {epoch + 1}/{epochs}{resumed}", flush=True)

    def steps_per_second(self, step: int) -> float:
        elapsed = time.perf_counter() - self._start
        done = step - self._first_step
        return done / elapsed if elapsed > 0 and done > 0 else 0.0

    def update(self, step: int, logs: dict[str, float], finalize: bool = False) -> None:
        """``step``: steps done in this epoch (resumed ones included)."""
        if not self.verbose:
            return
        values = [*logs.items(), ("steps/s", self.steps_per_second(step))]
        if self._bar is None:
            # The values are already running means: show them as they are.
            names = [name for name, _ in values]
            self._bar = Progbar(
                self._target, verbose=self.verbose, stateful_metrics=names, unit_name="step"
            )
        self._bar.update(step, values=values, finalize=finalize or None)

    def end_epoch(self, step: int, logs: dict[str, float]) -> None:
        self.update(step, logs, finalize=True)
        self._bar = None
