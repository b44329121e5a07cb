# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 2: a vanilla RNN from scratch, and the same net in Keras
#
# The memory cell of a vanilla RNN, for input x_t and the previous hidden state h_{t-1}:
#
#     h_t = tanh(x_t Wx + h_{t-1} Wh + bh)
#     y   = h_T Wy + by                      (one prediction after the last step)
#
# Task (as in the article this lesson follows): a sine wave cut into **200 samples of 25
# time steps**; from the 25 values predict the next one. Loss: mean squared error. Training:
# backpropagation through time (BPTT), gradients clipped, Adam.
#
# We build it twice:
# 1. In NumPy with the backward pass written by hand (`keras_rnn.reference.numpy_rnn`:
#    read it, it is one screen), checked against finite differences.
# 2. As our Keras `SimpleRNN` + `Dense`, with gradients from `tf.GradientTape`.
#
# With the same weights the hand-derived gradients and the tape's agree to float32
# precision, so the two trainings follow the same loss curve. The article reports a mean
# error of about 0.5%; we measure ours the same way (mean |prediction - target| as a percent
# of the wave's amplitude, 1).
#
# Run: `python tutorials/02_rnn_from_scratch.py [--quick]` or `keras-rnn tutorial 2`.

# %%
from __future__ import annotations

from pathlib import Path
from typing import Any

import _common
import keras
import numpy as np
import tensorflow as tf

from keras_rnn import SimpleRNN
from keras_rnn.reference import numpy_rnn

N_SAMPLES, N_STEPS = 200, 25
ARTICLE_MEAN_ERROR_PCT = 0.5


# %% [markdown]
# ## The data: 200 windows of 25 steps of a sine wave
#
# `numpy_rnn.sine_dataset` returns the inputs time-major, `(T, batch, 1)`, the way the NumPy
# loop walks them; Keras wants batch-major `(batch, T, 1)`.


# %%
def make_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs, targets = numpy_rnn.sine_dataset(N_SAMPLES, N_STEPS)
    x_keras = np.transpose(xs, (1, 0, 2)).astype("float32")  # (200, 25, 1)
    return xs, targets, x_keras


# %% [markdown]
# ## 1. The hand-written backward pass vs finite differences
#
# `numpy_rnn.backward` is BPTT: walk the steps backwards, multiply by tanh' = 1 - h^2 and by
# Wh^T once per step, and add each step's share into dWx, dWh, dbh. Central differences
# (L(p + e) - L(p - e)) / 2e check every entry.


# %%
def check_against_finite_differences(params: numpy_rnn.Params, xs, targets) -> float:
    _, cache = numpy_rnn.forward(params, xs, targets)
    by_hand = numpy_rnn.backward(params, cache)
    numeric = numpy_rnn.numerical_gradient(params, xs, targets)
    return max(float(np.max(np.abs(by_hand[k] - numeric[k]))) for k in by_hand)


# %% [markdown]
# ## 2. The same net in Keras, and the tape's gradients
#
# `SimpleRNN(H)` holds exactly `Wx` (kernel), `Wh` (recurrent kernel) and `bh` (bias);
# `Dense(1)` holds `Wy` and `by`. We copy the NumPy weights in and ask `tf.GradientTape` for
# the gradient of the same loss.


# %%
def build_keras(params: numpy_rnn.Params) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input(shape=(N_STEPS, 1)),
            SimpleRNN(params["Wh"].shape[0], name="rnn"),
            keras.layers.Dense(1, name="out"),
        ]
    )
    model.get_layer("rnn").set_weights([params["Wx"], params["Wh"], params["bh"]])
    model.get_layer("out").set_weights([params["Wy"], params["by"]])
    return model


def tape_gradients(model: keras.Model, x: np.ndarray, targets: np.ndarray) -> dict[str, np.ndarray]:
    loss_fn = keras.losses.MeanSquaredError()
    with tf.GradientTape() as tape:
        loss = loss_fn(targets, model(x))
    grads = tape.gradient(loss, model.trainable_variables)
    # Keras's variable order: kernel, recurrent kernel, bias, then the Dense kernel and bias.
    return {name: g.numpy() for name, g in zip(numpy_rnn.PARAM_NAMES, grads, strict=True)}


def compare_gradients(params: numpy_rnn.Params, xs, targets, x_keras) -> dict[str, Any]:
    params32 = {k: v.astype("float32") for k, v in params.items()}  # same numbers on both sides
    _, cache = numpy_rnn.forward({k: v.astype("float64") for k, v in params32.items()}, xs, targets)
    by_hand = numpy_rnn.backward(params32, cache)
    by_tape = tape_gradients(build_keras(params32), x_keras, targets.astype("float32"))
    per_param = {k: float(np.max(np.abs(by_hand[k] - by_tape[k]))) for k in by_hand}
    scale = max(float(np.max(np.abs(g))) for g in by_hand.values())
    return {"by_hand": by_hand, "by_tape": by_tape, "max_abs_diff": per_param, "grad_scale": scale}


# %% [markdown]
# ## 3. Training both: NumPy BPTT and Keras + GradientTape
#
# The same start, the same full batch, the same clipping (global norm 1) and Adam with the
# same rule: the loss curves should lie on top of each other.


# %%
def train_keras(
    params: numpy_rnn.Params, x: np.ndarray, targets: np.ndarray, steps: int, lr: float
) -> tuple[keras.Model, list[float]]:
    model = build_keras(params)
    optimizer = keras.optimizers.Adam(learning_rate=lr)
    loss_fn = keras.losses.MeanSquaredError()
    x, y = tf.constant(x), tf.constant(targets.astype("float32"))

    @tf.function
    def train_step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        grads, _ = tf.clip_by_global_norm(grads, 1.0)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    losses = [float(train_step()) for _ in range(steps)]
    return model, losses


