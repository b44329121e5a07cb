"""The stock forecaster: our recurrent layers over a masked window, a dense head for H days.

``features`` [B, T, 1] (scaled returns or prices, see :mod:`keras_rnn.data.stock.scaling`)
and ``mask`` [B, T] (False on padding) -> ``outputs`` [B, H] in scaled units:

    h^(1)_t = Cell_1(x_t, h^(1)_{t-1}),  ...,  h^(k)_t = Cell_k(h^(k-1)_t, h^(k)_{t-1})
    y = W h^(k)_L + b          (L = the window's own length: masked steps keep the state)

Cells are ``keras_rnn.SimpleRNN``, ``LSTM`` or ``GRU``; the parameter count does not depend on T.
"""

from __future__ import annotations

CELLS = ("lstm", "gru", "simple_rnn")


def build_model(
    cell: str = "lstm",
    units: int = 32,
    layers: int = 1,
    horizon: int = 1,
    *,
    features: int = 1,
    dropout: float = 0.0,
):
    """A functional Keras model ``{"features", "mask"} -> outputs [B, horizon]``.

    Args:
        cell: one of :data:`CELLS`.
        units: hidden units per recurrent layer.
        layers: stacked recurrent layers (all but the last return sequences).
        horizon: days ahead predicted at once.
        features: features per step (1: the scaled return or price).
        dropout: input dropout of each recurrent layer.
    """
    import keras

    import keras_rnn

    layer_class = {"lstm": keras_rnn.LSTM, "gru": keras_rnn.GRU, "simple_rnn": keras_rnn.SimpleRNN}
    if cell not in layer_class:
        raise ValueError(
            f"Received an invalid value for argument `cell`: expected one of {CELLS}, got {cell!r}"
        )
    for name, value in (("units", units), ("layers", layers), ("horizon", horizon)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(
                f"Received an invalid value for argument `{name}`: expected a positive "
                f"integer, got {value!r}"
            )
    inputs = keras.Input((None, features), name="features")
    mask = keras.Input((None,), dtype="bool", name="mask")
    x = inputs
    for i in range(layers):
        x = layer_class[cell](
            units, return_sequences=i < layers - 1, dropout=dropout, name=f"{cell}_{i + 1}"
        )(x, mask=mask)
    # float32 head: under mixed precision the forecast keeps full precision (Keras's advice)
    outputs = keras.layers.Dense(horizon, name="head", dtype="float32")(x)
    return keras.Model(
        {"features": inputs, "mask": mask}, outputs, name=f"stock_{cell}_{layers}x{units}"
    )
