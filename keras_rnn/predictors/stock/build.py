"""The stock forecaster: our recurrent layers over a masked window, a dense head for H days.

``features`` [B, T, 1] (scaled returns or prices, see :mod:`keras_rnn.data.stock.scaling`)
and ``mask`` [B, T] (False on padding) -> ``outputs`` [B, H] in scaled units:

    h^(1)_t = Cell_1(x_t, h^(1)_{t-1}),  ...,  h^(k)_t = Cell_k(h^(k-1)_t, h^(k)_{t-1})
    y = W h^(k)_L + b          (L = the window's own length: masked steps keep the state)

Cells are ``keras_rnn.SimpleRNN``, ``LSTM`` or ``GRU``; the parameter count does not depend on T.
"""

from __future__ import annotations

import keras

from keras_rnn.predictors.config import CELLS, check_positive_ints
from keras_rnn.predictors.pipeline import recurrent_layer
from keras_rnn.predictors.stock.config import StockConfig

__all__ = ["CELLS", "build_model"]


def build_model(
    cell: str = StockConfig.cell,
    units: int = StockConfig.units,
    layers: int = StockConfig.layers,
    horizon: int = StockConfig.horizon,
    *,
    features: int = 1,
    dropout: float = 0.0,
):
    """A functional Keras model ``{"features", "mask"} -> outputs [B, horizon]``.

    ``features`` is ``[B, T, features]``; ``mask`` ``[B, T]`` bool (True where a step
    counts), or None when every step counts.

    Args:
        cell: one of :data:`CELLS`.
        units: hidden units per recurrent layer.
        layers: stacked recurrent layers (all but the last return sequences).
        horizon: days ahead predicted at once.
        features: features per step (1: the scaled return or price).
        dropout: input dropout of each recurrent layer.
    """
    layer_class = recurrent_layer(cell)
    check_positive_ints(units=units, layers=layers, horizon=horizon)
    inputs = keras.Input((None, features), name="features")
    # Optional: None means every step counts, and the recurrent layers then run no mask at
    # all (the export's serving_default, whose rows are always full, passes None).
    mask = keras.Input((None,), dtype="bool", name="mask", optional=True)
    x = inputs
    for i in range(layers):
        x = layer_class(
            units, return_sequences=i < layers - 1, dropout=dropout, name=f"{cell}_{i + 1}"
        )(x, mask=mask)
    # float32 head: under mixed precision the forecast keeps full precision (Keras's advice)
    outputs = keras.layers.Dense(horizon, name="head", dtype="float32")(x)
    return keras.Model(
        {"features": inputs, "mask": mask}, outputs, name=f"stock_{cell}_{layers}x{units}"
    )
