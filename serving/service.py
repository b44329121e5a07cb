"""The service object the routes depend on: registry + batcher + limits + metrics.

``Service.predict`` is the one path every dialect (TF Serving REST, Open Inference Protocol
v2, task endpoints) goes through: check the inputs against the signature, merge with
concurrent calls (dynamic batching), run off the event loop, refuse non-finite outputs.
"""

from __future__ import annotations

import logging
from typing import Annotated

import numpy as np
from fastapi import Depends, Request

from .batching import Batcher
from .encoding import check_finite
from .errors import ApiError, bad_request
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

    def start(self) -> None:
        self.batcher = Batcher(
            self.settings, observe=self.metrics.observe_batch, on_queued=self.metrics.queued.set
        )
        self.registry.start()

    async def stop(self) -> None:
        self.registry.stop()
        if self.batcher is not None:
            await self.batcher.close()
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
            raise bad_request(
                f"The batched inputs {batched} of `{sig.name}` have different batch sizes {sorted(sizes)}."
            )
        scalars = tuple((n, _scalar_key(arrays[n])) for n in sig.inputs if n not in batched)
        trailing = tuple((n, arrays[n].shape[1:]) for n in batched)
        key = (mv.name, mv.version, id(mv), sig.name, trailing, scalars)
        assert self.batcher is not None, "the service has not been started"
        try:
            outputs = await self.batcher.run(key, sig, arrays, batched, (mv.name, sig.name))
        except ApiError:
            raise
        except Exception as err:
            if type(err).__name__ in {"InvalidArgumentError", "OutOfRangeError"}:
                message = (
                    str(err).strip().splitlines()[0][:300]
                    if str(err).strip()
                    else type(err).__name__
                )
                raise bad_request(f"The model rejected the input: {message}") from None
            log.exception("inference failed for %s v%d %s", mv.name, mv.version, sig.name)
            raise
        check_finite(outputs)
        return outputs


def _scalar_key(arr: np.ndarray) -> object:
    """A hashable identity of a non-batched input (merged calls must agree on it)."""
    if arr.dtype == object:
        return (arr.shape, repr(arr.tolist()))
    return (arr.shape, arr.dtype.str, arr.tobytes())


async def get_service(request: Request) -> Service:
    """FastAPI dependency: the app's Service."""
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]
