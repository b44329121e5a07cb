"""JSON out: orjson, float32 at full precision, and never a NaN.

A float32 output is written as the shortest decimal that reads back as the same float32
(``101.01`` rather than TF Serving's 6-digit ``101.01`` / ``2702.33`` rounding of larger
prices, and rather than float64 noise like ``101.01000213623047``). Non-finite model outputs
are refused (``NonFiniteOutput``, a 422) before encoding, so ``NaN``/``null`` never reach a client.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from starlette.responses import Response

from .exceptions import NonFiniteOutput

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class JSONBody(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=_OPTIONS)


def dumps(content: Any) -> bytes:
    return orjson.dumps(content, option=_OPTIONS)


def check_finite(outputs: dict[str, np.ndarray], what: str = "model") -> None:
    for name, value in outputs.items():
        arr = np.asarray(value)
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise NonFiniteOutput(
                f"The {what} produced a non-finite value (NaN or infinity) in output `{name}` "
                "for this input; no result is returned.",
            )


def jsonable(arr: np.ndarray) -> Any:
    """Arrays for orjson: strings decoded as UTF-8 (invalid bytes replaced), numbers as they are."""
    if arr.dtype == object or arr.dtype.kind in "SU":
        flat = [
            x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)
            for x in arr.reshape(-1)
        ]
        return np.array(flat, dtype=object).reshape(arr.shape).tolist() if arr.ndim else flat[0]
    if arr.dtype.kind == "f" and arr.dtype != np.float32 and arr.dtype != np.float64:
        arr = arr.astype(np.float32)
    if arr.ndim:
        return arr
    return arr.item() if arr.dtype.kind != "f" else arr.dtype.type(arr)
