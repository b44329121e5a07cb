"""The train and evaluation steps: ``tf.GradientTape``, loss scaling, clipping, tf.distribute.

One train step on a global batch of B examples split over R replicas (R = 1 without a
strategy), replica r holding B_r of them:

1. Forward and per-example loss on each replica: l_i = mean over the non-batch axes of
   ``loss(y_i, f(x_i))`` (times the sample weight, when given), shape [B_r].
2. Scale by the *global* batch: L_r = sum_i l_i / B with B = sum_r B_r
   (``tf.nn.compute_average_loss(l, global_batch_size=B)``; B is all-reduced so a short last
   batch is right too). Summed over replicas, L = sum_r L_r is the mean loss over the global
   batch: the loss a single device computes on the same batch. Regularisation losses are
   added once, divided by R (``tf.nn.scale_regularization_loss``).
3. Gradients g_r = dL_r/dtheta (of S * L_r under mixed precision, S the dynamic loss scale),
   summed over replicas: g = sum_r g_r = dL/dtheta, then divided by S.
4. Global norm ||g|| recorded, then clipping (:mod:`keras_rnn.training.clipping`) on the
   *summed* gradient: clipping per replica would clip a different vector than a single
   device does.
5. The optimizer applies g. Keras optimizers all-reduce (sum) gradients again inside
   ``apply_gradients``, so each replica hands over g / R (and S * g / R under a loss-scale
   optimizer, which divides by S itself and skips the step on overflow).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import tensorflow as tf

from keras_rnn.training.clipping import clip_gradients

LossFn = Callable[[Any, Any], Any]


def resolve_loss(loss: str | keras.losses.Loss | LossFn) -> LossFn:
    """A function ``(y_true, y_pred) -> per-element losses`` (no reduction), computed in
    float32 (the loss's own dtype for a Keras ``Loss``).

    ``Loss.call`` returns unreduced values where ``Loss.__call__`` would reduce, but it skips
    the cast ``__call__`` makes first: under ``mixed_float16`` the model's float16 outputs
    would give a float16 loss, which overflows (max 65,504) for a squared error of 300.
    So the inputs are cast here, as Keras does, before the loss is computed.
    """
    if not isinstance(loss, keras.losses.Loss):
        loss = keras.losses.get(loss)
    if isinstance(loss, keras.losses.Loss):
        fn, dtype = loss.call, loss.dtype or "float32"
    elif callable(loss):
        fn, dtype = loss, "float32"
    else:
        raise ValueError(
            f"Expected `loss` to be a loss name, a keras Loss or a function, got {loss!r}"
        )

    def in_float32(y_true: Any, y_pred: Any) -> Any:
        return fn(_to_float(y_true, dtype), _to_float(y_pred, dtype))

    return in_float32


def _to_float(values: Any, dtype: str) -> Any:
    """Floating tensors (any nesting) cast to ``dtype``; integer labels left as they are."""

    def cast(x: Any) -> Any:
        x = tf.convert_to_tensor(x)
        return tf.cast(x, dtype) if x.dtype.is_floating else x

    return tf.nest.map_structure(cast, values)


def per_example_loss(
    loss_fn: LossFn, y_true: Any, y_pred: Any, sample_weight: Any = None
) -> tf.Tensor:
    """Float32 losses of shape [batch]: the loss averaged over every axis but the first."""
    values = tf.cast(loss_fn(y_true, y_pred), tf.float32)
    if values.shape.rank == 0:
        raise ValueError(
            "The loss returned a scalar; the Trainer needs one value per example (a Keras loss "
            "name or object, or a function without reduction such as "
            "keras.losses.mean_squared_error)"
        )
    if sample_weight is not None:
        weight = tf.cast(sample_weight, tf.float32)
        while weight.shape.rank is not None and weight.shape.rank < values.shape.rank:
            weight = tf.expand_dims(weight, -1)
        values = values * weight
    if values.shape.rank > 1:
        values = tf.reduce_mean(values, axis=list(range(1, values.shape.rank)))
    return values


class Steps:
    """Compiled train and evaluation steps for one model, loss, optimizer and strategy.

    ``train(batch) -> (loss, grad_norm)`` and ``evaluate(batch) -> loss`` take a batch of
    the distributed dataset; loss is the global-batch mean, grad_norm the global norm
    before clipping.
    """

    def __init__(
        self,
        model: keras.Model,
        loss_fn: LossFn,
        optimizer: keras.optimizers.Optimizer,
        metrics: Sequence[keras.metrics.Metric],
        loss_tracker: keras.metrics.Mean,
        strategy: tf.distribute.Strategy,
        clip_norm: float | None,
        clip_value: float | None,
        jit_compile: bool = False,
    ) -> None:
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.metrics = list(metrics)
        self.loss_tracker = loss_tracker
        self.strategy = strategy
        self.clip_norm = clip_norm
        self.clip_value = clip_value
        replica_train = tf.function(self._replica_train, jit_compile=jit_compile)
        replica_eval = tf.function(self._replica_eval, jit_compile=jit_compile)

        def train(batch):
            loss, norm = strategy.run(replica_train, args=(batch,))
            return (
                strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
                # Every replica computed the norm of the same all-reduced gradient.
                strategy.experimental_local_results(norm)[0],
            )

        def evaluate(batch):
            loss = strategy.run(replica_eval, args=(batch,))
            return strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)

        self.train = tf.function(train, reduce_retracing=True)
        self.evaluate = tf.function(evaluate, reduce_retracing=True)

    def _loss(self, y, y_pred, sample_weight, ctx) -> tuple[tf.Tensor, tf.Tensor]:
        per_example = per_example_loss(self.loss_fn, y, y_pred, sample_weight)
        local = tf.shape(per_example)[0]
        global_batch = local if ctx.num_replicas_in_sync == 1 else ctx.all_reduce("sum", local)
        loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
        if self.model.losses:
            regularization = tf.add_n([tf.cast(x, tf.float32) for x in self.model.losses])
            loss += tf.nn.scale_regularization_loss(regularization)
            per_example += regularization
        return loss, per_example

    def _loss_scale(self) -> tf.Tensor | None:
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            return tf.cast(self.optimizer.dynamic_scale, tf.float32)
        if getattr(self.optimizer, "loss_scale_factor", None) is not None:
            return tf.constant(float(self.optimizer.loss_scale_factor), tf.float32)
        return None

    def _replica_train(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        ctx = tf.distribute.get_replica_context()
        replicas = ctx.num_replicas_in_sync
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            y_pred = self.model(x, training=True)
            loss, per_example = self._loss(y, y_pred, sample_weight, ctx)
            scaled_loss = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled_loss, variables)
        # An embedding's gradient comes as IndexedSlices, one slice per token occurrence.
        # Made dense (a sum per row), it is the same tensor on one device and on R replicas
        # for the all-reduce, the norm, clipping and the optimizer; left sparse, the
        # optimizer's own cross-replica sum concatenates the replicas' slices and Adam's
        # moment update is applied once per duplicate row (measured: weights 1e-2 apart
        # from one device after 6 steps on 2 replicas). The dense tensor is vocab x dim.
        grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        if replicas > 1:
            grads = _all_reduce_sum(ctx, grads)
        scale = self._loss_scale()
        if scale is not None:
            grads = [_scaled(g, 1.0 / scale) for g in grads]
        grads, norm = clip_gradients(grads, self.clip_norm, self.clip_value)
        if scale is not None:
            # An overflowed step (inf or nan gradients; the loss-scale optimizer skips it) is
            # reported with the norm inf, whichever of the two the sum of squares gave.
            norm = tf.where(tf.math.is_finite(norm), norm, tf.constant(float("inf"), norm.dtype))
        # Hand the optimizer what it expects: per-replica shares that it sums, still scaled.
        factor = (1.0 if scale is None else scale) / replicas
        if scale is not None or replicas > 1:
            grads = [_scaled(g, factor) for g in grads]
        self.optimizer.apply_gradients(
            [(g, v) for g, v in zip(grads, variables, strict=True) if g is not None]
        )
        self.loss_tracker.update_state(per_example)
        for metric in self.metrics:
            metric.update_state(y, y_pred, sample_weight)
        return loss, norm

    def _replica_eval(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        ctx = tf.distribute.get_replica_context()
        y_pred = self.model(x, training=False)
        loss, per_example = self._loss(y, y_pred, sample_weight, ctx)
        self.loss_tracker.update_state(per_example)
        for metric in self.metrics:
            metric.update_state(y, y_pred, sample_weight)
        return loss


def _scaled(grad: Any, factor: Any) -> Any:
    """``grad * factor`` in float32, for dense gradients and ``tf.IndexedSlices`` (an
    embedding's) alike; None stays None."""
    if grad is None:
        return None
    if isinstance(grad, tf.IndexedSlices):
        values = tf.cast(grad.values, tf.float32) * factor
        return tf.IndexedSlices(values, grad.indices, grad.dense_shape)
    return tf.cast(grad, tf.float32) * factor


def _all_reduce_sum(ctx: tf.distribute.ReplicaContext, grads: list) -> list:
    present = [i for i, g in enumerate(grads) if g is not None]
    reduced = ctx.all_reduce(tf.distribute.ReduceOp.SUM, [grads[i] for i in present])
    out = list(grads)
    for i, g in zip(present, reduced, strict=True):
        out[i] = g
    return out
