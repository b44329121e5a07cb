"""Devices, seeds, mixed precision and the tf.distribute strategy a run uses.

* A GPU is used automatically when TensorFlow sees one (TensorFlow places ops there);
  :func:`describe` says which device(s) a strategy computes on.
* ``mixed_float16``: layers compute in float16 and keep float32 variables; the Trainer then
  wraps the optimizer in ``keras.optimizers.LossScaleOptimizer`` (dynamic loss scaling:
  the loss is multiplied by S before differentiation and the gradients divided by S; steps
  whose gradients overflow are skipped and S halved). Worth it on GPUs with tensor cores;
  on CPU it is slower.
* Strategies by name: ``default`` (one device), ``mirrored`` (every local GPU, or the CPU),
  ``multi-worker`` (one replica set per machine listed in ``TF_CONFIG``). A strategy can only
  be made once per process for multi-worker, so names resolve to one cached instance.
"""

from __future__ import annotations

import logging

import keras
import tensorflow as tf

log = logging.getLogger(__name__)

STRATEGY_NAMES = ("default", "mirrored", "multi-worker")
_strategies: dict[str, tf.distribute.Strategy] = {}


def configure(
    seed: int | None = None, deterministic: bool = False, mixed_precision: bool | None = None
) -> None:
    """Seed every RNG, pick deterministic ops, set the dtype policy. Call before building models.

    ``seed`` seeds Python's ``random``, NumPy, TensorFlow and Keras
    (``keras.utils.set_random_seed``). ``deterministic`` makes TensorFlow pick deterministic
    kernels (``tf.config.experimental.enable_op_determinism``; slower, and it needs a seed).
    ``mixed_precision``: True sets the ``mixed_float16`` policy, False ``float32``, None
    leaves the policy alone.
    """
    if seed is not None:
        keras.utils.set_random_seed(seed)
    if deterministic:
        if seed is None:
            raise ValueError("Deterministic mode needs a seed: pass `seed` (--seed).")
        tf.config.experimental.enable_op_determinism()
    if mixed_precision is None:  # leave the dtype policy as it is
        return
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed_precision else "float32")
    if mixed_precision and not tf.config.list_logical_devices("GPU"):
        log.warning("mixed_float16 on a CPU is slower than float32; it pays off on GPUs")


def resolve_strategy(strategy: str | tf.distribute.Strategy | None) -> tf.distribute.Strategy:
    """A ``tf.distribute.Strategy`` from a name (``default``/``mirrored``/``multi-worker``),
    an instance (returned as is) or None (the strategy in scope, else the default one)."""
    if strategy is None:
        return tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    if strategy not in STRATEGY_NAMES:
        raise ValueError(
            f"Received an invalid value for argument `strategy`, expected one of "
            f"{', '.join(STRATEGY_NAMES)} or a tf.distribute.Strategy, got {strategy!r}"
        )
    if strategy == "default":
        return tf.distribute.get_strategy()
    if strategy not in _strategies:
        if strategy == "mirrored":
            _strategies[strategy] = tf.distribute.MirroredStrategy()
        else:
            _strategies[strategy] = tf.distribute.MultiWorkerMirroredStrategy()
    return _strategies[strategy]


def is_chief(strategy: tf.distribute.Strategy | None = None) -> bool:
    """True except on the non-chief workers of a multi-worker run (they write nothing: no
    checkpoints, logs or exports)."""
    strategy = tf.distribute.get_strategy() if strategy is None else strategy
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def describe(strategy: tf.distribute.Strategy) -> str:
    """One line naming the strategy and the devices it computes on."""
    try:
        devices = list(strategy.extended.worker_devices)
    except (RuntimeError, AttributeError, NotImplementedError):  # the default strategy
        devices = []
    if not devices:
        gpus = tf.config.list_logical_devices("GPU")
        devices = [gpus[0].name] if gpus else ["/device:CPU:0"]
    names = []
    for device in devices:
        spec = tf.DeviceSpec.from_string(device)
        label = f"{spec.device_type or 'CPU'}:{spec.device_index or 0}"
        if spec.device_type == "GPU":
            details = _gpu_name(spec.device_index or 0)
            if details:
                label += f" ({details})"
        names.append(label)
    kind = type(strategy).__name__.lstrip("_").replace("DistributionStrategy", "Strategy")
    workers = strategy.extended._num_workers if hasattr(strategy.extended, "_num_workers") else 1
    where = f", {workers} workers" if workers and workers > 1 else ""
    return f"{kind} on {', '.join(names)}{where}; {strategy.num_replicas_in_sync} replica(s)"


def _gpu_name(index: int) -> str:
    try:
        gpus = tf.config.list_physical_devices("GPU")
        return tf.config.experimental.get_device_details(gpus[index]).get("device_name", "")
    except (IndexError, ValueError, RuntimeError):  # pragma: no cover - depends on the machine
        return ""


def split_cpu(count: int) -> None:
    """Make ``count`` logical CPU devices (for testing MirroredStrategy without GPUs).

    Must run before TensorFlow initialises its devices (before the first op).
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
    )
