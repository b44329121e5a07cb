"""The core's errors: what went wrong, in words, with no HTTP in them.

The registry, the signatures and the lookup code raise these; :mod:`serving.errors` maps
each class to an HTTP status in one table (as FastAPI's exception handlers do), so the
same failure answers the same status and message on every route and in every dialect.
Every message is written for the caller: it names the model, version, field or value, and
never carries a server path or a stack.
"""

from __future__ import annotations

import math


class ServingError(Exception):
    """Base class: ``message`` is shown to the caller as it is."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(ServingError):
    """The request does not fit the signature or the service's limits."""


class RowRejected(InvalidInput):
    """The model refused this request's rows (its own assertion, e.g. a price <= 0); only the
    requests whose rows fail get it, never the others merged into the same batch."""


class ModelNotFound(ServingError):
    """No model of that name in the repository."""


class VersionNotFound(ServingError):
    """The model exists but has no version with that number."""


class SignatureNotFound(ServingError):
    """The version exists but has no signature of that name."""


class VersionFailed(ServingError):
    """The version is on disk but could not be loaded (it is retried when its files change)."""


class NotReady(ServingError):
    """Nothing can answer yet (loading, warming up); worth retrying after ``retry_after`` s."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class Overloaded(NotReady):
    """The request cannot start within its deadline (or the server is closing): the queue
    ahead of it is too long. ``retry_after`` is whole seconds, at least 1."""

    def __init__(self, message: str, retry_after: float = 1.0):
        super().__init__(message, max(1, math.ceil(retry_after)))


class VersionNotReady(NotReady):
    """The model (or the pinned version) exists but no version is ready to serve yet."""


class ServiceNotReady(NotReady):
    """The service as a whole is not ready (first scan running, or a model has no version)."""


class Unsupported(ServingError):
    """A request this server understands but deliberately does not implement."""


class NonFiniteOutput(ServingError):
    """The model produced NaN or infinity for this input; nothing is returned."""
