"""The per-epoch progress bar: loss, metrics, gradient norm and steps/s, live.

On a terminal (or in Jupyter) it is Keras's ``Progbar``, the bar ``model.fit`` shows. When
stdout is a file or a pipe (CI logs, ``docker logs``, ``| tee``) it prints plain lines
instead: one every ``log_interval_s`` seconds and one at the end of each epoch. Keras's bar
would write carriage returns, backspaces and colour codes there, because it assumes a live
display on every POSIX system. Quiet mode (``verbose=0``) prints nothing; messages still go
to ``logging``.
"""

from __future__ import annotations

import logging
import sys
import time

from keras.utils import Progbar

log = logging.getLogger("keras_rnn.training")


def live_display() -> bool:
    """Whether stdout can redraw a bar in place: a terminal or a Jupyter kernel."""
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty()) or "ipykernel" in sys.modules


def _format(value: float) -> str:
    return f"{value:.4f}" if value == 0 or abs(value) >= 1e-3 else f"{value:.4e}"


class EpochProgress:
    """One bar per epoch. ``target`` is the number of steps (None when unknown)."""

    def __init__(self, verbose: int = 1, log_interval_s: float = 10.0) -> None:
        self.verbose = verbose
        self.log_interval_s = log_interval_s
        self._live = live_display()
        self._bar: Progbar | None = None
        self._target: int | None = None
        self._start = 0.0
        self._first_step = 0
        self._clock: tuple[float, int] | None = None
        self._last_line = 0.0

    def say(self, message: str) -> None:
        """Print a line (unless quiet) and log it."""
        log.info(message)
        if self.verbose:
            print(message, flush=True)

    def begin_epoch(self, epoch: int, epochs: int, target: int | None, first_step: int = 0) -> None:
        self._start = self._last_line = time.perf_counter()
        self._first_step = first_step
        self._clock: tuple[float, int] | None = None
        self._target = target
        self._bar = None
        if self.verbose:
            resumed = f" (resumed after step {first_step})" if first_step else ""
            print(f"Epoch {epoch + 1}/{epochs}{resumed}", flush=True)

    def steps_per_second(self, step: int) -> float:
        """Steps per second since the end of the epoch's first step.

        The first step of an epoch carries the one-off costs (tracing the compiled step
        after a start or a resume, filling the input pipeline): counting it would report a
        fraction of the real speed for short or resumed epochs.
        """
        now = time.perf_counter()
        if self._clock is None:  # the first step just ended: start the clock here
            self._clock = (now, step)
            return 0.0
        started, first = self._clock
        elapsed, done = now - started, step - first
        return done / elapsed if elapsed > 0 and done > 0 else 0.0

    def update(self, step: int, logs: dict[str, float], finalize: bool = False) -> None:
        """``step``: steps done in this epoch (resumed ones included)."""
        if not self.verbose:
            return
        values = [*logs.items(), ("steps/s", self.steps_per_second(step))]
        if not self._live:
            self._line(step, values, finalize)
            return
        if self._bar is None:
            # The values are already running means: show them as they are.
            names = [name for name, _ in values]
            self._bar = Progbar(
                self._target, verbose=self.verbose, stateful_metrics=names, unit_name="step"
            )
        self._bar.update(step, values=values, finalize=finalize or None)

    def _line(self, step: int, values: list[tuple[str, float]], finalize: bool) -> None:
        now = time.perf_counter()
        if not finalize and now - self._last_line < self.log_interval_s:
            return
        self._last_line = now
        count = f"{step}/{self._target}" if self._target else f"{step}"
        fields = [count, f"{now - self._start:.1f}s"]
        fields += [f"{name}: {_format(float(value))}" for name, value in values]
        print(" - ".join(fields), flush=True)

    def end_epoch(self, step: int, logs: dict[str, float]) -> None:
        self.update(step, logs, finalize=True)
        self._bar = None
