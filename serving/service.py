"""The service object the routes depend on: registry + batcher + limits + metrics.

``Service.predict`` is the one path every dialect (TF Serving REST, Open Inference Protocol
v2, task endpoints) goes through: check the inputs against the signature, merge with
concurrent calls (dynamic batching), run off the event loop, refuse non-finite outputs.

A model's own refusal (``InvalidArgumentError`` from an assertion in the graph) becomes
:class:`~.exceptions.RowRejected` carrying the assertion's message (never TensorFlow's
"Graph execution error:" preamble, node names or paths); the batcher bisects a failed merged
call, so only the requests whose rows fail get it.
"""

from __future__ import annotations

import gc
import itertools
import logging
import re
from typing import Annotated

import numpy as np
from fastapi import Depends, Request

from keras_rnn_contract import Text

from .batching import Batcher
from .encoding import check_finite
from .exceptions import InvalidInput, RowRejected, ServingError
from .limits import Limits, check_inputs
from .metrics import Metrics
from .registry import ModelVersion, Registry
from .settings import Settings
from .signatures import Signature

log = logging.getLogger("serving")


class Service:
    def __init__(self, settings: Settings, metrics: Metrics | None = None):
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.limits: Limits = settings  # the one set of limits (serving/limits.py)
        self.registry = Registry(
            settings, on_change=lambda reg: self.metrics.set_versions(reg._models)
        )
        self.batcher: Batcher | None = None  # created inside the running event loop
        self._gc_threshold: tuple[int, int, int] | None = None  # the process's, while we run

    def start(self) -> None:
        self.batcher = Batcher(
            self.settings, observe=self.metrics.observe_batch, on_queued=self.metrics.queued.set
        )
        young = self.settings.gc_young_threshold
        if young and self._gc_threshold is None:
            # With 16-64 requests in flight, their live objects alone passed Python's 700 and
            # set off a young collection every batch: ~100 us holding the GIL, which also
            # stalled the model call's own Python (tensor conversion) in the worker thread.
            self._gc_threshold = gc.get_threshold()
            gc.set_threshold(young, *self._gc_threshold[1:])
        self.registry.start()

    async def stop(self) -> None:
        self.registry.stop()
        if self.batcher is not None:
            await self.batcher.close()
        if self._gc_threshold is not None:
            gc.set_threshold(*self._gc_threshold)
            self._gc_threshold = None
        self.metrics.process_exit()

    async def predict(
        self, mv: ModelVersion, sig: Signature, arrays: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """Run ``sig`` on checked ``arrays`` (merged with concurrent calls); finite outputs only."""
        sig.check_input_names(arrays)
        check_inputs(arrays, self.limits)
        batched = sig.batched_inputs
        sizes = {arrays[n].shape[0] for n in batched}
        if len(sizes) > 1:
            raise InvalidInput(
                f"The batched inputs {batched} of `{sig.name}` have different batch sizes {sorted(sizes)}."
            )
        scalars = tuple((n, _scalar_key(arrays[n])) for n in sig.inputs if n not in batched)
        trailing = tuple((n, arrays[n].shape[1:]) for n in batched)
        key: tuple = (mv.name, mv.version, id(mv), sig.name, trailing, scalars)
        if _scalar_seed(sig):
            # An old export whose `seed` is one scalar for the whole batch: rows merged under
            # one seed would draw differently than alone, so such a call never merges.
            key += (next(_alone),)
        assert self.batcher is not None, "the service has not been started"
        try:
            outputs = await self.batcher.run(
                key, _Call(sig), arrays, batched, (mv.name, sig.name), _steps(arrays)
            )
        except ServingError:
            raise
        except Exception:
            log.exception("inference failed for %s v%d %s", mv.name, mv.version, sig.name)
            raise
        check_finite(outputs)
        return outputs


_alone = itertools.count()


class _Call:
    """``sig(arrays)`` with the model's own refusals turned into :class:`RowRejected` (in the
    worker thread, so the batcher sees one error class per failing row)."""

    def __init__(self, sig: Signature):
        self.sig = sig

    def __call__(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            return self.sig(arrays)
        except Exception as err:
            if type(err).__name__ in {"InvalidArgumentError", "OutOfRangeError"}:
                raise RowRejected(f"The model rejected the input: {model_message(err)}") from None
            raise


_ASSERTION = re.compile(r"assertion failed: \[(.*?)\](?: \[|\s*$)", re.M)
_NOISE = re.compile(
    r"^(Graph execution error:|Detected at node|<stack traces|Traceback|\s|File |\[\[|$)"
)


def model_message(err: BaseException) -> str:
    """The first useful line of a TensorFlow error: the model's own assertion message
    (``tf.debugging.Assert``/``assert_*``) or else the first line that is not TensorFlow's
    preamble, without node names, ops or file paths."""
    text = getattr(err, "message", None) or str(err)
    found = _ASSERTION.search(text)
    if found:
        line = found.group(1)
    else:
        line = next((ln for ln in text.splitlines() if not _NOISE.match(ln)), "")
        line = re.sub(r"\s*\[\[.*?\]\]|\s*\[Op:[^\]]*\]|\{\{[^}]*\}\}", "", line)
    line = re.sub(r"(?<![\w])(?:/[\w.+-]+){2,}", "<path>", line.replace("\\'", "'")).strip()
    return line.rstrip(" .")[:300] or type(err).__name__


def _scalar_seed(sig: Signature) -> bool:
    info = sig.inputs.get(Text.SEED)
    return info is not None and info.shape == ()


def _steps(arrays: dict[str, np.ndarray]) -> int:
    """Work per row for the batcher's wait estimate: ``1 + max_tokens`` for a signature that
    generates (one model step per token), else 1."""
    steps = arrays.get(Text.MAX_TOKENS)
    if steps is not None and np.ndim(steps) == 0 and np.asarray(steps).dtype.kind in "iu":
        return 1 + max(0, int(steps))
    return 1


def _scalar_key(arr: np.ndarray) -> object:
    """A hashable identity of a non-batched input (merged calls must agree on it)."""
    if arr.dtype.kind == "O":
        return (arr.shape, repr(arr.tolist()))
    return (arr.shape, arr.dtype.str, arr.tobytes())


async def get_service(request: Request) -> Service:
    """FastAPI dependency: the app's Service."""
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]
