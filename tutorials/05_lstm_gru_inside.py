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
# # Lesson 5: inside the LSTM and the GRU
#
# **LSTM.** One linear map of [x_t, h_{t-1}] with 4u outputs, cut into four blocks
# (Keras's order i, f, c, o):
#
#     i = sigmoid(x_t W_i + h_{t-1} U_i + b_i)     input gate: how much of g to write
#     f = sigmoid(x_t W_f + h_{t-1} U_f + b_f)     forget gate: how much of c to keep
#     g = tanh(x_t W_g + h_{t-1} U_g + b_g)        candidate values
#     o = sigmoid(x_t W_o + h_{t-1} U_o + b_o)     output gate: how much of c to show
#     c_t = f * c_{t-1} + i * g                    cell state: the long-term memory
#     h_t = o * tanh(c_t)                          hidden state: the short-term memory
#
# dc_t/dc_{t-1} = f, element-wise: when f is near 1 the cell state (and its gradient) passes
# through unchanged, the "highway" of lessons 3 and 4.
#
# **GRU.** Two gates and no separate cell state; z merges the LSTM's forget and input gates:
#
#     z = sigmoid(x_t W_z + h_{t-1} U_z + b_z)              update gate
#     r = sigmoid(x_t W_r + h_{t-1} U_r + b_r)              reset gate
#     n = tanh(x_t W_h + b_h + r * (h_{t-1} U_h + b'_h))    candidate (Keras's reset_after)
#     h_t = z * h_{t-1} + (1 - z) * n
#
# **"A GRU is an LSTM without the output gate"** (the lecture's shorthand) holds for one
# of three differences only. Put the equations side by side: (1) there is no output gate,
# h_t is shown whole; (2) there is no separate cell state, h is both memories; (3) the
# forget and input gates are *coupled* into one z: keep z of the old state and write 1 - z
# of the candidate (an LSTM may keep all and write all, f = i = 1); and (4) a reset gate r,
# which the LSTM does not have, decides how much of h_{t-1} the candidate sees. Hence 3
# blocks of weights, not 4 minus 1 = 3 by accident: z replaces f and i, r is new, o is gone.
#
# We train a small LSTM and GRU on the France task of lesson 4, recompute every gate from
# the layers' weights with the equations above in NumPy (and check that we get the layer's
# outputs), and look at them: heat-maps of the gates over a sentence, and the cell-state
# path. Then we count parameters and check the formulas.
#
# What to look for: the same sentence with each of the four countries as its first word
# sends the cell state off in four different directions at step 1, and the forget gate
# (near 1) keeps them apart until "speak": the memory of the country is the *direction* of
# c. Both cells start with their forget / update gate biased to remember (bias 3, as in
# lessons 3 and 4). From Keras's default start this 8-unit GRU was still at chance (23%)
# after 1200 steps, and whether the LSTM (forget bias 1) learned depended on its random start
# (75% accuracy in one of our full runs).
#
# Run: `python tutorials/05_lstm_gru_inside.py [--quick]` or `keras-rnn tutorial 5`.

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

COUNTRIES = ["France", "Spain", "Germany", "Italy"]
N_FILLERS = 8
VOCAB = len(COUNTRIES) + N_FILLERS + 1
SPEAK = VOCAB - 1
DISTANCE = 20
UNITS = 8

# %% [markdown]
# ## Settings
# `QUICK` is True in a notebook and with `--quick` (320 training steps); False: 1200.

# %%
ARGS = _common.parse_args("05_lstm_gru_inside", "Lesson 5: inside the LSTM and the GRU.")
QUICK, OUT_DIR = ARGS.quick, ARGS.output_dir
TRAIN_STEPS = 320 if QUICK else 1200
FINDINGS: dict[str, Any] = {}


# %% [markdown]
# ## The task (lesson 4's, smaller): a country, 19 filler words, "speak" -> the language


