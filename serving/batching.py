"""Server-side dynamic batching with TensorFlow Serving's knobs, off the event loop.

Requests for the same (model, version, signature, non-batch shape, scalar inputs) wait in one
queue. A batch is cut when it holds ``max_batch_size`` rows or ``batch_timeout_micros`` have
passed since its first request (on an idle server, with no batch running, it is cut at
once: waiting could only add latency); at most ``num_batch_threads`` batches run at once, in a
thread pool (TensorFlow releases the GIL inside ops). While all threads are busy, requests
pile into the next batch, so batches grow with load. The merged inputs are concatenated on
axis 0, run once, and the outputs split back per request.

Backpressure: at most ``max_enqueued_batches * max_batch_size`` rows may wait; past that a
request fails fast with 503 and ``Retry-After`` instead of joining a queue of timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ApiError
from .settings import Settings


@dataclass
class _Item:
    inputs: dict[str, np.ndarray]
    rows: int
    future: asyncio.Future
    enqueued: float = field(default_factory=time.perf_counter)


class _Lane:
    """The queue and cutting loop for one batch key."""

    def __init__(self, batcher: Batcher, fn: Callable, batched: list[str], labels: tuple[str, str]):
        self.batcher = batcher
        self.fn = fn
        self.batched = batched
        self.labels = labels
        self.queue: asyncio.Queue[_Item] = asyncio.Queue()
        self.task: asyncio.Task | None = None


class Batcher:
    def __init__(
        self,
        settings: Settings,
        observe: Callable[[str, str, int, float], None] | None = None,
        on_queued: Callable[[int], None] | None = None,
    ):
        """``observe(model, signature, rows, seconds)`` sees each merged call;
        ``on_queued(rows)`` sees every change of the queued-row count (pushed, not polled: a
        gauge that calls back into the batcher at scrape time cannot work across workers)."""
        self.max_batch_size = settings.max_batch_size
        self.timeout = settings.batch_timeout_s
        self.max_queued_rows = settings.max_queued_rows
        self.retry_after = str(settings.retry_after_s)
        self._executor = ThreadPoolExecutor(settings.num_batch_threads, thread_name_prefix="infer")
        self._slots = asyncio.Semaphore(settings.num_batch_threads)
        self._lanes: dict[tuple, _Lane] = {}
        self._queued_rows = 0
        self._observe = observe
        self._on_queued = on_queued
        self._closed = False
        self._running: set[asyncio.Task] = set()

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    def _add_queued(self, rows: int) -> None:
        self._queued_rows += rows
        if self._on_queued is not None:
            self._on_queued(self._queued_rows)

    async def run(
        self,
        key: tuple,
        fn: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]],
        inputs: dict[str, np.ndarray],
        batched: list[str],
        labels: tuple[str, str] = ("", ""),
    ) -> dict[str, np.ndarray]:
        """Run ``fn(inputs)`` merged with concurrent calls of the same key.

        Args:
            key: requests with equal keys may be merged (it must encode everything that is
                not concatenated on axis 0: model version, signature, trailing dims, scalars).
            fn: the blocking call; it receives and returns dicts of arrays.
            inputs: this request's arrays.
            batched: names of the inputs whose axis 0 is the batch (the rest are scalars,
                equal across the batch because they are part of ``key``).
            labels: (model, signature) for metrics.
        """
        if self._closed:
            raise ApiError(503, "The server is shutting down.", {"Retry-After": self.retry_after})
        rows = int(inputs[batched[0]].shape[0]) if batched else 1
        if self._queued_rows + rows > self.max_queued_rows:
            raise ApiError(
                503,
                f"The server is overloaded ({self._queued_rows} rows queued); retry later.",
                {"Retry-After": self.retry_after},
            )
        if not batched or self.max_batch_size <= 1:
            # Nothing to merge on: run alone, still off the loop and within the thread budget.
            self._add_queued(rows)
            try:
                async with self._slots:
                    return await self._call(fn, inputs, labels, 1)
            finally:
                self._add_queued(-rows)
        lane = self._lanes.get(key)
        if lane is None or lane.task is None or lane.task.done():
            lane = _Lane(self, fn, batched, labels)
            lane.task = asyncio.get_running_loop().create_task(self._cut(key, lane))
            self._lanes[key] = lane
        future = asyncio.get_running_loop().create_future()
        self._add_queued(rows)
        lane.queue.put_nowait(_Item(inputs, rows, future))
        return await future

    async def _call(self, fn: Callable, inputs: dict, labels: tuple[str, str], size: int) -> dict:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            return await loop.run_in_executor(self._executor, fn, inputs)
        finally:
            if self._observe is not None:
                self._observe(labels[0], labels[1], size, time.perf_counter() - started)

    async def _cut(self, key: tuple, lane: _Lane) -> None:
        carry: _Item | None = None
        batch: list[_Item] = []
        try:
            while True:
                batch = []
                if carry is not None:
                    first, carry = carry, None
                else:
                    try:
                        first = await asyncio.wait_for(lane.queue.get(), timeout=30.0)
                    except asyncio.TimeoutError:
                        if lane.queue.empty():
                            return  # idle lane: drop it (it is recreated on demand)
                        continue
                batch, rows = [first], first.rows
                # Waiting only pays while another batch is running (its requests will come
                # back to fill ours); on an idle server a lone request goes at once.
                deadline = first.enqueued + (self.timeout if self._running else 0.0)
                while rows < self.max_batch_size:
                    remaining = deadline - time.perf_counter()
                    try:
                        item = (
                            lane.queue.get_nowait()
                            if remaining <= 0
                            else await asyncio.wait_for(lane.queue.get(), remaining)
                        )
                    except (asyncio.QueueEmpty, asyncio.TimeoutError):
                        break
                    if rows + item.rows > self.max_batch_size:
                        carry = item
                        break
                    batch.append(item)
                    rows += item.rows
                await self._slots.acquire()
                # Whatever arrived while we waited for a free thread rides along.
                while carry is None and rows < self.max_batch_size and not lane.queue.empty():
                    item = lane.queue.get_nowait()
                    if rows + item.rows > self.max_batch_size:
                        carry = item
                        break
                    batch.append(item)
                    rows += item.rows
                task = asyncio.get_running_loop().create_task(self._execute(lane, batch, rows))
                batch = []
                self._running.add(task)
                task.add_done_callback(self._running.discard)
        finally:
            if self._lanes.get(key) is lane:
                del self._lanes[key]
            leftovers = batch + ([carry] if carry is not None else [])
            while not lane.queue.empty():
                leftovers.append(lane.queue.get_nowait())
            if leftovers:
                self._add_queued(-sum(item.rows for item in leftovers))
            for item in leftovers:
                if not item.future.done():
                    item.future.set_exception(
                        ApiError(
                            503, "The server is shutting down.", {"Retry-After": self.retry_after}
                        )
                    )

    async def _execute(self, lane: _Lane, batch: list[_Item], rows: int) -> None:
        try:
            if len(batch) == 1:
                merged = batch[0].inputs
            else:
                merged = {
                    k: np.concatenate([it.inputs[k] for it in batch]) if k in lane.batched else v
                    for k, v in batch[0].inputs.items()
                }
            try:
                outputs = await self._call(lane.fn, merged, lane.labels, rows)
            except Exception as err:
                for it in batch:
                    if not it.future.done():
                        it.future.set_exception(err)
                return
            start = 0
            for it in batch:
                part = {
                    k: v[start : start + it.rows] if np.ndim(v) and len(v) == rows else v
                    for k, v in outputs.items()
                }
                start += it.rows
                if not it.future.done():
                    it.future.set_result(part)
        finally:
            self._slots.release()
            self._add_queued(-rows)

    async def close(self) -> None:
        """Finish running batches, fail what is still queued, stop the threads."""
        self._closed = True
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        for lane in list(self._lanes.values()):
            if lane.task is not None:
                lane.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await lane.task
        self._executor.shutdown(wait=True)

    def stats(self) -> dict[str, Any]:
        return {"queued_rows": self._queued_rows, "lanes": len(self._lanes)}
