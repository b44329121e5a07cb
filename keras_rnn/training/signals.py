"""Turn SIGINT/SIGTERM into "finish this step, save a checkpoint, then exit".

The handler only records the signal; the training loop polls :attr:`GracefulStop.received`
after every step. A second signal of the same kind acts at once (the previous handler is
back in place after the first).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(KeyboardInterrupt):
    """Raised after the checkpoint is saved; ``signum`` says which signal asked for it.

    A KeyboardInterrupt so that nothing catches it by accident; exit with
    ``128 + signum`` (130 for SIGINT, 143 for SIGTERM) as shells do.
    """

    def __init__(self, signum: int, checkpoint: str | None) -> None:
        name = signal.Signals(signum).name
        where = f"; checkpoint saved at {checkpoint}" if checkpoint else ""
        super().__init__(f"training stopped by {name}{where}")
        self.signum = signum
        self.checkpoint = checkpoint

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class GracefulStop:
    """Context manager installing the handlers (main thread only; elsewhere it does nothing)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        del frame
        self.received = signum
        signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))  # type: ignore[arg-type]

    def __enter__(self) -> GracefulStop:
        if self.enabled:
            for signum in SIGNALS:
                self._previous[signum] = signal.getsignal(signum)
                signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()
