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

import keras_rnn

CELLS: dict[str, type] = {
    "lstm": keras_rnn.LSTM,
    "gru": keras_rnn.GRU,
    "simple_rnn": keras_rnn.SimpleRNN,
}


def check_cell(cell: str) -> str:
    if cell not in CELLS:
        raise ValueError(
            f"Received an invalid value for argument `cell`: expected one of {sorted(CELLS)}, got {cell!r}."
        )
    return cell


def build_language_model(
    vocab_size: int,
    *,
    cell: str = "lstm",
    units: int = 256,
    layers: int = 1,
    embedding_dim: int = 64,
) -> keras.Model:
    """A next-token model: int ids ``(batch, T)`` -> logits ``(batch, T, vocab_size)``.

    Layer names the export relies on: ``embedding``, ``rnn_0 .. rnn_{layers-1}``, ``logits``.
    """
    check_cell(cell)
    for name, value in (
        ("vocab_size", vocab_size),
        ("units", units),
        ("layers", layers),
        ("embedding_dim", embedding_dim),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(
                f"Received an invalid value for argument `{name}`, expected a positive integer, got {value!r}."
            )
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    x = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")(ids)
    for i in range(layers):
        x = CELLS[cell](units, return_sequences=True, name=f"rnn_{i}")(x)
    logits = keras.layers.Dense(vocab_size, name="logits")(x)
    return keras.Model(ids, logits, name=f"text_{cell}")


def sequence_loss() -> keras.losses.Loss:
    """Mean next-token cross-entropy over batch and steps, from logits (nats per token)."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, name="cross_entropy")
