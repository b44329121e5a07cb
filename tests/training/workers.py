"""Training runs the tests start in subprocesses (a kill, two logical CPUs, two workers).

    python tests/training/workers.py resume CKPT_DIR OUT.npz [--kill-at STEP] [--term-at STEP]
    python tests/training/workers.py mirrored DATA.npz OUT.npz
    python tests/training/workers.py multi-worker DATA.npz OUT.npz   (TF_CONFIG set)

Kept tiny: what costs time is importing TensorFlow (~4 s).
"""

from __future__ import annotations

import os
import signal
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

SEED = 7
EPOCHS = 3
CHECKPOINT_EVERY = 5  # 8 steps an epoch: checkpoints at 5, 8, 10, 15, 16, 20, 24


def resume_data():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6, 2)).astype("float32")
    y = (x[:, :, 0].sum(axis=1, keepdims=True) * 0.3).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, y))


def resume_model():
    import keras

    import keras_rnn

    keras.utils.set_random_seed(SEED)
    return keras.Sequential(
        [
            keras.Input((6, 2)),
            keras_rnn.GRU(6),
            keras.layers.Dropout(0.2),  # its RNG state must survive the resume too
            keras.layers.Dense(1),
        ]
    )


def run_resume(
    checkpoint_dir: str | None, out: str, kill_at: int | None, term_at: int | None
) -> int:
    import keras

    from keras_rnn.training import Callback, Trainer
    from keras_rnn.training.data import shuffled_per_epoch
    from keras_rnn.training.signals import TrainingInterrupted

    class Killer(Callback):
        def on_train_batch_end(self, step, logs=None):
            if step == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            if step == term_at:
                os.kill(os.getpid(), signal.SIGTERM)

    model = resume_model()
    trainer = Trainer(
        model,
        "mse",
        keras.optimizers.Adam(0.01),
        metrics=["mae"],
        clip_norm=1.0,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=CHECKPOINT_EVERY,
        verbose=0,
        seed=SEED,
    )
    data = shuffled_per_epoch(resume_data(), 8, seed=SEED)
    try:
        history = trainer.fit(data, epochs=EPOCHS, callbacks=[Killer()])
    except TrainingInterrupted as stop:
        print(stop, flush=True)
        return stop.exit_code
    np.savez(
        out,
        *model.get_weights(),
        loss=np.array(history.history["loss"]),
        norms=np.array(history.step_grad_norms),
    )
    return 0


def dense_model(weights):
    import keras

    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="tanh"), keras.layers.Dense(1)]
    )
    model.set_weights(weights)
    return model


def run_distributed(strategy_name: str, data_path: str, out: str | None) -> int:
    """Train the dense model of DATA.npz for its steps; write weights and norms (chief only)."""
    import keras
    import tensorflow as tf

    from keras_rnn.training import Trainer
    from keras_rnn.training.devices import resolve_strategy, split_cpu

    if strategy_name == "mirrored":
        split_cpu(2)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    else:
        strategy = resolve_strategy(strategy_name)
    data = np.load(data_path)
    weights = [data[f"w{i}"] for i in range(4)]
    with strategy.scope():
        model = dense_model(weights)
        optimizer = keras.optimizers.SGD(0.1)
    trainer = Trainer(
        model,
        "mse",
        optimizer,
        metrics=["mae"],
        strategy=strategy,
        clip_norm=float(data["clip_norm"]),
        verbose=0,
    )
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    ds = tf.data.Dataset.from_tensor_slices((data["x"], data["y"])).batch(int(data["batch"]))
    history = trainer.fit(ds.with_options(options), epochs=int(data["epochs"]))
    if out and trainer.is_chief:
        np.savez(
            out,
            *model.get_weights(),
            norms=np.array(history.step_grad_norms),
            loss=np.array(history.history["loss"]),
            replicas=strategy.num_replicas_in_sync,
        )
    return 0


def main(argv: list[str]) -> int:
    mode = argv[0]
    if mode == "resume":
        checkpoint_dir, out = argv[1], argv[2]
        kill_at = int(argv[argv.index("--kill-at") + 1]) if "--kill-at" in argv else None
        term_at = int(argv[argv.index("--term-at") + 1]) if "--term-at" in argv else None
        return run_resume(None if checkpoint_dir == "-" else checkpoint_dir, out, kill_at, term_at)
    if mode in {"mirrored", "multi-worker"}:
        return run_distributed(mode, argv[1], argv[2] if len(argv) > 2 else None)
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