# %%
def france_task(
    n: int, rng: np.random.Generator, noise: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    words = rng.integers(len(COUNTRIES), len(COUNTRIES) + N_FILLERS, size=(n, DISTANCE + 1))
    country = rng.integers(0, len(COUNTRIES), size=n)
    words[:, 0] = country
    words[:, -1] = SPEAK
    x = np.eye(VOCAB, dtype="float32")[words] + noise * rng.normal(size=(n, DISTANCE + 1, VOCAB))
    return x.astype("float32"), country.astype("int32")


def bias_gates_to_remember(layer: keras.layers.Layer, value: float = 3.0) -> None:
    """LSTM forget-gate / GRU update-gate bias := value, so the state is kept at first
    (f, z near 1), as in lessons 3-4."""
    kernel, recurrent, bias = layer.get_weights()
    units = recurrent.shape[0]
    if isinstance(layer, GRU):
        bias[0, :units] = value  # reset_after: row 0 is the input-side bias; z comes first
    else:
        bias[units : 2 * units] = value  # LSTM blocks i, f, c, o
    layer.set_weights([kernel, recurrent, bias])


def train(layer: keras.layers.Layer, steps: int, seed: int = 0) -> tuple[keras.Model, float]:
    """Train ``layer`` + Dense(4) with our Trainer; return the model and its test accuracy."""
    model = keras.Sequential([keras.Input(shape=(None, VOCAB)), layer, keras.layers.Dense(4)])
    bias_gates_to_remember(layer)
    per_epoch, batch = 16, 64

    def epoch_data(epoch: int) -> tf.data.Dataset:
        x, y = france_task(per_epoch * batch, np.random.default_rng([seed, epoch]))
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)

    trainer = Trainer(
        model,
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        keras.optimizers.Adam(1e-2),
        clip_norm=1.0,
        verbose=0,
    )
    trainer.fit(epoch_data, epochs=max(1, steps // per_epoch))
    x_test, y_test = france_task(500, np.random.default_rng([seed, 10**6]))
    accuracy = float(np.mean(np.argmax(model(x_test).numpy(), axis=1) == y_test))
    return model, accuracy


# %%
_common.heading(
    f"Training an LSTM and a GRU ({UNITS} units, {TRAIN_STEPS} steps) on the France task"
)
keras.utils.set_random_seed(0)
lstm_model, lstm_accuracy = train(LSTM(UNITS, name="lstm"), TRAIN_STEPS)
keras.utils.set_random_seed(0)
gru_model, gru_accuracy = train(GRU(UNITS, name="gru"), TRAIN_STEPS)
_common.show("LSTM test accuracy", lstm_accuracy)
_common.show("GRU test accuracy", gru_accuracy)
FINDINGS.update(lstm_accuracy=lstm_accuracy, gru_accuracy=gru_accuracy)


# %% [markdown]
# ## Every gate, by hand, from the layer's weights
#
# `kernel` is W (features, 4u), `recurrent_kernel` is U (u, 4u), `bias` is b (4u,), with the
# column blocks in the order i, f, c (= g), o. For the GRU the blocks are z, r, h, and with
# `reset_after` the bias has two rows: b (input side) and b' (recurrent side).


# %%
def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def lstm_inside(layer: keras.layers.Layer, x: np.ndarray) -> dict[str, np.ndarray]:
    """i, f, g, o, c, h for one sequence x (T, F); each (T, u)."""
    W, U, b = (w.astype("float64") for w in layer.get_weights())
    u = U.shape[0]
    h, c = np.zeros(u), np.zeros(u)
    out: dict[str, list[np.ndarray]] = {k: [] for k in "ifgoch"}
    for x_t in x.astype("float64"):
        z = x_t @ W + h @ U + b
        i, f, g, o = (
            sigmoid(z[:u]),
            sigmoid(z[u : 2 * u]),
            np.tanh(z[2 * u : 3 * u]),
            sigmoid(z[3 * u :]),
        )
        c = f * c + i * g
        h = o * np.tanh(c)
        for name, value in zip("ifgoch", (i, f, g, o, c, h), strict=True):
            out[name].append(value)
    return {k: np.array(v) for k, v in out.items()}


def gru_inside(layer: keras.layers.Layer, x: np.ndarray) -> dict[str, np.ndarray]:
    """z, r, n (candidate), h for one sequence x (T, F); each (T, u). Keras's reset_after."""
    W, U, bias = (w.astype("float64") for w in layer.get_weights())
    b, b_rec = bias  # (2, 3u): input-side and recurrent-side biases
    u = U.shape[0]
    h = np.zeros(u)
    out: dict[str, list[np.ndarray]] = {k: [] for k in "zrnh"}
    for x_t in x.astype("float64"):
        xw, hu = x_t @ W + b, h @ U + b_rec
        z = sigmoid(xw[:u] + hu[:u])
        r = sigmoid(xw[u : 2 * u] + hu[u : 2 * u])
        n = np.tanh(xw[2 * u :] + r * hu[2 * u :])
        h = z * h + (1 - z) * n
        for name, value in zip("zrnh", (z, r, n, h), strict=True):
            out[name].append(value)
    return {k: np.array(v) for k, v in out.items()}


def check_against_layer(layer: keras.layers.Layer, x: np.ndarray, by_hand: np.ndarray) -> float:
    """max |h_t by hand - h_t from the layer| over all steps and units."""
    sequence_layer = type(layer).from_config({**layer.get_config(), "return_sequences": True})
    sequence_layer.build((None, None, x.shape[-1]))
    sequence_layer.set_weights(layer.get_weights())
    return float(np.max(np.abs(sequence_layer(x[None]).numpy()[0] - by_hand)))


# %%
_common.heading("Every gate by hand from the weights, vs the layer")
x, y = france_task(1, np.random.default_rng(123))
lstm = lstm_inside(lstm_model.get_layer("lstm"), x[0])
gru = gru_inside(gru_model.get_layer("gru"), x[0])
lstm_diff = check_against_layer(lstm_model.get_layer("lstm"), x[0], lstm["h"])
gru_diff = check_against_layer(gru_model.get_layer("gru"), x[0], gru["h"])
_common.show("LSTM: max |h by hand - h from the layer|", lstm_diff)
_common.show("GRU: max |h by hand - h from the layer|", gru_diff)
filler = slice(1, DISTANCE)
gates = {
    "lstm_input_gate_at_country": float(lstm["i"][0].mean()),
    "lstm_input_gate_on_fillers": float(lstm["i"][filler].mean()),
    "lstm_forget_gate_on_fillers": float(lstm["f"][filler].mean()),
    "lstm_cell_state_change_on_fillers": float(
        np.abs(np.diff(lstm["c"][:DISTANCE], axis=0)).mean()
    ),
    "gru_update_gate_on_fillers": float(gru["z"][filler].mean()),
}
for name, value in gates.items():
    _common.show(name.replace("_", " "), value)
FINDINGS.update(
    lstm_hand_vs_layer_max_abs_diff=lstm_diff,
    gru_hand_vs_layer_max_abs_diff=gru_diff,
    lstm={k: v.tolist() for k, v in lstm.items()},
    gru={k: v.tolist() for k, v in gru.items()},
    gates=gates,
)


# %% [markdown]
# ## Parameter counts
#
# With F input features and u units (each block: a (F, u) input matrix, a (u, u) recurrent
# matrix, u biases):
#
#     SimpleRNN:                 u(F + u) + u
#     LSTM (4 blocks):        4 (u(F + u) + u)
#     GRU, reset_after=False: 3 (u(F + u) + u)
#     GRU, reset_after=True:  3 (u(F + u) + 2u)   (Keras's default: a second bias b')
#
# None of them depends on the sequence length.


# %%
def parameter_counts(pairs: list[tuple[int, int]]) -> list[dict[str, Any]]:
    formulas = {
        "SimpleRNN": lambda f, u: u * (f + u) + u,
        "LSTM": lambda f, u: 4 * (u * (f + u) + u),
        "GRU": lambda f, u: 3 * (u * (f + u) + 2 * u),
        "GRU(reset_after=False)": lambda f, u: 3 * (u * (f + u) + u),
    }
    ours = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}
    rows = []
    for f, u in pairs:
        for name, formula in formulas.items():
            cls_name, _, extra = name.partition("(")
            kwargs = {"reset_after": False} if extra else {}
            counts = {}
            for source, cls in (
                ("keras_rnn", ours[cls_name]),
                ("keras.layers", getattr(keras.layers, cls_name)),
            ):
                layer = cls(u, **kwargs)
                layer.build((None, None, f))
                counts[source] = int(layer.count_params())
            rows.append(
                {"cell": name, "features": f, "units": u, "formula": formula(f, u), **counts}
            )
    return rows


# %%
_common.heading("Parameter counts vs the formulas")
rows = parameter_counts([(VOCAB, u) for u in (8, 32, 128)] + [(1, 1), (3, 5)])
print(f"  {'cell':24s}{'F':>5s}{'u':>5s}{'formula':>10s}{'keras_rnn':>11s}{'keras':>9s}")
for r in rows:
    print(
        f"  {r['cell']:24s}{r['features']:5d}{r['units']:5d}{r['formula']:10d}"
        f"{r['keras_rnn']:11d}{r['keras.layers']:9d}"
    )
FINDINGS["parameter_counts"] = rows


# %% [markdown]
# ## Plots: the gates over a sentence, and the cell-state path


# %%
def sentence_labels(x: np.ndarray) -> list[str]:
    words = np.argmax(x, axis=1)
    return [COUNTRIES[w] if w < len(COUNTRIES) else "speak" if w == SPEAK else "·" for w in words]


def plot_heatmaps(
    values: dict[str, np.ndarray],
    names: dict[str, str],
    labels: list[str],
    title: str,
    filename: str,
    out_dir: Path,
) -> Path:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(names), 1, figsize=(9, 1.6 * len(names) + 0.8), sharex=True)
    for ax, (key, label) in zip(axes, names.items(), strict=True):
        if key in ("g", "n", "c", "h"):  # signed values; the cell state can exceed 1
            vmax = max(1.0, float(np.abs(values[key]).max()))
            vmin, cmap = -vmax, "RdBu_r"
        else:  # gates lie in (0, 1)
            vmin, vmax, cmap = 0.0, 1.0, "viridis"
        image = ax.imshow(values[key].T, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_ylabel(f"{label}\nunit")
        fig.colorbar(image, ax=ax, pad=0.01)
    axes[-1].set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    axes[0].set_title(title)
    return _common.save_figure(fig, out_dir, filename)


def same_sentence_four_countries(x: np.ndarray) -> np.ndarray:
    """The sentence x (T, VOCAB) with each of the four countries as its first word: (4, T, VOCAB)."""
    variants = np.repeat(x[None], len(COUNTRIES), axis=0)
    variants[:, 0, : len(COUNTRIES)] = np.eye(len(COUNTRIES))
    return variants


def plot_cell_state(paths: list[dict[str, np.ndarray]], labels: list[str], out_dir: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    steps = np.arange(len(labels))
    units = np.argsort(-np.ptp([p["c"][-1] for p in paths], axis=0))[:2]  # most telling units
    for country, path in zip(COUNTRIES, paths, strict=True):
        for unit, style in zip(units, ("-", "--"), strict=True):
            top.plot(
                steps,
                path["c"][:, unit],
                style,
                color=f"C{COUNTRIES.index(country)}",
                label=f"{country}, unit {unit}",
            )
    top.set_ylabel("cell state c_t")
    top.set_title("LSTM cell-state path: same filler words, four different countries")
    top.legend(fontsize=7, ncol=4)
    first = paths[0]
    bottom.plot(steps, first["f"].mean(axis=1), label="forget gate f (mean over units)")
    bottom.plot(steps, first["i"].mean(axis=1), label="input gate i (mean)")
    bottom.plot(steps, first["o"].mean(axis=1), label="output gate o (mean)")
    bottom.set_ylabel("gate value")
    bottom.set_ylim(0, 1)
    bottom.legend(fontsize=8)
    bottom.set_xticks(steps, ["country", *labels[1:]], rotation=90, fontsize=7)
    return _common.save_figure(fig, out_dir, "lstm_cell_state_path.png")


def plot_parameter_counts(rows: list[dict[str, Any]], out_dir: Path) -> Path:
    import matplotlib.pyplot as plt

    shown = [r for r in rows if r["features"] == rows[0]["features"] and "(" not in r["cell"]]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for cell in ("SimpleRNN", "LSTM", "GRU"):
        cell_rows = [r for r in shown if r["cell"] == cell]
        ax.plot(
            [r["units"] for r in cell_rows], [r["keras_rnn"] for r in cell_rows], "o-", label=cell
        )
    ax.set_xlabel(f"units u (F = {rows[0]['features']} input features)")
    ax.set_ylabel("parameters")
    ax.set_yscale("log")
    ax.set_title("Parameters: LSTM 4x, GRU ~3x the vanilla cell")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    return _common.save_figure(fig, out_dir, "parameter_counts.png")


# %%
labels = sentence_labels(x[0])
paths = [lstm_inside(lstm_model.get_layer("lstm"), v) for v in same_sentence_four_countries(x[0])]
finals = np.array([p["c"][-1] for p in paths])  # (4 countries, units)
spread = float(np.ptp(finals, axis=0).max())
_common.show("LSTM: largest spread of c_T across the four countries", spread)
FINDINGS["cell_state_spread_across_countries"] = spread
FINDINGS["plots"] = [
    plot_heatmaps(
        lstm,
        {"i": "input i", "f": "forget f", "g": "candidate g", "o": "output o", "c": "cell c"},
        labels,
        f"LSTM gates over one sentence (answer: {COUNTRIES[y[0]]}'s language)",
        "lstm_gates.png",
        OUT_DIR,
    ),
    plot_heatmaps(
        gru,
        {"z": "update z", "r": "reset r", "n": "candidate n", "h": "state h"},
        labels,
        "GRU gates over the same sentence",
        "gru_gates.png",
        OUT_DIR,
    ),
    plot_cell_state(paths, labels, OUT_DIR),
    plot_parameter_counts(rows, OUT_DIR),
]

# %%
_common.finish(max(lstm_diff, gru_diff) < 1e-4, FINDINGS, __name__)
