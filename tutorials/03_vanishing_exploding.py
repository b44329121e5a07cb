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
# # Lesson 3: vanishing and exploding gradients
#
# Unroll a recurrent net over T steps and backpropagation through time multiplies by the
# recurrent Jacobian dh_t/dh_{t-1} once per step. In the scalar StatQuest case, with feedback
# weight w2 and no squashing, the first input reaches the last output scaled by w2^T:
#
#     w2 = 2   over 50 steps: 2^50   = 1,125,899,906,842,624      (explodes)
#     w2 = 0.5 over 50 steps: 0.5^50 = 8.9e-16                    (vanishes)
#
# Part 1 measures exactly this with GradientTape on our `SimpleRNN`. Part 2 measures
# d(last output)/d(input at step t) for SimpleRNN, LSTM and GRU over 200+ steps, on a log
# scale. Part 3 trains a net whose gradients explode, with and without gradient clipping.
#
# Run: `python tutorials/03_vanishing_exploding.py [--quick]` or `keras-rnn tutorial 3`.

# %%
from __future__ import annotations

from pathlib import Path
from typing import Any

import _common
import keras
import numpy as np
import tensorflow as tf

from keras_rnn import GRU, LSTM, SimpleRNN
from keras_rnn.training import Trainer

SCALAR_STEPS = 50


# %% [markdown]
# ## Settings
# `QUICK` is True in a notebook and with `--quick` (200 steps, 16 units, 4 epochs); set it
# to False for the full lesson (400 steps, 32 units, 20 epochs).

# %%
ARGS = _common.parse_args("03_vanishing_exploding", "Lesson 3: vanishing and exploding gradients.")
QUICK, OUT_DIR = ARGS.quick, ARGS.output_dir
STEPS, UNITS, BATCH, EPOCHS = (200, 16, 4, 4) if QUICK else (400, 32, 32, 20)
FINDINGS: dict[str, Any] = {"steps": STEPS, "plots": []}


# %% [markdown]
# ## Part 1: the scalar case, exactly
#
# A one-unit linear RNN (`activation=None`, no bias) with input weight w1 = 1 and recurrent
# weight w2: h_t = x_t + w2 h_{t-1}, so the last output is sum_t w2^(T-t) x_t and
# d h_T / d x_t = w2^(T-t). With T = 51 inputs the first one is 50 steps back. Powers of two
# are exact in floating point, so the tape must give exactly 2^50 and 0.5^50.


