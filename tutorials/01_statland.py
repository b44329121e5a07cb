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
# # Lesson 1: StatLand, the smallest recurrent network
#
# In StatLand (the StatQuest example) stock prices come in three levels, scaled so that
# **low = 0**, **medium = 0.5** and **high = 1**. We want a network that looks at the last
# days and predicts tomorrow:
#
# | yesterday | today  | tomorrow |
# |-----------|--------|----------|
# | low       | low    | low      |
# | low       | medium | high     |
# | high      | medium | low      |
# | high      | high   | high     |
#
# A feed-forward net wants a fixed number of inputs, but one company has traded for 9 days
# and another for 5. A recurrent net reads **any number of days with the same weights**: one
# ReLU unit with input weight `w1`, feedback (recurrent) weight `w2` and bias `b1`, then an
# output weight `w3` and bias `b2`:
#
#     h_t = ReLU(w1 * x_t + w2 * h_{t-1} + b1),   h_0 = 0
#     y   = w3 * h_T + b2
#
# This lesson shows that (1) the looped Keras layer and the hand-unrolled picture are the
# same computation, (2) one set of weights answers all four scenarios, (3) GradientTape finds
# such weights from random ones, and (4) the parameter count does not depend on the number of
# days, so padded batches of different lengths work.
#
# Run: `python tutorials/01_statland.py [--quick] [--output-dir DIR]` or
# `keras-rnn tutorial statland`.

# %%
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import _common
import keras
import numpy as np
import tensorflow as tf

from keras_rnn import SimpleRNN

LOW, MEDIUM, HIGH = 0.0, 0.5, 1.0
LEVELS = {"low": LOW, "medium": MEDIUM, "high": HIGH}
SCENARIOS = {  # (yesterday, today) -> tomorrow
    ("low", "low"): "low",
    ("low", "medium"): "high",
    ("high", "medium"): "low",
    ("high", "high"): "high",
}
# The weights StatQuest shows for this example.
STATQUEST_WEIGHTS = {"w1": 1.8, "w2": -0.5, "b1": 0.0, "w3": 1.1, "b2": 0.0}

# %% [markdown]
# ## Settings
#
# `QUICK` is True in a notebook (and with `--quick`): fewer training steps. Set it to False
# and run the cells again for the full lesson. `FINDINGS` collects what each step measured.

# %%
ARGS = _common.parse_args("01_statland", "Lesson 1: StatLand, the smallest RNN.")
QUICK, OUT_DIR = ARGS.quick, ARGS.output_dir
FINDINGS: dict[str, Any] = {}


# %% [markdown]
# ## The model: one ReLU unit, looped
#
# `SimpleRNN(1, activation="relu")` holds `w1` (kernel), `w2` (recurrent kernel) and `b1`;
# `Dense(1)` holds `w3` and `b2`. The input shape `(None, 1)` means "any number of days, one
# price per day".


# %%
def build_model() -> keras.Model:
    """One-unit ReLU RNN plus a linear output: 5 parameters whatever the number of days."""
    return keras.Sequential(
        [
            keras.Input(shape=(None, 1)),
            SimpleRNN(1, activation="relu", name="rnn"),
            keras.layers.Dense(1, name="out"),
        ]
    )


def set_weights(model: keras.Model, w: dict[str, float]) -> None:
    """Put the five scalars into the Keras layers' weight tensors."""
    model.get_layer("rnn").set_weights(
        [np.array([[w["w1"]]]), np.array([[w["w2"]]]), np.array([w["b1"]])]
    )
    model.get_layer("out").set_weights([np.array([[w["w3"]]]), np.array([w["b2"]])])


def get_weights(model: keras.Model) -> dict[str, float]:
    """The five scalars back out of the layers."""
    kernel, recurrent, bias = model.get_layer("rnn").get_weights()
    w3, b2 = model.get_layer("out").get_weights()
    return {
        "w1": float(kernel[0, 0]),
        "w2": float(recurrent[0, 0]),
        "b1": float(bias[0]),
        "w3": float(w3[0, 0]),
        "b2": float(b2[0]),
    }


