"""Dropout and recurrent dropout: training mode drops, inference is deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from .parity import TOL, classes

B, T, F, U = 4, 6, 5, 8


# (0.3, 0): our fused loop; with recurrent dropout the layer runs Keras's generic loop.
@pytest.mark.parametrize(("dropout", "recurrent_dropout"), [(0.3, 0.0), (0.3, 0.3)])
def test_dropout(kind: str, dropout: float, recurrent_dropout: float) -> None:
    import keras

    ours_cls, ours_cell, *_, extra = classes(kind)
    x = np.random.default_rng(0).standard_normal((B, T, F)).astype("float32")
    layer = ours_cls(
        U,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        seed=1,
        return_sequences=True,
        **extra,
    )
    plain = ours_cls(U, return_sequences=True, **extra)
    infer = np.asarray(layer(x, training=False))
    plain(x)
    plain.set_weights(layer.get_weights())
    assert np.max(np.abs(infer - np.asarray(plain(x)))) <= TOL, "inference must not drop"
    train1 = np.asarray(layer(x, training=True))
    train2 = np.asarray(layer(x, training=True))
    assert train1.shape == (B, T, U)
    assert np.all(np.isfinite(train1))
    assert np.max(np.abs(train1 - infer)) > 1e-3, "training output equals inference: no dropout"
    assert np.max(np.abs(train1 - train2)) > 1e-3, "the same mask was drawn twice"

    # Same seed, same masks: our fused loop equals Keras's generic loop over our cell.
    generic = keras.layers.RNN(
        ours_cell(U, dropout=dropout, recurrent_dropout=recurrent_dropout, seed=1, **extra),
        return_sequences=True,
    )
    fused = ours_cls(
        U,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        seed=1,
        return_sequences=True,
        **extra,
    )
    generic(x)
    fused(x)
    fused.set_weights(layer.get_weights())
    generic.set_weights(layer.get_weights())
    diff = np.max(
        np.abs(np.asarray(fused(x, training=True)) - np.asarray(generic(x, training=True)))
    )
    assert diff <= TOL
