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
# # Lesson 4: long-range memory, where the vanilla RNN gives up
#
# "I grew up in **France** ... (many words) ... therefore, I speak fluent **French**." The
# answer depends on a word far back. Lesson 3 showed why a vanilla RNN struggles: its
# gradient shrinks by a factor at every step, so the learning signal from "French" never
# reaches "France". The LSTM's cell state (and the GRU's update gate) give the gradient a path
# with no matrix product in it.
#
# We make the example synthetic and measure it, training SimpleRNN, LSTM and GRU (same
# width, same optimiser, same number of steps) at increasing **distances**:
#
# 1. **The France task.** A sequence starts with one of four countries, then `distance - 1`
#    filler words, then the word "speak"; the answer is the country's language (chance: 25%).
#    Every word arrives as a one-hot vector blurred with Gaussian noise (sigma 0.3): the words
#    in between carry something, and the net cannot simply switch its input off. A vanilla RNN
#    must add every input into its state; an LSTM/GRU can learn *not to write* (input/update
#    gate closed) until "speak".
# 2. **The adding problem** (Hochreiter & Schmidhuber 1997). Each step has a random value in
#    [0, 1] and a marker; two steps are marked, the first within the first 10% of the
#    sequence, the second in its second half; the answer is the sum of the two marked values.
#    Always answering 1 gives MSE 1/6 = 0.167: anything near that learned nothing.
#
# The LSTM and GRU start with their gates biased to remember (forget/update-gate bias 3, the
# trick from lesson 3; Keras's `unit_forget_bias` does the same with 1). The vanilla RNN has
# no gate to bias. All three train with our `Trainer` (Adam, gradients clipped at norm 1).
#
# Run: `python tutorials/04_long_range_memory.py [--quick]` or `keras-rnn tutorial 4`.
# The full run takes several minutes on a laptop CPU (8-17 minutes on our shared 2-core
# machine); the quick run (the default in a notebook) trains 120 steps per run: enough to
# see the code work, **too few to judge which cell remembers** (at 120 steps the ranking
# can come out either way). The quick plot therefore also draws the full run's measured
# scores, dashed, for comparison.

# %%
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import _common
import keras
import numpy as np
import tensorflow as tf

from keras_rnn import GRU, LSTM, SimpleRNN
from keras_rnn.training import Trainer

COUNTRIES = ["France", "Spain", "Germany", "Italy"]
LANGUAGES = ["French", "Spanish", "German", "Italian"]
N_FILLERS = 16
VOCAB = len(COUNTRIES) + N_FILLERS + 1  # countries, filler words, "speak"
SPEAK = VOCAB - 1
NOISE = 0.3
CHANCE = 1 / len(COUNTRIES)
ADDING_BASELINE = 1 / 6  # MSE of always answering 1 = Var(U + U')
REMEMBER_BIAS = 3.0
CELLS = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}


@dataclass
class Settings:
    france_distances: tuple[int, ...]
    adding_distances: tuple[int, ...]
    steps: int  # training steps per run
    units: int
    batch: int = 64
    learning_rate: float = 3e-3
    test_size: int = 1000


QUICK_SETTINGS = Settings(france_distances=(5, 15), adding_distances=(10,), steps=120, units=16)
FULL_SETTINGS = Settings(
    france_distances=(10, 30, 60, 100), adding_distances=(25, 50, 100, 200), steps=1500, units=32
)


# The full run's scores, as measured (docs/tutorials.md, seed 0): the quick plot draws them.
FULL_RUN_MEASURED = {
    "france": {
        "SimpleRNN": {10: 0.969, 30: 0.934, 60: 0.260, 100: 0.254},
        "LSTM": {10: 0.969, 30: 0.970, 60: 0.952, 100: 0.957},
        "GRU": {10: 0.970, 30: 0.975, 60: 0.956, 100: 0.974},
    },
    "adding": {
        "SimpleRNN": {25: 0.0072, 50: 0.0444, 100: 0.1668, 200: 0.1693},
        "LSTM": {25: 0.0009, 50: 0.0019, 100: 0.0031, 200: 0.1685},
        "GRU": {25: 0.0004, 50: 0.0004, 100: 0.0003, 200: 0.0002},
    },
}

