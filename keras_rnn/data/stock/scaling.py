"""Scaling between price units and what the network sees, fitted on the training part only.

The same TensorFlow functions run in the ``tf.data`` pipeline and inside the exported
SavedModel, so training and serving cannot drift apart.

Two targets (``PriceScaler.target``):

``returns`` (the default): the net sees daily log returns and predicts cumulative log returns.
    With prices ``p_1..p_L`` of one window (``p_L`` = last known close) and ``s`` = the standard
    deviation of daily log returns on the training part,

    - input step ``l``: ``x_l = (log p_l - log p_{l-1}) / s`` for ``l >= 2``, ``x_1 = 0``;
    - target ``h`` (1..H): ``y_h = log(p_{L+h} / p_L) / (s * sqrt(h))`` (unit variance per h);
    - forecast: ``p_L * exp(y_h * s * sqrt(h))``.

    Returns are (nearly) stationary: a net trained on 1999-2011 sees the same kind of numbers
    in 2016, where prices are twice any training price.

``prices``: the net sees and predicts standardised prices, ``z = (p - m) / d`` with ``m``
    and ``d`` the mean and standard deviation of the training closes:
    ``x_l = (p_l - m) / d``, ``y_h = (p_{L+h} - m) / d``, forecast ``m + y_h * d``. Good for
    range-bound series such as StatLand; on trending prices the test period leaves the
    training range, and the net must extrapolate. (Centring matters: with StatLand scaled
    to [0, 1] instead, a small GRU stalls at the best *linear* rule; centred, it learns the
    four scenarios.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

# TensorFlow is imported inside the functions that use it: the command line imports this
# package (for SOURCES and TARGETS) to build its flags, before TensorFlow may load.

Target = Literal["returns", "prices"]
TARGETS: tuple[str, ...] = ("returns", "prices")


@dataclass(frozen=True)
class PriceScaler:
    """Constants that map price windows to network inputs/targets and back (see module doc).

    Attributes:
        target: ``"returns"`` or ``"prices"``.
        offset: ``m`` (mean training close) for prices; 0 for returns.
        scale: ``d`` (std of training closes) for prices; ``s`` (std of daily log returns) for
            returns.
    """

    target: str
    offset: float
    scale: float

    @classmethod
    def fit(cls, train_close: np.ndarray, target: str = "returns") -> PriceScaler:
        """Fit on the training part's closes only (nothing after it may leak in)."""
        close = np.asarray(train_close, dtype=np.float64)
        if target == "returns":
            if len(close) < 3:
                raise ValueError(f"expected >= 3 training prices to fit a scale, got {len(close)}")
            scale = float(np.std(np.diff(np.log(close))))
            return cls("returns", 0.0, scale if scale > 0 else 1.0)
        if target == "prices":
            std = float(np.std(close))
            return cls("prices", float(np.mean(close)), std if std > 0 else 1.0)
        raise ValueError(
            f"Received an invalid value for argument `target`: expected one of {TARGETS}, "
            f"got {target!r}"
        )

    def to_config(self) -> dict[str, Any]:
        return asdict(self)

    # --- TensorFlow: used by tf.data and the exported graph ------------------------------------

    def encode_inputs(self, prices, lengths):
        """Right-padded prices float32 [B, T] and lengths int32 [B] -> (features [B, T, 1], mask [B, T]).

        Padded steps get the feature 0 and ``mask = False``.
        """
        import tensorflow as tf

        prices = tf.convert_to_tensor(prices, tf.float32)
        lengths = tf.cast(lengths, tf.int32)
        mask = tf.sequence_mask(lengths, maxlen=tf.shape(prices)[1])
        last = last_price(prices, lengths)
        # Padded steps repeat the last close: their log return is 0 and log() sees no zeros.
        safe = tf.where(mask, prices, last[:, None])
        if self.target == "returns":
            log_p = tf.math.log(safe)
            steps = log_p[:, 1:] - log_p[:, :-1]
            returns = tf.concat([tf.zeros_like(log_p[:, :1]), steps], axis=1)
            features = returns / self.scale
        else:
            features = (safe - self.offset) / self.scale
        features = tf.where(mask, features, tf.zeros_like(features))
        return features[:, :, None], mask

    def encode_targets(self, future, last):
        """Future closes [B, H] and the last known close [B] -> network targets [B, H]."""
        import tensorflow as tf

        future = tf.convert_to_tensor(future, tf.float32)
        last = tf.convert_to_tensor(last, tf.float32)
        if self.target == "returns":
            return tf.math.log(future / last[:, None]) / self._step_scale(tf.shape(future)[1])
        return (future - self.offset) / self.scale

    def decode(self, outputs, last):
        """Network outputs [B, H] and the last known close [B] -> forecast prices [B, H]."""
        import tensorflow as tf

        outputs = tf.cast(outputs, tf.float32)  # float16 under mixed precision
        last = tf.convert_to_tensor(last, tf.float32)
        if self.target == "returns":
            return last[:, None] * tf.exp(outputs * self._step_scale(tf.shape(outputs)[1]))
        return self.offset + outputs * self.scale

    def _step_scale(self, horizon):
        """``s * sqrt(h)`` for h = 1..H, shape [1, H]."""
        import tensorflow as tf

        h = tf.cast(tf.range(1, horizon + 1), tf.float32)
        return (self.scale * tf.sqrt(h))[None, :]


def last_price(prices, lengths):
    """The last valid close of each right-padded row: ``prices[b, lengths[b] - 1]`` -> [B]."""
    import tensorflow as tf

    return tf.gather(prices, tf.cast(lengths, tf.int32) - 1, axis=1, batch_dims=1)