# %%
def scalar_gradients(w2: float, steps: int = SCALAR_STEPS) -> np.ndarray:
    """d h_T / d x_t for t = T-steps .. T, as measured by the tape; index = distance T - t."""
    layer = SimpleRNN(1, activation=None, use_bias=False)
    layer.build((None, steps + 1, 1))
    layer.set_weights([np.ones((1, 1)), np.full((1, 1), w2)])
    x = tf.ones((1, steps + 1, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        last = layer(x)
    return tape.gradient(last, x).numpy()[0, ::-1, 0].astype("float64")


# %%
_common.heading(f"Part 1: scalar RNN over {SCALAR_STEPS} steps")
scalar = {w2: scalar_gradients(w2) for w2 in (2.0, 0.5)}
for w2, g in scalar.items():
    exact = w2**SCALAR_STEPS
    measured = float(g[SCALAR_STEPS])
    _common.show(
        f"w2 = {w2}: tape d h_T / d x_(T-50)",
        f"{measured!r}, exact {exact!r}, equal: {measured == exact}",
    )
FINDINGS.update(
    scalar_gradients={w2: g.tolist() for w2, g in scalar.items()},
    two_pow_50=float(scalar[2.0][SCALAR_STEPS]),
    half_pow_50=float(scalar[0.5][SCALAR_STEPS]),
)


# %% [markdown]
# ## Part 2: SimpleRNN, LSTM and GRU over 200+ steps
#
# For random input sequences and a random unit direction v we take the gradient of
# v . h_T (the last output) with respect to every input x_t and plot its norm against the
# distance T - t (median over the batch). First with Keras's default initialisation, then with
# the gates biased towards *remembering*: the LSTM's forget gate (f = sigmoid(5) = 0.993) and
# the GRU's update gate (z = 0.993 keeps 99.3% of the old state). The LSTM's cell path has
# dc_t/dc_{t-1} = f, element-wise, with no matrix product: when f is near 1 the gradient
# travels hundreds of steps (the "gradient highway"). The vanilla RNN has no such path: every
# step multiplies by diag(1 - h_t^2) Wh, and the signal dies within a few dozen steps.

# %%
REMEMBER_BIAS = 5.0


def bias_gates_to_remember(layer: keras.layers.Layer, units: int) -> None:
    """Set the LSTM forget-gate or GRU update-gate bias to REMEMBER_BIAS (gate order as Keras)."""
    kernel, recurrent, bias = layer.get_weights()
    if isinstance(layer, LSTM):  # blocks i, f, c, o
        bias[units : 2 * units] = REMEMBER_BIAS
    else:  # GRU blocks z, r, h; with reset_after the bias is (2, 3u): input and recurrent rows
        bias = bias.reshape(-1, 3 * units)
        bias[:, :units] = 0.0
        bias[0, :units] = REMEMBER_BIAS
    layer.set_weights([kernel, recurrent, bias.reshape(layer.get_weights()[2].shape)])


def gradient_norms(
    layer_cls: type, steps: int, features: int, units: int, batch: int, remember: bool, seed: int
) -> np.ndarray:
    """Median over the batch of |d(v . h_T) / d x_t|; index = distance T - t (0 = last input)."""
    keras.utils.set_random_seed(seed)
    layer = layer_cls(units)
    layer.build((None, steps, features))
    if remember:
        bias_gates_to_remember(layer, units)
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.normal(size=(batch, steps, features)).astype("float32"))
    v = rng.normal(size=(batch, units))
    v = tf.constant((v / np.linalg.norm(v, axis=1, keepdims=True)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        projected = tf.reduce_sum(layer(x) * v)
    grads = tape.gradient(projected, x).numpy()
    return np.median(np.linalg.norm(grads, axis=2), axis=0)[::-1]


# %%
_common.heading(f"Part 2: |d(last output)/d(input t steps back)|, T = {STEPS}")
norms: dict[str, np.ndarray] = {}
for layer_cls in (SimpleRNN, LSTM, GRU):
    norms[f"{layer_cls.__name__} (default init)"] = gradient_norms(
        layer_cls, STEPS, 8, UNITS, BATCH, remember=False, seed=0
    )
for layer_cls in (LSTM, GRU):
    norms[f"{layer_cls.__name__} (gates biased to remember)"] = gradient_norms(
        layer_cls, STEPS, 8, UNITS, BATCH, remember=True, seed=0
    )
print(f"  {'':40s}" + "".join(f"{d:>10d}" for d in (0, 10, 50, 100, STEPS - 1)))
for label, values in norms.items():
    print(f"  {label:40s}" + "".join(f"{values[d]:10.1e}" for d in (0, 10, 50, 100, STEPS - 1)))
FINDINGS["gradient_norms"] = {k: v.tolist() for k, v in norms.items()}


# %% [markdown]
# ## Part 3: exploding gradients and clipping
#
# A linear RNN whose recurrent matrix is orthogonal times 1.05 (all its eigenvalues have
# modulus 1.05, and 1.05^50 = 11.5) learns the sum of the last 10 of 50 inputs. Plain SGD
# takes a step of learning-rate x gradient: the first gradients have norms in the thousands,
# the step overshoots and the loss becomes inf, then NaN. Clipping by global norm rescales the
# gradient to length <= 1 (keeping its direction) and the same net trains. Both runs use our
# `Trainer` and SGD with learning rate 0.03; `clip_norm=None` switches clipping off. For scale:
# always answering 0 gives MSE = Var(sum of 10 uniforms on [-1, 1]) = 10/3.


# %%
def exploding_task(n: int, steps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, steps, 1)).astype("float32")
    return x, x[:, -10:, 0].sum(axis=1, keepdims=True)


def train_clipped_or_not(
    clip_norm: float | None, epochs: int, seed: int = 0, learning_rate: float = 0.03
) -> dict[str, Any]:
    steps, batch = 50, 32
    x, y = exploding_task(256, steps, seed)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(shape=(steps, 1)),
            SimpleRNN(
                16,
                activation=None,
                recurrent_initializer=keras.initializers.Orthogonal(gain=1.05, seed=seed),
            ),
            keras.layers.Dense(1),
        ]
    )
    trainer = Trainer(
        model, "mse", keras.optimizers.SGD(learning_rate), clip_norm=clip_norm, verbose=0, seed=seed
    )
    history = trainer.fit(dataset, epochs=epochs)
    losses = [float(v) for v in history.history["loss"]]
    finite = [v for v in losses if np.isfinite(v)]
    nonfinite = [i for i, v in enumerate(history.step_grad_norms) if not np.isfinite(v)]
    return {
        "clip_norm": clip_norm,
        "epoch_losses": losses,
        "step_grad_norms": [float(v) for v in history.step_grad_norms],
        "final_loss": losses[-1],
        "diverged": not np.isfinite(losses[-1]),
        "first_grad_norm": float(history.step_grad_norms[0]),
        "first_nonfinite_step": nonfinite[0] if nonfinite else None,
        "best_finite_loss": min(finite) if finite else float("nan"),
    }


