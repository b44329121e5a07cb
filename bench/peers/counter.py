"""Model calls and rows per server process, for the bench's mean batch size.

Each process that calls the model keeps ``calls rows`` in a small file of its own in
``$BENCH_STATS_DIR`` (one ``pwrite`` per call, a few microseconds); the bench sums the files.
Standard library only: every peer's venv imports it.
"""

from __future__ import annotations

import os

_state = {"fd": -1, "pid": -1, "calls": 0, "rows": 0}


def count(rows: int) -> None:
    """Record one model call of ``rows`` rows (no-op without ``BENCH_STATS_DIR``)."""
    folder = os.environ.get("BENCH_STATS_DIR")
    if not folder:
        return
    if _state["pid"] != os.getpid():  # first call in this (possibly forked) process
        path = os.path.join(folder, f"{os.getpid()}.txt")
        _state.update(fd=os.open(path, os.O_WRONLY | os.O_CREAT, 0o644), pid=os.getpid())
        _state.update(calls=0, rows=0)
    _state["calls"] += 1
    _state["rows"] += int(rows)
    os.pwrite(_state["fd"], f"{_state['calls']} {_state['rows']}".ljust(40).encode(), 0)


def totals(folder: str) -> tuple[int, int]:
    """(calls, rows) summed over every process's file in ``folder``."""
    calls = rows = 0
    for name in os.listdir(folder):
        with open(os.path.join(folder, name)) as f:
            parts = f.read().split()
        if len(parts) == 2:
            calls, rows = calls + int(parts[0]), rows + int(parts[1])
    return calls, rows
