"""Gradient clipping, and the global gradient norm measured before it.

For gradients g_1 .. g_k (one per variable) the global norm is

    ||g|| = sqrt(sum_i sum_j g_ij^2)

Clipping by value maps every element to ``clip(g_ij, -v, v)``. Clipping by global norm
rescales all gradients together, keeping their direction:

    g_i <- g_i * c / max(||g||, c)

so that the new global norm is ``min(||g||, c)``. When both are set, values are clipped first
and the global norm last, so the norm of what the optimizer sees never exceeds ``c``. The
returned norm is the one *before* any clipping: the quantity the tutorials plot to show
exploding gradients.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf


def _combine_duplicates(gradient: tf.Tensor | tf.IndexedSlices | None):
    """An ``IndexedSlices`` gradient (an embedding's) with each row once, its values summed.

    The tape gives one slice per *occurrence* of a token (and an all-reduce across replicas
    concatenates the replicas' slices): the gradient is their sum per row, so norms and
    value clipping taken on the raw slices would be wrong, and differ between one device
    and several.
    """
    if not isinstance(gradient, tf.IndexedSlices):
        return gradient
    rows, position = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, position, tf.shape(rows)[0])
    return tf.IndexedSlices(values, rows, gradient.dense_shape)


def global_norm(gradients: Sequence[tf.Tensor | None]) -> tf.Tensor:
    """``sqrt(sum ||g_i||^2)`` over the gradients that are not None, as float32."""
    present = [tf.cast(g, tf.float32) for g in gradients if g is not None]
    if not present:
        return tf.constant(0.0, tf.float32)
    return tf.linalg.global_norm(present)


def clip_gradients(
    gradients: Sequence[tf.Tensor | None],
    clip_norm: float | None = None,
    clip_value: float | None = None,
) -> tuple[list[tf.Tensor | None], tf.Tensor]:
    """Clip ``gradients``; return ``(clipped, global norm before clipping)``.

    Args:
        gradients: one tensor (or None, for a variable the loss does not touch) per variable.
        clip_norm: the largest global norm to let through, or None for no norm clipping.
        clip_value: the largest absolute element to let through, or None.

    A non-finite norm is returned as is and the gradients come out non-finite too, so that a
    loss-scale optimizer sees the overflow and skips the step.
    """
    if clip_norm is not None and not clip_norm > 0:
        raise ValueError(f"Expected `clip_norm` to be a positive number or None, got {clip_norm!r}")
    if clip_value is not None and not clip_value > 0:
        raise ValueError(
            f"Expected `clip_value` to be a positive number or None, got {clip_value!r}"
        )
    gradients = [_combine_duplicates(g) for g in gradients]
    norm = global_norm(gradients)
    if clip_value is not None:
        gradients = [
            None if g is None else tf.clip_by_value(g, -clip_value, clip_value) for g in gradients
        ]
    if clip_norm is not None:
        present = [i for i, g in enumerate(gradients) if g is not None]
        # Measure again after value clipping: the factor must bring *this* norm under clip_norm.
        clipped, _ = tf.clip_by_global_norm(
            [gradients[i] for i in present],
            clip_norm,
            use_norm=norm if clip_value is None else None,
        )
        for i, g in zip(present, clipped, strict=True):
            gradients[i] = g
    return gradients, norm