# %% [markdown]
# ## Settings
# `QUICK` is True in a notebook and with `--quick`; set it to False for the full run.

# %%
ARGS = _common.parse_args("04_long_range_memory", "Lesson 4: long-range memory.")
QUICK, OUT_DIR = ARGS.quick, ARGS.output_dir
SETTINGS = QUICK_SETTINGS if QUICK else FULL_SETTINGS
FINDINGS: dict[str, Any] = {
    "settings": asdict(SETTINGS),
    "chance": CHANCE,
    "adding_baseline": ADDING_BASELINE,
}
print(SETTINGS)

# %% [markdown]
# ## The two tasks as data
#
# Each returns `(x, y)` for `n` fresh random sequences. `x` is `(n, T, features)` floats.


# %%
def france_task(
    n: int, distance: int, rng: np.random.Generator, noise: float = NOISE
) -> tuple[np.ndarray, np.ndarray]:
    """x: (n, distance + 1, VOCAB) noisy one-hot words; y: (n,) index of the language.

    With sigma 0.3 over 21 dimensions the noise now and then blurs the country into another
    one, so even a perfect memory scores about 97%, not 100%.
    """
    words = rng.integers(len(COUNTRIES), len(COUNTRIES) + N_FILLERS, size=(n, distance + 1))
    country = rng.integers(0, len(COUNTRIES), size=n)
    words[:, 0] = country  # "I grew up in <country>" ...
    words[:, -1] = SPEAK  # ... "therefore, I speak fluent ___"
    x = np.eye(VOCAB, dtype="float32")[words]
    x += noise * rng.normal(size=x.shape).astype("float32")
    return x, country.astype("int32")


