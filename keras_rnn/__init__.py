"""keras-rnn: SimpleRNN, LSTM and GRU written from scratch as Keras 3 layers.

>>> import keras, keras_rnn
>>> layer = keras_rnn.LSTM(8, return_sequences=True)
>>> layer(keras.ops.zeros((2, 5, 3))).shape
(2, 5, 8)

The public names are imported on first use (PEP 562), so ``import keras_rnn`` (and the
``keras-rnn --help`` command, which imports subpackages) does not load TensorFlow. Saved
``.keras`` files name their classes' modules, so ``keras.models.load_model`` imports and
registers them by itself.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["GRU", "LSTM", "GRUCell", "LSTMCell", "SimpleRNN", "SimpleRNNCell", "__version__"]

_LAZY = {
    "SimpleRNNCell": "keras_rnn.cells",
    "LSTMCell": "keras_rnn.cells",
    "GRUCell": "keras_rnn.cells",
    "SimpleRNN": "keras_rnn.layers",
    "LSTM": "keras_rnn.layers",
    "GRU": "keras_rnn.layers",
}

if TYPE_CHECKING:
    from keras_rnn.cells import GRUCell, LSTMCell, SimpleRNNCell
    from keras_rnn.layers import GRU, LSTM, SimpleRNN


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'keras_rnn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