def mean_error_pct(predictions: np.ndarray, targets: np.ndarray) -> float:
    """Mean |prediction - target| as a percent of the sine's amplitude (1)."""
    return float(100.0 * np.mean(np.abs(predictions - targets)))


# %% [markdown]
# ## Plots: the two loss curves, the predictions, hand vs tape gradients


# %%
def plot_losses(np_losses: list[float], tf_losses: list[float], out_dir: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.semilogy(np_losses, label="NumPy, hand-written BPTT", lw=3, alpha=0.5)
    ax.semilogy(tf_losses, "--", label="Keras SimpleRNN + GradientTape")
    ax.set_xlabel("training step (full batch of 200)")
    ax.set_ylabel("MSE")
    ax.set_title("Same net, same start: two trainings")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    return _common.save_figure(fig, out_dir, "loss_curves.png")


def plot_predictions(predictions: np.ndarray, targets: np.ndarray, out_dir: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(targets[:, 0], label="ground truth (next value)", lw=3, alpha=0.5)
    ax.plot(predictions[:, 0], "--", label="prediction (Keras, trained)")
    ax.set_xlabel("sample")
    ax.set_ylabel("sin")
    ax.legend()
    ax.set_title("Next value of the sine from the previous 25")
    return _common.save_figure(fig, out_dir, "predictions.png")


def plot_gradients(comparison: dict[str, Any], out_dir: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for name in numpy_rnn.PARAM_NAMES:
        ax.scatter(
            comparison["by_hand"][name].ravel(),
            comparison["by_tape"][name].ravel(),
            s=8,
            label=name,
        )
    lim = comparison["grad_scale"] * 1.1
    ax.plot([-lim, lim], [-lim, lim], "k:", lw=1)
    ax.set_xlabel("hand-written BPTT (NumPy)")
    ax.set_ylabel("tf.GradientTape (Keras)")
    ax.set_title("Every gradient entry, hand vs tape")
    ax.legend(fontsize=8)
    return _common.save_figure(fig, out_dir, "gradients_hand_vs_tape.png")


# %% [markdown]
# ## The whole lesson


# %%
def run(quick: bool = False, output_dir: Path | str | None = None) -> dict[str, Any]:
    """Run the lesson; return its findings (also printed)."""
    out_dir = _common.output_dir("02_rnn_from_scratch", output_dir)
    hidden, steps, lr = (8, 300, 1e-2) if quick else (16, 2000, 1e-2)
    xs, targets, x_keras = make_data()
    start = numpy_rnn.init_params(n_in=1, n_hidden=hidden, n_out=1, seed=0)

    _common.heading("Hand-written BPTT vs finite differences (NumPy, float64)")
    small = slice(0, 20)  # 20 samples keep the 2 x (number of weights) forward passes fast
    fd_diff = check_against_finite_differences(start, xs[:, small], targets[small])
    _common.show("max |BPTT - finite differences|", fd_diff)

    _common.heading("Hand-written BPTT vs tf.GradientTape on our SimpleRNN")
    comparison = compare_gradients(start, xs, targets, x_keras)
    for name, diff in comparison["max_abs_diff"].items():
        _common.show(f"max |d{name} hand - tape|", diff)
    _common.show("largest gradient entry (for scale)", comparison["grad_scale"])

    _common.heading(f"Training both for {steps} steps (Adam lr {lr}, clip global norm 1)")
    np_params = {k: v.astype("float32").astype("float64") for k, v in start.items()}
    np_losses = numpy_rnn.train(np_params, xs, targets, steps=steps, lr=lr, clip_norm=1.0)
    np_error = mean_error_pct(numpy_rnn.predict(np_params, xs), targets)
    model, tf_losses = train_keras(start, x_keras, targets, steps=steps, lr=lr)
    tf_predictions = model(x_keras).numpy()
    tf_error = mean_error_pct(tf_predictions, targets)
    _common.show("NumPy: first / final MSE", f"{np_losses[0]:.4g} / {np_losses[-1]:.3g}")
    _common.show("Keras: first / final MSE", f"{tf_losses[0]:.4g} / {tf_losses[-1]:.3g}")
    _common.show("NumPy mean error, % of amplitude", np_error)
    _common.show("Keras mean error, % of amplitude", tf_error)
    _common.show("the article's mean error, %", ARTICLE_MEAN_ERROR_PCT)

    _common.heading("Plots")
    plots = [
        plot_losses(np_losses, tf_losses, out_dir),
        plot_predictions(tf_predictions, targets, out_dir),
        plot_gradients(comparison, out_dir),
    ]
    return {
        "hidden": hidden,
        "steps": steps,
        "finite_difference_max_abs_diff": fd_diff,
        "grad_max_abs_diff": comparison["max_abs_diff"],
        "grad_scale": comparison["grad_scale"],
        "numpy_losses": np_losses,
        "keras_losses": tf_losses,
        "numpy_mean_error_pct": np_error,
        "keras_mean_error_pct": tf_error,
        "article_mean_error_pct": ARTICLE_MEAN_ERROR_PCT,
        "plots": plots,
    }


def main(argv: list[str] | None = None) -> int:
    args = _common.parse_args("02_rnn_from_scratch", "Lesson 2: a vanilla RNN from scratch.", argv)
    run(quick=args.quick, output_dir=args.output_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
