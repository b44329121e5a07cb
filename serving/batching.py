"""Server-side dynamic batching with TensorFlow Serving's knobs, calls off the event loop.

Requests for the same (model, version, signature, non-batch shape, scalar inputs) wait in one
queue. A batch is cut when it holds ``max_batch_size`` rows or ``batch_timeout_micros`` have
passed since its first request (on an idle server, with no batch running, it is cut at
once: waiting could only add latency); at most ``num_batch_threads`` batches run at once, in a
thread pool (TensorFlow releases the GIL inside ops). While all threads are busy, requests
pile into the next batch, so batches grow with load. The merged inputs are concatenated on
axis 0, run once, and the outputs split back per request.

Where a queue's calls take longer than ``batch_timeout_micros`` (a generation: 2-4 ms here at
any batch size up to 16), its batch waits to fill for as long as one of its calls takes on
average, at most 10 batch timeouts. A call's own duration is the scale of the latency it adds
anyway, and the wait lets the requests of the batch now running come back and join, where a
second call of half the rows would compete with the first for the same cores: at 16
concurrent generations the mean batch went from 8-13 rows to 15-16 and tokens/s up by 11-14%
in two benchmark runs (docs/serving.md). A quick model's wait moves little (the stock
forecast: 0.6-0.9 ms a call against the default 0.5 ms).

Isolation: a request's answer depends only on that request. When a merged call fails, the
batch is split in halves and each half retried (bisection), so only the requests whose own
rows fail get an error; a batch of ``n`` requests with one bad request costs at most
``2 log2 n + 1`` calls.

Backpressure by expected wait. Calls are timed per (model, signature, ``steps``), where
``steps`` is the work per row (``1 + max_tokens`` for a generation: a 100-token generation
costs far more than one forecast row), and each such class learns an affine cost
``seconds = a + b * rows`` of one call (least squares over exponentially weighted moments:
``a`` is the per-call overhead that merging amortises, ``b`` the per-row work). The expected
wait of a new request is the time to run everything already admitted, on
``num_batch_threads`` threads, with the queued rows cut into full batches:
``sum over queues of (ceil(rows / max_batch_size) * a + b * rows) / num_batch_threads``.
The deadline bounds the wait before a request's call starts (not the call itself: a long
generation on an idle server is never refused). A request is refused at once with
:class:`~.exceptions.Overloaded` (503 + ``Retry-After``) when

* its expected wait exceeds ``request_deadline_s``, or
* the rows queued would exceed ``max_enqueued_batches * max_batch_size`` (TF Serving's bound);

and a request still queued (not yet running) when its deadline passes is answered 503 at that
moment instead of waiting on: no client waits much longer than the deadline for a refusal.

One request at a time. While the server has handled one prediction at a time for the last
``_QUIET_S`` (no other request admitted meanwhile, nothing queued or running), a request
whose call is expected to take at most ``inline_call_max_ms`` runs on the event loop
itself. A batch of one gains nothing from the queue, the cutter task and the worker
thread, and those hops cost about a quarter of a small model's call; blocking the loop that
long harms nobody when nobody else is waiting. Any concurrency switches this off for the
next ``_QUIET_S``, so under load every request goes through the queue and merges.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .exceptions import Overloaded
from .settings import Settings

_EWMA = 0.2  # weight of the newest call in the cost moments (after the first few calls)
_QUIET_S = 0.1  # one request at a time for this long before a call may run on the loop
_FILL_CAP = 10  # a batch waits at most this many batch timeouts to fill (see Batcher._fill_s)


@dataclass(eq=False)
class _Item:
    inputs: dict[str, np.ndarray]
    rows: int
    future: asyncio.Future
    load: _Load  # the queue it is counted in until released
    enqueued: float = field(default_factory=time.perf_counter)
    taken: bool = False  # running (or about to): it will be answered, deadline or not
    released: bool = False  # its rows and cost are no longer counted


class _Cost:
    """One call's cost ``seconds = a + b * rows`` for one (labels, steps) class, fitted online.

    Exponentially weighted moments of (rows, seconds) give the least-squares line; when the
    calls seen so far all had about the same size the split is unknown and half the mean is
    taken as overhead, half as per-row work. The first call of a class is not counted: it
    pays one-time costs (a cold call measured 6-50x a warm one), and an estimate built on it
    refused requests that would have been served well within the deadline.
    """

    def __init__(self) -> None:
        self.n = 0
        self.mx = self.my = self.mxx = self.mxy = 0.0
        self.cold = True

    def update(self, rows: int, seconds: float) -> None:
        if self.cold:
            self.cold = False
            return
        self.n += 1
        w = max(_EWMA, 1.0 / self.n)
        x = float(rows)
        self.mx += w * (x - self.mx)
        self.my += w * (seconds - self.my)
        self.mxx += w * (x * x - self.mxx)
        self.mxy += w * (x * seconds - self.mxy)

    def mean_s(self) -> float:
        """The weighted mean duration of a call (0 before the first warm call)."""
        return self.my

    def seconds(self, calls: float, rows: float) -> float:
        if self.n == 0:
            return 0.0  # nothing measured yet: the deadline check at the queue is the guard
        var = self.mxx - self.mx * self.mx
        if var > 0.01 * self.mx * self.mx:
            b = max(0.0, (self.mxy - self.mx * self.my) / var)
            a = max(0.0, self.my - b * self.mx)
        else:
            a, b = self.my / 2, self.my / (2 * max(self.mx, 1.0))
        return calls * a + rows * b


@dataclass(eq=False)
class _Load:
    """Admitted, unfinished requests of one queue (a lane, or unmerged calls of one class)."""

    cost: _Cost
    merged: bool
    rows: int = 0
    items: int = 0

    def seconds(self, max_batch_size: int) -> float:
        calls = -(-self.rows // max_batch_size) if self.merged else self.items
        return self.cost.seconds(calls, self.rows)


class _Lane:
    """The queue and cutting loop for one batch key."""

    def __init__(self, fn: Callable, batched: Sequence[str], labels: tuple[str, str], load: _Load):
        self.fn = fn
        self.batched = batched
        self.labels = labels
        self.load = load
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
        ``on_queued(rows)`` sees the queued-row count whenever it changed, once per turn of the
        event loop (pushed, not polled: a gauge that calls back into the batcher at scrape
        time cannot work across workers; once per turn, not per change: a push is a locked
        Prometheus write, and 16 requests arriving together made 32 of them)."""
        self.max_batch_size = settings.max_batch_size
        self.timeout = settings.batch_timeout_s
        self.max_queued_rows = settings.max_queued_rows
        self.deadline_s = settings.request_deadline_s
        self.retry_after_s = settings.retry_after_s
        self.threads = settings.num_batch_threads
        self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="infer")
        self._slots = asyncio.Semaphore(self.threads)
        self._lanes: dict[tuple, _Lane] = {}
        self._queued_rows = 0
        self._costs: dict[tuple, _Cost] = {}  # per (labels, steps); bounded, see _cost()
        self._unmerged: dict[tuple, _Load] = {}  # per (labels, steps): calls run alone
        self._observe = observe
        self._on_queued = on_queued
        self._push_due = False  # a push of the queued-row count is scheduled
        self._closed = False
        self._running: set[asyncio.Task] = set()
        self.inline_max_s = settings.inline_call_max_s
        self._active = 0  # run() calls admitted and not yet answered
        self._quiet_from = 0.0  # perf_counter time from which no concurrency was seen

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    def expected_wait_s(self) -> float:
        """Seconds a request admitted now is expected to wait before its call starts."""
        size = self.max_batch_size
        total = sum(lane.load.seconds(size) for lane in self._lanes.values())
        if self._unmerged:
            total += sum(load.seconds(size) for load in self._unmerged.values())
        return total / self.threads

    def _cost(self, labels: tuple[str, str], steps: int) -> _Cost:
        key = (labels, steps)
        cost = self._costs.get(key)
        if cost is None:
            if len(self._costs) >= 1024:  # many distinct max_tokens: forget the oldest
                self._costs.pop(next(iter(self._costs)))
            cost = self._costs[key] = _Cost()
        return cost

    def _add_queued(self, rows: int) -> None:
        self._queued_rows += rows
        if self._on_queued is not None and not self._push_due:
            self._push_due = True
            asyncio.get_running_loop().call_soon(self._push_queued)

    def _push_queued(self) -> None:
        self._push_due = False
        if self._on_queued is not None:
            self._on_queued(self._queued_rows)

    def _release(self, item: _Item) -> None:
        if not item.released:
            item.released = True
            item.load.rows -= item.rows
            item.load.items -= 1
            self._add_queued(-item.rows)

    def _overloaded(self, why: str, wait_s: float = 0.0) -> Overloaded:
        # Retry when the expected wait should be back under the deadline.
        return Overloaded(
            f"The server is overloaded ({why}); retry later.",
            max(self.retry_after_s, wait_s - self.deadline_s),
        )

    async def run(
        self,
        key: tuple,
        fn: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]],
        inputs: dict[str, np.ndarray],
        batched: Sequence[str],
        labels: tuple[str, str] = ("", ""),
        steps: int = 1,
    ) -> dict[str, np.ndarray]:
        """Run ``fn(inputs)`` merged with concurrent calls of the same key (a lone quick call
        on a quiet server runs at once on the event loop: see the module's docstring).

        Args:
            key: requests with equal keys may be merged (it must encode everything that is
                not concatenated on axis 0: model version, signature, trailing dims, scalars).
            fn: the blocking call; it receives and returns dicts of arrays.
            inputs: this request's arrays.
            batched: names of the inputs whose axis 0 is the batch (the rest are scalars,
                equal across the batch because they are part of ``key``).
            labels: (model, signature) for metrics and the cost estimate.
            steps: work per row, for the cost estimate (``1 + max_tokens`` for a
                generation); calls of each (labels, steps) are timed separately.

        Raises:
            Overloaded: the request cannot start within ``request_deadline_s`` (or the
                server is closing).
        """
        if self._closed:
            raise Overloaded("The server is shutting down.", self.retry_after_s)
        rows = int(inputs[batched[0]].shape[0]) if batched else 1
        if self._queued_rows + rows > self.max_queued_rows:
            raise self._overloaded(
                f"{self._queued_rows} rows queued", self.expected_wait_s() + self.deadline_s
            )
        wait_s = self.expected_wait_s()
        if wait_s > self.deadline_s:
            raise self._overloaded(
                f"expected wait {wait_s:.1f} s, past the {self.deadline_s:g} s deadline", wait_s
            )
        cost = self._cost(labels, steps)
        self._active += 1
        try:
            if self._active > 1:
                self._quiet_from = time.perf_counter() + _QUIET_S
            elif self._inline_ok(cost, rows):
                # Requests the loop has read together with this one run up to here first;
                # if one of them arrives, this request is not alone and takes the queue.
                await asyncio.sleep(0)
                if self._inline_ok(cost, rows):
                    return self._call_inline(fn, inputs, labels, rows, cost)
            item, queued = self._enqueue(key, fn, inputs, batched, labels, steps, rows, cost)
            if not queued:
                return await self._run_alone(fn, inputs, labels, rows, cost, item)
            # Awaited here rather than in a helper coroutine: a level of awaiting costs again
            # when the batch's answer resumes the request.
            loop = item.future.get_loop()
            # A timer, not wait_for(shield(...)): one handle per request is far cheaper.
            timer = loop.call_at(loop.time() + self.deadline_s, self._expire, item, self.deadline_s)
            try:
                return await item.future
            except asyncio.CancelledError:  # the client went away: do not run it for nobody
                if not item.taken:
                    self._release(item)
                raise
            finally:
                timer.cancel()
        finally:
            self._active -= 1

    def _inline_ok(self, cost: _Cost, rows: int) -> bool:
        """Whether this call may run on the event loop: no other request admitted, queued or
        running, no concurrency for ``_QUIET_S``, and a warm class expected to be quick."""
        return (
            self._active == 1
            and self._queued_rows == 0  # counts the rows of running calls too
            and cost.n > 0
            and cost.seconds(1, rows) <= self.inline_max_s
            and time.perf_counter() >= self._quiet_from
        )

    def _enqueue(
        self,
        key: tuple,
        fn: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]],
        inputs: dict[str, np.ndarray],
        batched: Sequence[str],
        labels: tuple[str, str],
        steps: int,
        rows: int,
        cost: _Cost,
    ) -> tuple[_Item, bool]:
        """Count the request in its queue's load, and put it in its lane: (the item, whether
        it was queued to merge; if not, nothing merges on its key and it runs alone)."""
        loop = asyncio.get_running_loop()
        merged = bool(batched) and self.max_batch_size > 1
        lane = self._lanes.get(key) if merged else None
        if merged and (lane is None or lane.task is None or lane.task.done()):
            lane = _Lane(fn, batched, labels, _Load(cost, merged=True))
            lane.task = loop.create_task(self._cut(key, lane))
            self._lanes[key] = lane
        if lane is not None:
            load = lane.load
        else:
            load = self._unmerged.setdefault((labels, steps), _Load(cost, merged=False))
        item = _Item(inputs, rows, loop.create_future(), load)
        load.rows += rows
        load.items += 1
        self._add_queued(rows)
        if lane is None:
            return item, False
        lane.queue.put_nowait(item)
        return item, True

    async def _run_alone(
        self,
        fn: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]],
        inputs: dict[str, np.ndarray],
        labels: tuple[str, str],
        rows: int,
        cost: _Cost,
        item: _Item,
    ) -> dict[str, np.ndarray]:
        """An unmerged call: off the loop and within the thread budget, like a batch."""
        try:
            try:
                await asyncio.wait_for(self._slots.acquire(), self.deadline_s)
            except asyncio.TimeoutError:
                raise self._overloaded("no inference thread free before the deadline") from None
            try:
                return await self._call(fn, inputs, labels, rows, cost)
            finally:
                self._slots.release()
        finally:
            self._release(item)

    def _expire(self, item: _Item, deadline_s: float) -> None:
        """The deadline passed: a request still queued is answered 503 now (a running one
        is left to finish: its answer is moments away)."""
        if item.taken or item.released or item.future.done():
            return
        self._release(item)
        item.future.set_exception(
            self._overloaded(
                f"not started within the {deadline_s:g} s deadline", self.expected_wait_s()
            )
        )

    async def _call(
        self, fn: Callable, inputs: dict, labels: tuple[str, str], rows: int, cost: _Cost
    ) -> dict:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        ok = False
        try:
            out = await loop.run_in_executor(self._executor, fn, inputs)
            ok = True
            return out
        finally:
            self._timed(labels, rows, cost, started, ok)

    def _call_inline(
        self, fn: Callable, inputs: dict, labels: tuple[str, str], rows: int, cost: _Cost
    ) -> dict:
        """``fn(inputs)`` on the event loop (see :meth:`_inline_ok`), timed like :meth:`_call`."""
        started = time.perf_counter()
        ok = False
        try:
            out = fn(inputs)
            ok = True
            return out
        finally:
            self._timed(labels, rows, cost, started, ok)

    def _timed(
        self, labels: tuple[str, str], rows: int, cost: _Cost, started: float, ok: bool
    ) -> None:
        seconds = time.perf_counter() - started
        if ok:
            cost.update(rows, seconds)
        if self._observe is not None:
            self._observe(labels[0], labels[1], rows, seconds)

    def _fill_s(self, cost: _Cost) -> float:
        """How long a batch waits to fill while another batch runs: ``batch_timeout``, or
        the lane's mean call time where that is longer (at most ``_FILL_CAP`` times
        ``batch_timeout``; a timeout of 0 never waits)."""
        return min(max(self.timeout, cost.mean_s()), _FILL_CAP * self.timeout)

    async def _next(self, lane: _Lane, timeout: float | None) -> _Item:
        """The next item of ``lane`` that is still wanted (skips the abandoned ones)."""
        while True:
            if timeout is None:
                item = await lane.queue.get()
            elif timeout <= 0:
                item = lane.queue.get_nowait()
            else:
                item = await asyncio.wait_for(lane.queue.get(), timeout)
            if not item.released:
                return item

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
                        first = await self._next(lane, 30.0)
                    except asyncio.TimeoutError:
                        if lane.queue.empty():
                            return  # idle lane: drop it (it is recreated on demand)
                        continue
                batch, rows = [first], first.rows
                # Waiting only pays while another batch is running (its requests will come
                # back to fill ours); on an idle server a lone request goes at once.
                deadline = first.enqueued + (self._fill_s(lane.load.cost) if self._running else 0.0)
                while rows < self.max_batch_size:
                    try:
                        item = await self._next(lane, deadline - time.perf_counter())
                    except (asyncio.QueueEmpty, asyncio.TimeoutError):
                        break
                    if rows + item.rows > self.max_batch_size:
                        carry = item
                        break
                    batch.append(item)
                    rows += item.rows
                await self._slots.acquire()
                # Whatever arrived while we waited for a free thread rides along.
                while carry is None and rows < self.max_batch_size:
                    try:
                        item = await self._next(lane, 0)
                    except asyncio.QueueEmpty:
                        break
                    if rows + item.rows > self.max_batch_size:
                        carry = item
                        break
                    batch.append(item)
                    rows += item.rows
                # Requests whose deadline passed while we waited have been answered already.
                batch = [it for it in batch if not it.released]
                if not batch:
                    self._slots.release()
                    continue
                for it in batch:
                    it.taken = True
                task = asyncio.get_running_loop().create_task(self._execute(lane, batch))
                batch = []
                self._running.add(task)
                task.add_done_callback(self._running.discard)
        finally:
            if self._lanes.get(key) is lane:
                del self._lanes[key]
            leftovers = batch + ([carry] if carry is not None else [])
            while not lane.queue.empty():
                leftovers.append(lane.queue.get_nowait())
            for item in leftovers:
                self._release(item)
                if not item.future.done():
                    item.future.set_exception(
                        Overloaded("The server is shutting down.", self.retry_after_s)
                    )

    async def _execute(self, lane: _Lane, batch: list[_Item]) -> None:
        try:
            await self._run_group(lane, batch)
        finally:
            self._slots.release()
            for it in batch:
                self._release(it)

    async def _run_group(self, lane: _Lane, group: list[_Item]) -> None:
        """Run ``group`` as one merged call; on failure bisect, so each request gets the
        answer (or the error) its own rows give."""
        rows = sum(it.rows for it in group)
        if len(group) == 1:
            merged = group[0].inputs
        else:
            merged = {
                k: np.concatenate([it.inputs[k] for it in group]) if k in lane.batched else v
                for k, v in group[0].inputs.items()
            }
        try:
            outputs = await self._call(lane.fn, merged, lane.labels, rows, lane.load.cost)
        except Exception as err:
            if len(group) == 1:
                if not group[0].future.done():
                    group[0].future.set_exception(err)
                return
            half = len(group) // 2
            await self._run_group(lane, group[:half])
            await self._run_group(lane, group[half:])
            return
        start = 0
        for it in group:
            part = {
                k: v[start : start + it.rows] if np.ndim(v) and len(v) == rows else v
                for k, v in outputs.items()
            }
            start += it.rows
            if not it.future.done():
                it.future.set_result(part)

    async def close(self) -> None:
        """Finish running batches, fail what is still queued, stop the threads."""
        self._closed = True
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        for lane in list(self._lanes.values()):
            task = lane.task
            while task is not None and not task.done():
                # Before Python 3.12, wait_for() swallows a cancel that races with a queue
                # item arriving (the cutter then idled for its 30 s): cancel until it ends.
                task.cancel()
                await asyncio.wait({task}, timeout=0.05)
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._executor.shutdown(wait=True)
        self._push_queued()  # the count as it is left, whether or not a push was still due

    def stats(self) -> dict[str, Any]:
        return {
            "queued_rows": self._queued_rows,
            "lanes": len(self._lanes),
            "expected_wait_s": round(self.expected_wait_s(), 3),
        }