def adding_task(n: int, distance: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """x: (n, distance, 2) = (value, marker); y: (n, 1) sum of the two marked values."""
    values = rng.uniform(0, 1, size=(n, distance))
    markers = np.zeros((n, distance))
    first = rng.integers(0, max(1, distance // 10), size=n)
    second = rng.integers(distance // 2, distance, size=n)
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    y = values[rows, first] + values[rows, second]
    return np.stack([values, markers], axis=-1).astype("float32"), y[:, None].astype("float32")


# %%
x_peek, y_peek = france_task(3, 6, np.random.default_rng(0), noise=0.0)
print("three France sentences of distance 6, as word ids:", np.argmax(x_peek, axis=2).tolist())
print("their answers (language ids):", y_peek.tolist())


# %% [markdown]
# ## One run: build, train, measure
#
# Fresh sequences every epoch (the data is a function of the epoch, so a run is repeatable),
# a held-out test set of 1000 sequences for the figure we report.


# %%
def bias_gates_to_remember(layer: keras.layers.Layer, units: int) -> None:
    """LSTM forget-gate / GRU update-gate bias := REMEMBER_BIAS (Keras gate order)."""
    kernel, recurrent, bias = layer.get_weights()
    shape = bias.shape
    if isinstance(layer, LSTM):  # blocks i, f, c, o
        bias[units : 2 * units] = REMEMBER_BIAS
    else:  # GRU blocks z, r, h; reset_after=True gives a (2, 3u) bias
        bias = bias.reshape(-1, 3 * units)
        bias[:, :units] = 0.0
        bias[0, :units] = REMEMBER_BIAS
    layer.set_weights([kernel, recurrent, bias.reshape(shape)])


def train_one(
    task: str, cell: str, distance: int, settings: Settings, seed: int = 0
) -> dict[str, float]:
    make: Callable = france_task if task == "france" else adding_task
    features = VOCAB if task == "france" else 2
    keras.utils.set_random_seed(seed)
    layer = CELLS[cell](settings.units)
    head = keras.layers.Dense(len(COUNTRIES) if task == "france" else 1)
    model = keras.Sequential([keras.Input(shape=(None, features)), layer, head])
    if cell != "SimpleRNN":
        bias_gates_to_remember(layer, settings.units)
    if task == "france":
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    else:
        loss = keras.losses.MeanSquaredError()

    per_epoch = 16  # batches per epoch
    epochs = max(1, settings.steps // per_epoch)

    def epoch_data(epoch: int) -> tf.data.Dataset:
        rng = np.random.default_rng([seed, distance, epoch])
        x, y = make(per_epoch * settings.batch, distance, rng)
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(settings.batch)

    trainer = Trainer(
        model, loss, keras.optimizers.Adam(settings.learning_rate), clip_norm=1.0, verbose=0
    )
    start = time.perf_counter()
    history = trainer.fit(epoch_data, epochs=epochs)
    seconds = time.perf_counter() - start

    x_test, y_test = make(
        settings.test_size, distance, np.random.default_rng([seed, distance, 10**6])
    )
    predictions = model.predict(x_test, batch_size=250, verbose=0)
    if task == "france":
        score = float(np.mean(np.argmax(predictions, axis=1) == y_test))
    else:
        score = float(np.mean((predictions - y_test) ** 2))
    return {"score": score, "train_loss": float(history.history["loss"][-1]), "seconds": seconds}


# %% [markdown]
# Train every cell at every distance (this is the long step). Change `SETTINGS` (e.g.
# `SETTINGS = Settings(france_distances=(20,), adding_distances=(), steps=400, units=16)`)
# and run it again.

# %%
results: dict[str, Any] = {"france": {}, "adding": {}, "seconds": {}}
for task, distances in (
    ("france", SETTINGS.france_distances),
    ("adding", SETTINGS.adding_distances),
):
    measure = "accuracy" if task == "france" else "MSE"
    _common.heading(
        f"{task}: test {measure} vs distance ({SETTINGS.steps} steps, {SETTINGS.units} units)"
    )
    print(f"  {'distance':>10s}" + "".join(f"{cell:>12s}" for cell in CELLS))
    for cell in CELLS:
        results[task][cell] = {}
    for distance in distances:
        row = []
        for cell in CELLS:
            run_ = train_one(task, cell, distance, SETTINGS)
            results[task][cell][distance] = run_["score"]
            results["seconds"][f"{task}/{cell}/{distance}"] = run_["seconds"]
            row.append(f"{run_['score']:12.4f}")
        print(f"  {distance:>10d}" + "".join(row), flush=True)
FINDINGS.update(results)


# %% [markdown]
# ## Verdicts
#
# France: *works* at accuracy >= 90%, *fails* below 50% (chance is 25%).
# Adding: *works* at MSE <= 0.1 x 1/6 (explains 90% of the variance), *fails* at
# MSE >= 0.5 x 1/6.


# %%
def verdict(task: str, score: float) -> str:
    if task == "france":
        return "works" if score >= 0.9 else "fails" if score < 0.5 else "partly"
    return (
        "works"
        if score <= 0.1 * ADDING_BASELINE
        else "fails"
        if score >= 0.5 * ADDING_BASELINE
        else "partly"
    )


def first_vanilla_failure(task: str, scores: dict[str, dict[int, float]]) -> dict[str, Any]:
    """The shortest distance where SimpleRNN fails, and how the gated cells do there."""
    for distance, score in sorted(scores["SimpleRNN"].items()):
        if verdict(task, score) == "fails":
            return {
                "distance": distance,
                "SimpleRNN": score,
                "LSTM": scores["LSTM"][distance],
                "GRU": scores["GRU"][distance],
                "gated_work": {
                    cell: verdict(task, scores[cell][distance]) == "works"
                    for cell in ("LSTM", "GRU")
                },
            }
    return {"distance": None}


# %%
_common.heading("Where the vanilla RNN gives up")
if QUICK:
    print(
        f"  (quick run: {SETTINGS.steps} steps per run are too few to judge which cell "
        "remembers longer; whatever order the scores above come in, read the full run's, "
        "dashed in the plot below)"
    )
failures = {task: first_vanilla_failure(task, results[task]) for task in ("france", "adding")}
for task, failure in failures.items():
    if failure["distance"] is None:
        _common.show(task, "SimpleRNN did not fail at the distances tried")
    else:
        _common.show(
            task,
            f"SimpleRNN fails from distance {failure['distance']} "
            f"({failure['SimpleRNN']:.3g}); there LSTM {failure['LSTM']:.3g}, "
            f"GRU {failure['GRU']:.3g}",
        )
_common.show("training time, all runs (s)", sum(results["seconds"].values()))
FINDINGS["failures"] = failures


# %% [markdown]
# ## Plot: score vs distance


# %%
def plot_scores(results: dict[str, Any], out_dir: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    colours = {"SimpleRNN": "tab:blue", "LSTM": "tab:orange", "GRU": "tab:green"}
    for cell, scores in results["france"].items():
        left.plot(list(scores), list(scores.values()), "o-", c=colours[cell], label=cell)
        if QUICK:
            full = FULL_RUN_MEASURED["france"][cell]
            left.plot(list(full), list(full.values()), "--", c=colours[cell], alpha=0.5,
                      label=f"{cell}, full run (measured)")  # fmt: skip
    left.axhline(CHANCE, color="gray", ls=":", label="chance (25%)")
    left.set_xlabel("distance from 'France' to 'speak' (steps)")
    left.set_ylabel("test accuracy")
    left.set_ylim(0, 1.05)
    left.set_title("France task: which language?")
    for cell, scores in results["adding"].items():
        right.semilogy(list(scores), list(scores.values()), "o-", c=colours[cell], label=cell)
        if QUICK:
            full = FULL_RUN_MEASURED["adding"][cell]
            right.semilogy(list(full), list(full.values()), "--", c=colours[cell], alpha=0.5,
                           label=f"{cell}, full run (measured)")  # fmt: skip
    right.axhline(ADDING_BASELINE, color="gray", ls=":", label="always 1 (MSE 1/6)")
    right.set_xlabel("sequence length T (first marker in the first 10%)")
    right.set_ylabel("test MSE")
    right.set_title("Adding problem")
    for ax in (left, right):
        ax.legend(fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    return _common.save_figure(fig, out_dir, "score_vs_distance.png")


# %%
FINDINGS["plots"] = [plot_scores(results, OUT_DIR)]

# %% [markdown]
# ## What the course says, and what we measured
#
# **"A vanilla RNN learns dependencies of only about 5-10 steps."** Here the SimpleRNN
# answered the France task at distance 30 with 93.4% (the gated cells: 97%), and failed
# only from distance 60. The claim is a rule of thumb from older work (tanh units, plain
# SGD, no clipping, small random recurrent weights); ours starts from an orthogonal recurrent
# matrix (Keras's default), trains with Adam and clipping, and the task is easy to remember
# (one of four countries, a strong one-hot input, 32 units). The vanishing itself is real
# (lesson 3: the gradient shrinks ~10^-7 over 50 steps), it just sets in later than 10 steps.
#
# **"LSTMs can bridge time lags of over 1000 steps."** Our LSTM solved the adding problem at
# T = 100 but stayed at the baseline at T = 200 within 1500 steps, while the GRU solved it.
# Hochreiter & Schmidhuber's 1000-step results trained on far more sequences than ours,
# with an LSTM that had no forget gate (its cell path then does not decay at all), on tasks
# built for it. Ours trains 1500 steps of 64 sequences, and its forget gate, biased to 3
# (sigmoid(3) = 0.953), starts by multiplying the memory by 0.953^200 ~ 6e-5 over 200 steps:
# it must *learn* to open fully before the gradient from the answer reaches the first
# marker. The GRU, with its update gate biased the same way, got there in this budget and
# the LSTM did not; that is one run (seed 0), not a law about either cell. What we can say:
# "over 1000 steps" is a statement about what an LSTM can represent and, with enough data
# and steps, learn; within a small fixed budget the measured reach here was 100 to 200.
#
# **"The GRU is an LSTM without the output gate"** (as the lecture puts it). Not quite, and
# lesson 5 prints the equations: the GRU has no separate cell state (h is the memory), its
# update gate z replaces *both* the forget and the input gate with one coupled pair
# (h_t = z h_{t-1} + (1 - z) h~, so forgetting and writing always sum to 1), and it has a
# reset gate r inside the candidate, which the LSTM does not have. Dropping the output gate
# is one of three differences.

# %%
_common.finish(True, FINDINGS, __name__)