# %%
model = build_model()
model.summary()
FINDINGS["n_params"] = int(model.count_params())


# %% [markdown]
# ## Unrolling by hand
#
# Unrolled for two days (yesterday `x1`, today `x2`) the network is two copies of the same
# unit: the first output would be a "prediction of today" and is ignored; the second is
# tomorrow. For three days it is three copies, still with the same `w1`, `w2`, `b1`.
# Written out, with no loop:


# %%
def relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def unrolled_2_days(w: dict[str, float], x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    h1 = relu(w["w1"] * x1 + w["b1"])  # h_0 = 0, so the feedback term vanishes
    h2 = relu(w["w1"] * x2 + w["w2"] * h1 + w["b1"])
    return w["w3"] * h2 + w["b2"]


def unrolled_3_days(
    w: dict[str, float], x1: np.ndarray, x2: np.ndarray, x3: np.ndarray
) -> np.ndarray:
    h1 = relu(w["w1"] * x1 + w["b1"])
    h2 = relu(w["w1"] * x2 + w["w2"] * h1 + w["b1"])
    h3 = relu(w["w1"] * x3 + w["w2"] * h2 + w["b1"])
    return w["w3"] * h3 + w["b2"]


def compare_loop_and_unrolled(model: keras.Model, w: dict[str, float]) -> dict[int, float]:
    """Max |layer - hand-unrolled| over every low/medium/high sequence of 2 and of 3 days."""
    set_weights(model, w)
    w32 = {k: np.float32(v) for k, v in w.items()}  # the layer computes in float32
    diffs = {}
    for days, unrolled in ((2, unrolled_2_days), (3, unrolled_3_days)):
        seqs = np.array(list(itertools.product(LEVELS.values(), repeat=days)), dtype="float32")
        looped = model(seqs[:, :, None]).numpy()[:, 0]
        by_hand = unrolled(w32, *seqs.T)
        diffs[days] = float(np.max(np.abs(looped - by_hand)))
    return diffs


# %%
_common.heading("Looped layer vs hand-unrolled, StatQuest weights")
unroll_diffs = compare_loop_and_unrolled(model, STATQUEST_WEIGHTS)
for days, diff in unroll_diffs.items():
    _common.show(f"max |layer - unrolled| over all {3**days} sequences of {days} days", diff)
FINDINGS["unroll_max_abs_diff"] = unroll_diffs


# %% [markdown]
# ## Answering the four scenarios
#
# A prediction "answers" a scenario when the nearest price level to it is the right one.


# %%
def nearest_level(value: float) -> str:
    return min(LEVELS, key=lambda name: abs(LEVELS[name] - value))


def scenario_inputs() -> tuple[np.ndarray, np.ndarray]:
    """x (4, 2, 1): the two days of each scenario; y (4, 1): tomorrow."""
    x = np.array([[LEVELS[a], LEVELS[b]] for a, b in SCENARIOS], dtype="float32")[:, :, None]
    y = np.array([[LEVELS[t]] for t in SCENARIOS.values()], dtype="float32")
    return x, y


def answer_scenarios(model: keras.Model) -> dict[str, Any]:
    x, _ = scenario_inputs()
    predictions = model(x).numpy()[:, 0]
    rows = {}
    for (days, target), value in zip(SCENARIOS.items(), predictions, strict=True):
        rows[f"{days[0]},{days[1]}"] = {
            "prediction": float(value),
            "answer": nearest_level(float(value)),
            "expected": target,
        }
    return {"rows": rows, "all_correct": all(r["answer"] == r["expected"] for r in rows.values())}


def print_answers(answers: dict[str, Any]) -> None:
    for days, row in answers["rows"].items():
        mark = "ok" if row["answer"] == row["expected"] else "WRONG"
        print(
            f"  {days:<12} -> {row['prediction']:.3f} ({row['answer']}, expected "
            f"{row['expected']}) {mark}"
        )


# %%
_common.heading(f"StatQuest weights {STATQUEST_WEIGHTS}")
set_weights(model, STATQUEST_WEIGHTS)
statquest = answer_scenarios(model)
print_answers(statquest)
FINDINGS["statquest"] = statquest


# %% [markdown]
# ## Training from random weights with GradientTape
#
# The loop IS the lesson: predict, measure the mean squared error against tomorrow's level,
# ask the tape for d(loss)/d(weights), let Adam take a step, until all four are answered.
# One ReLU unit can "die" (ReLU(z) = 0 for every input, so every gradient is 0); if that
# happens we start again from new random weights.


# %%
def train_from_random(
    max_steps: int, seed: int = 1, learning_rate: float = 0.05, max_restarts: int = 5
) -> dict[str, Any]:
    x, y = scenario_inputs()
    history: list[float] = []
    for restart in range(max_restarts + 1):
        keras.utils.set_random_seed(seed + restart)
        model = build_model()
        rng = np.random.default_rng(seed + restart)
        start = {name: float(rng.uniform(-1, 1)) for name in STATQUEST_WEIGHTS}
        set_weights(model, start)
        optimizer = keras.optimizers.Adam(learning_rate)
        loss_fn = keras.losses.MeanSquaredError()

        # One compiled step. The default arguments bind this restart's model and optimizer.
        @tf.function
        def train_step(model=model, optimizer=optimizer, loss_fn=loss_fn):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss, tf.linalg.global_norm(grads)

        history = []
        for step in range(1, max_steps + 1):
            loss, grad_norm = train_step()
            history.append(float(loss))
            if step % 25 == 0 and answer_scenarios(model)["all_correct"] and float(loss) < 0.01:
                return {
                    "model": model,
                    "start": start,
                    "steps": step,
                    "restarts": restart,
                    "losses": history,
                }
            if float(grad_norm) == 0.0 and float(loss) > 0.01:
                print(f"  restart {restart + 1}: the ReLU unit died at step {step}")
                break
    return {"model": model, "start": start, "steps": None, "restarts": restart, "losses": history}


# %% [markdown]
# Train. Change the seed, the learning rate or the number of steps and run the cell again:
# some seeds find StatQuest's solution, others a mirror image, some kill the ReLU first.

# %%
_common.heading("Training from random weights with GradientTape")
result = train_from_random(max_steps=1500 if QUICK else 3000, seed=1)
trained_model = result["model"]
trained = answer_scenarios(trained_model)
learned = get_weights(trained_model)
_common.show("random start", {k: round(v, 3) for k, v in result["start"].items()})
_common.show("restarts after a dead ReLU", result["restarts"])
_common.show("steps until all four answered", result["steps"])
_common.show("learned weights", {k: round(v, 3) for k, v in learned.items()})
print_answers(trained)
trained_diffs = compare_loop_and_unrolled(build_model(), learned)
_common.show("max |layer - unrolled| with the learned weights", max(trained_diffs.values()))
FINDINGS.update(
    trained=trained,
    learned_weights=learned,
    train_steps=result["steps"],
    restarts=result["restarts"],
    final_loss=result["losses"][-1],
    unroll_max_abs_diff_learned=trained_diffs,
)

# %% [markdown]
# One seed can be lucky. Train again from several random starts: how often does it answer
# all four, after how many steps, with how many dead-ReLU restarts?

# %%
SEEDS = range(2, 6) if QUICK else range(2, 12)
by_seed = {}
for seed in SEEDS:
    run_ = train_from_random(max_steps=1500 if QUICK else 3000, seed=10 * seed)
    by_seed[seed] = {
        "all_correct": answer_scenarios(run_["model"])["all_correct"],
        "steps": run_["steps"],
        "restarts": run_["restarts"],
    }
solved = [r for r in by_seed.values() if r["all_correct"]]
steps = [r["steps"] for r in solved if r["steps"] is not None]
_common.show(f"seeds that answer all four, of {len(by_seed)}", len(solved))
if steps:
    _common.show(
        "steps until answered: median (min..max)",
        f"{np.median(steps):.0f} ({min(steps)}..{max(steps)})",
    )
_common.show("dead-ReLU restarts per seed", [r["restarts"] for r in by_seed.values()])
FINDINGS["by_seed"] = by_seed


# %% [markdown]
# ## Any number of days, one set of weights
#
# The same 5 parameters serve 2, 3 or 9 days. Two companies, one with 9 days of prices and
# one with 5, go through the net in one batch: the shorter one is padded at the end and a
# `Masking` layer tells the RNN to skip the padding, so each gets the prediction it would get
# alone.


# %%
def padded_batch_check(w: dict[str, float]) -> dict[str, Any]:
    long_company = np.array([0.0, 0.5, 0.5, 1.0, 1.0, 0.5, 0.0, 0.5, 1.0], dtype="float32")
    short_company = np.array([1.0, 1.0, 0.5, 0.5, 1.0], dtype="float32")
    masked = keras.Sequential(
        [
            keras.Input(shape=(None, 1)),
            keras.layers.Masking(mask_value=-1.0),
            SimpleRNN(1, activation="relu", name="rnn"),
            keras.layers.Dense(1, name="out"),
        ]
    )
    set_weights(masked, w)
    batch = np.full((2, 9, 1), -1.0, dtype="float32")
    batch[0, :9, 0] = long_company
    batch[1, :5, 0] = short_company
    together = masked(batch).numpy()[:, 0]
    alone = np.array(
        [
            masked(long_company[None, :, None]).numpy()[0, 0],
            masked(short_company[None, :, None]).numpy()[0, 0],
        ]
    )
    return {
        "params": int(masked.count_params()),
        "padded_vs_alone_max_abs_diff": float(np.max(np.abs(together - alone))),
        "predictions": together.tolist(),
    }


# %%
_common.heading("Any number of days, the same 5 weights")
padded = padded_batch_check(learned)
_common.show("parameters (with Masking)", padded["params"])
_common.show(
    "9-day and 5-day company, padded batch vs alone", padded["padded_vs_alone_max_abs_diff"]
)
FINDINGS["padded"] = padded


# %% [markdown]
# ## Plots: the training curve and the four answers


# %%
def plot_training(losses: list[float], out_dir: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.semilogy(losses)
    ax.set_xlabel("training step")
    ax.set_ylabel("MSE over the four scenarios")
    ax.set_title("StatLand: training from random weights")
    ax.grid(True, which="both", alpha=0.3)
    return _common.save_figure(fig, out_dir, "training_loss.png")


def plot_answers(statquest: dict[str, Any], trained: dict[str, Any], out_dir: Path) -> Path:
    import matplotlib.pyplot as plt

    labels = [key.replace(",", "\n") for key in statquest["rows"]]  # two lines: no overlap
    series = {
        "tomorrow (expected)": [LEVELS[r["expected"]] for r in statquest["rows"].values()],
        "StatQuest weights": [r["prediction"] for r in statquest["rows"].values()],
        "trained from random": [r["prediction"] for r in trained["rows"].values()],
    }
    positions = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(8, 4))
    colours = ("lightgray", "tab:blue", "tab:orange")
    for offset, colour, (name, values) in zip(
        (-0.27, 0.0, 0.27), colours, series.items(), strict=True
    ):
        bars = ax.bar(
            positions + offset, values, 0.27, label=name, color=colour, edgecolor="black", lw=0.6
        )
        # a bar of height 0 is invisible: its value, written on it, is not
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xticks(positions, labels)
    ax.set_xlabel("yesterday / today")
    ax.set_ylim(min(-0.15, ax.get_ylim()[0]), 1.25)
    ax.set_ylabel("price level (low 0, medium 0.5, high 1)")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("StatLand: tomorrow's price for the four scenarios")
    return _common.save_figure(fig, out_dir, "scenarios.png")


# %%
FINDINGS["plots"] = [
    plot_training(result["losses"], OUT_DIR),
    plot_answers(statquest, trained, OUT_DIR),
]

# %%
_common.finish(
    FINDINGS["statquest"]["all_correct"] and FINDINGS["trained"]["all_correct"],
    FINDINGS,
    __name__,
)