# %%
_common.heading("Part 3: training with and without gradient clipping (answering 0: MSE 3.33)")
runs = [train_clipped_or_not(None, EPOCHS), train_clipped_or_not(1.0, EPOCHS)]
for run_ in runs:
    label = "no clipping" if run_["clip_norm"] is None else f"clip_norm={run_['clip_norm']}"
    _common.show(
        label,
        f"first grad norm {run_['first_grad_norm']:.3g}, NaN from step "
        f"{'never' if run_['first_nonfinite_step'] is None else run_['first_nonfinite_step']}"
        " (counting from 0); loss by epoch "
        + ", ".join(f"{v:.3g}" for v in run_["epoch_losses"][:6])
        + (" ..." if len(run_["epoch_losses"]) > 6 else "")
        + f"; final {run_['final_loss']:.3g}",
    )
FINDINGS["clipping"] = {"none": runs[0], "clip_norm_1": runs[1]}


# %% [markdown]
# ## Plots


# %%
def plot_scalar(grads: dict[float, np.ndarray], out_dir: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    n = np.arange(SCALAR_STEPS + 1)
    for w2, g in grads.items():
        ax.semilogy(n, g, "o", ms=4, label=f"tape, w2 = {w2}")
        ax.semilogy(n, float(w2) ** n, "k:", lw=1)
    ax.set_xlabel("distance T - t (steps back)")
    ax.set_ylabel("d h_T / d x_t")
    ax.set_title("Scalar RNN: the gradient is w2^distance (dotted: exact)")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    return _common.save_figure(fig, out_dir, "scalar_powers.png")


def plot_norms(norms: dict[str, np.ndarray], out_dir: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, values in norms.items():
        style = "--" if "remember" in label else "-"
        shown = np.where(values > 0, values, np.nan)  # log scale: exact zeros (underflow) off
        ax.semilogy(np.arange(len(values)), shown, style, label=label)
    ax.set_xlabel("distance T - t (steps back from the last output)")
    ax.set_ylabel("median |d(v . h_T) / d x_t|")
    ax.set_title("How far back does the gradient reach?")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return _common.save_figure(fig, out_dir, "gradient_norm_vs_distance.png")


def plot_clipping(runs: list[dict[str, Any]], out_dir: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for run_ in sorted(runs, key=lambda r: r["clip_norm"] is None):  # unclipped drawn on top
        unclipped = run_["clip_norm"] is None
        label = "no clipping" if unclipped else f"clip_norm={run_['clip_norm']}"
        style = (
            {"marker": "x", "ms": 8, "color": "tab:red"}
            if unclipped
            else {"marker": "o", "ms": 3, "color": "tab:blue"}
        )
        norms = np.array(run_["step_grad_norms"])
        left.semilogy(np.where(np.isfinite(norms), norms, np.nan), label=label, **style)
        if run_["first_nonfinite_step"] is not None:
            left.annotate(
                f"{label}: NaN from step {run_['first_nonfinite_step']}",
                xy=(0.3, 0.6),
                xycoords="axes fraction",
                color="tab:red",
            )
        losses = np.array(run_["epoch_losses"])
        right.semilogy(
            np.arange(1, len(losses) + 1),
            np.where(np.isfinite(losses), losses, np.nan),
            label=label,
            **style,
        )
    left.set_xlabel("training step")
    left.set_ylabel("global gradient norm (before clipping)")
    left.set_title("Gradient norms")
    right.set_xlabel("epoch")
    right.set_ylabel("training MSE (missing = inf/NaN)")
    right.set_title("Loss")
    for ax in (left, right):
        ax.legend()
        ax.grid(True, which="both", alpha=0.3)
    return _common.save_figure(fig, out_dir, "clipping.png")


# %%
FINDINGS["plots"] = [
    plot_scalar(scalar, OUT_DIR),
    plot_norms(norms, OUT_DIR),
    plot_clipping(runs, OUT_DIR),
]

# %%
_common.finish(FINDINGS["two_pow_50"] == 2.0**50, FINDINGS, __name__)
