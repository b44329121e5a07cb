"""Errors of the batching core (batcher, signatures), free of HTTP.

The core says *what* went wrong; :func:`serving.errors.install` maps each class to an HTTP
answer in one place (``Overloaded`` -> 503 with ``Retry-After``, ``RowRejected`` -> 400).
"""

from __future__ import annotations

import math


class BatchError(Exception):
    """Base of the batching core's errors; ``message`` is safe to show to the caller."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Overloaded(BatchError):
    """The request cannot be served within its deadline (or the server is closing).

    ``retry_after_s`` is the caller's hint for when to try again (whole seconds, >= 1).
    """

    def __init__(self, message: str, retry_after_s: float = 1.0):
        super().__init__(message)
        self.retry_after_s = max(1, math.ceil(retry_after_s))


class RowRejected(BatchError):
    """The model refused this request's rows (its own assertion, e.g. a price <= 0)."""
