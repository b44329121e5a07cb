"""The recurrent language model: ids -> embedding -> our recurrent layers -> logits.

For ids ``w_1 .. w_T`` (shape ``(batch, T)``)::

    e_t = E[w_t]                                   E: (V, embedding_dim)
    h_t^(1) = cell_1(e_t, h_{t-1}^(1)), ...,       h_t^(l) = cell_l(h_t^(l-1), h_{t-1}^(l))
    z_t = W h_t^(L) + b                            W: (V, units), logits (batch, T, V)
    p(w_{t+1} | w_1..w_t) = softmax(z_t)

trained with the cross-entropy ``-log p(w_{t+1} | w_{<=t})`` over every step of every window,
averaged so that it reads in nats per token (the sum over the ``T`` steps divided by ``T``;
the gradient's direction is the same, and Adam does not care about its scale).
The cells are :mod:`keras_rnn`'s own; the export (:mod:`.export`) calls them one step at a
time, carrying the state.
"""

from __future__ import annotations

import keras

from keras_rnn.predictors.config import check_positive_ints
from keras_rnn.predictors.pipeline import recurrent_layer
from keras_rnn.predictors.text.config import TextConfig


def build_language_model(
    vocab_size: int,
    *,
    cell: str = TextConfig.cell,
    units: int = TextConfig.units,
    layers: int = TextConfig.layers,
    embedding_dim: int = TextConfig.embedding_dim,
) -> keras.Model:
    """A next-token model: int ids ``(batch, T)`` -> logits ``(batch, T, vocab_size)``.

    Layer names the export relies on: ``embedding``, ``rnn_0 .. rnn_{layers-1}``, ``logits``.
    """
    layer_class = recurrent_layer(cell)
    check_positive_ints(
        vocab_size=vocab_size, units=units, layers=layers, embedding_dim=embedding_dim
    )
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    x = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")(ids)
    for i in range(layers):
        x = layer_class(units, return_sequences=True, name=f"rnn_{i}")(x)
    logits = keras.layers.Dense(vocab_size, name="logits")(x)
    return keras.Model(ids, logits, name=f"text_{cell}")


def sequence_loss() -> keras.losses.Loss:
    """Mean next-token cross-entropy over batch and steps, from logits (nats per token)."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, name="cross_entropy")
