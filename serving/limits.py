"""The one set of request limits, applied the same way on every route.

The values live in :class:`~serving.settings.Settings` (``SERVING_MAX_K`` and friends);
:class:`Limits` is the view of them the checks need, so a test can pass any object that has
these attributes. :func:`check_inputs` runs on every prediction, whatever the dialect (task
route, TF Serving ``:predict``, v2 ``infer``), so ``k=1000000`` is refused with the same
message everywhere.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from keras_rnn_contract import Text

from .exceptions import InvalidInput


class Limits(Protocol):
    max_instances: int
    max_sequence_length: int
    max_text_chars: int
    max_k: int
    max_generate_tokens: int


# Signature inputs whose value is a count the service bounds: input name -> Limits field.
SCALAR_LIMITS: dict[str, str] = {
    Text.K: "max_k",
    Text.TOP_K: "max_k",
    Text.MAX_TOKENS: "max_generate_tokens",
}


def check_inputs(arrays: dict[str, np.ndarray], limits: Limits) -> None:
    """Raise ``InvalidInput`` when a bounded input (``k``, ``top_k``, ``max_tokens``) is over
    its limit, naming the input, its value and the limit."""
    for name, field in SCALAR_LIMITS.items():
        value = arrays.get(name)
        if value is None:
            continue
        value = np.asarray(value)
        if value.size == 0 or value.dtype.kind not in "iu":
            continue
        # A 0-d array (the usual scalar input) converts directly; a reduction costs ~2 us.
        biggest = int(value) if value.ndim == 0 else int(value.max())
        limit = getattr(limits, field)
        if biggest > limit:
            raise InvalidInput(f"`{name}` is {biggest}; the limit is {limit}.")


def check_text(text: str, limits: Limits, field: str = "text") -> None:
    """A text field: within ``max_text_chars``, no NUL, and encodable as UTF-8 (a JSON
    ``"\\ud800"`` decodes to a lone surrogate, which is not)."""
    if len(text) > limits.max_text_chars:
        raise InvalidInput(
            f"`{field}` has {len(text)} characters; the limit is {limits.max_text_chars}."
        )
    if "\x00" in text:
        raise InvalidInput(f"`{field}` contains a NUL character.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise InvalidInput(
            f"`{field}` is not valid Unicode text: it has a lone surrogate "
            f"U+{ord(text[err.start]):04X} at position {err.start}."
        ) from None
