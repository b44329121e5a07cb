"""The stock SavedModel: raw prices in, forecast prices out, scaling inside the graph.

Signatures (docs/architecture.md; the names are :class:`keras_rnn_contract.Stock`):

- ``serving_default``: ``prices`` float32 [batch, time] (time >= 1, price units)
  -> ``forecast`` float32 [batch, horizon] (price units);
- ``padded``: ``prices`` float32 [batch, time] right-padded, ``lengths`` int32 [batch]
  (1 <= length <= time) -> ``forecast`` float32 [batch, horizon].

Inside: ``features, mask = encode(prices, lengths)``; ``forecast = decode(model(features,
mask), last price)`` with the constants of the training-only :class:`PriceScaler`
(``serving_default``, whose rows are full, gives the model no mask: same answer, less
work). Bad input (time = 0, lengths outside 1..time, prices <= 0 or not finite within the
lengths) fails with ``InvalidArgumentError`` naming the problem, never with NaNs. The
exported graph needs only TensorFlow to load: no ``keras_rnn`` code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from keras_rnn.data.stock.scaling import PriceScaler, last_price
from keras_rnn.predictors.repository import write_version
from keras_rnn_contract import Stock, stock_signatures

SIGNATURES = stock_signatures()


def make_forecaster(model, scaler: PriceScaler):
    """``forecast(prices [B, T], lengths [B] or None) -> prices [B, H]``: the served computation.

    ``lengths=None`` means every row is full (``lengths = T``). The model then gets no mask
    (where its mask input is optional, as :func:`~keras_rnn.predictors.stock.build.build_model`
    makes it): an all-True mask selects every step's new state, so the answer is the same
    bit for bit, without a select per step and state (a sixth of a batch of one's call).
    """
    try:
        mask_optional = bool(model.get_layer("mask").optional)
    except (ValueError, AttributeError):
        mask_optional = False

    def forecast(prices, lengths=None):
        prices = tf.convert_to_tensor(prices, tf.float32)
        time = tf.shape(prices)[1]
        full = lengths is None
        if full:
            lengths = tf.fill([tf.shape(prices)[0]], time)
        lengths = tf.cast(lengths, tf.int32)
        checks = [
            tf.debugging.assert_positive(
                time, message="prices must have at least one time step (time >= 1)"
            ),
            tf.debugging.assert_equal(
                tf.shape(lengths)[0],
                tf.shape(prices)[0],
                message="lengths must have one entry per row of prices",
            ),
            tf.debugging.assert_positive(lengths, message="every length must be >= 1"),
            tf.debugging.assert_less_equal(
                lengths, time, message="every length must be <= the number of time steps"
            ),
        ]
        with tf.control_dependencies(checks):
            # Every later op reads these identities, so nothing runs before the checks pass.
            lengths = tf.identity(lengths)
            mask = tf.sequence_mask(lengths, maxlen=time)
            valid = tf.logical_or(
                tf.logical_not(mask),
                tf.logical_and(tf.math.is_finite(prices), prices > 0),
            )
            check_prices = tf.debugging.Assert(
                tf.reduce_all(valid), ["prices must be finite and > 0 within each row's length"]
            )
        with tf.control_dependencies([check_prices]):
            prices, lengths = tf.identity(prices), tf.identity(lengths)
        features, mask = scaler.encode_inputs(prices, lengths)
        unmasked = full and mask_optional
        outputs = model({"features": features, "mask": None if unmasked else mask}, training=False)
        return scaler.decode(outputs, last_price(prices, lengths))

    return forecast


def export_saved_model(model, scaler: PriceScaler, path: str | Path) -> None:
    """Write the SavedModel with both signatures into ``path`` (used by :func:`export_version`)."""
    forecast = make_forecaster(model, scaler)
    prices_spec = tf.TensorSpec([None, None], tf.float32, name=Stock.PRICES)
    lengths_spec = tf.TensorSpec([None], tf.int32, name=Stock.LENGTHS)

    def serve(prices):
        return {Stock.FORECAST: forecast(prices)}

    def padded(prices, lengths):
        return {Stock.FORECAST: forecast(prices, lengths)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(Stock.SERVE, serve, input_signature=[prices_spec])
    archive.add_endpoint(Stock.PADDED, padded, input_signature=[prices_spec, lengths_spec])
    archive.write_out(str(path), verbose=False)


def export_version(
    model_dir: str | Path,
    model,
    scaler: PriceScaler,
    card: dict[str, Any],
    name: str = Stock.NAME,
) -> Path:
    """Export atomically as the next version of ``<model_dir>/<name>/`` with ``model_card.json``."""
    return write_version(
        model_dir,
        name,
        lambda path: export_saved_model(model, scaler, path),
        card={**card, "signatures": SIGNATURES},
    )
