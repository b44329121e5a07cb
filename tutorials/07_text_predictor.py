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
# # Lesson 7: next-word prediction, "let's meet at __"
#
# "Let's meet at __": lunch, dinner, breakfast or coffee, depending on what came before.
# "Today the weather is good, and my mood is also ___": good. Predicting the next token is
# classification over the vocabulary: the recurrent net reads the prefix one token at a time,
#
#     e_t = E[w_t],   h_t = cell(e_t, h_{t-1}),   p(w_{t+1} | w_1..w_t) = softmax(W h_t + b)
#
# and is trained with the cross-entropy ``-log p(true next token)`` summed over the steps of
# each window (we report it per token, in nats; perplexity = exp of it).
#
# What this lesson shows, each with a number or a plot:
# 1. why context matters: on a made-up corpus where "at" is followed by "noon" after "meet"
#    and by "home" after "sleep", a bigram model cannot tell them apart; an LSTM can (here
#    the deciding word is right before "at", so a trigram would do: lesson 8 moves the cue
#    k words back and measures how far each model reaches);
# 2. real English offline (the prose of Python's language reference, in the standard
#    library): character tokens, the unigram and bigram baselines, and the LSTM's validation
#    loss epoch by epoch against them (and, in the full run, the same at word level, where
#    this small corpus is not enough to beat the bigram: baselines keep us honest);
# 3. top-5 suggestions for the curriculum's prompts, and generation with temperature and
#    top-k from a fixed seed (step by step, the state carried between steps);
# 4. the export: a SavedModel that takes raw strings and answers the same.
#
# Run: `python tutorials/07_text_predictor.py [--quick] [--output-dir DIR]` or
# `keras-rnn tutorial text_predictor`.

# %%
from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import _common
import keras
import numpy as np
import tensorflow as tf

from keras_rnn.predictors.text.train import TextOptions, export, make_decoder, train

PROMPTS = ["let's meet at", "today the weather is good, and my mood is also", "the value of"]

# %% [markdown]
# ## Settings
# `QUICK` is True in a notebook and with `--quick` (3 epochs of a 128-unit character model
# on the first 60,000 characters); set it to False for the full lesson (the whole corpus,
# 256 units, 6 epochs, and the word-level model too).

# %%
ARGS = _common.parse_args("07_text_predictor", "Lesson 7: next-word prediction.")
QUICK, OUT_DIR = ARGS.quick, ARGS.output_dir
FINDINGS: dict[str, Any] = {}


def top_k(decoder, text: str, k: int = 5) -> list[tuple[str, float]]:
    out = decoder.next_tokens(tf.constant([text]), k)
    return [
        (t.decode(), float(p))
        for t, p in zip(out["tokens"][0].numpy(), out["probabilities"][0].numpy(), strict=True)
    ]


# %% [markdown]
# ## 1. Context beyond one word
# A made-up corpus of six sentences in random order. After "at" comes "noon" (after "meet"),
# "home" (after "sleep") or "work" (after "stay"): the word before "at" decides. A bigram
# model sees only "at", so its best guess is a mix; the LSTM carries "meet" in its state.

# %%
SENTENCES = (
    "let's meet at noon .",
    "they sleep at home .",
    "we stay at work .",
    "you eat bread .",
    "i like tea .",
    "today the weather is good , and my mood is also good .",
)


def context_demo(out_dir: Path, quick: bool) -> dict[str, Any]:
    rng = random.Random(0)
    corpus = out_dir / "made_up_corpus.txt"
    corpus.write_text("\n".join(rng.choice(SENTENCES) for _ in range(300)) + "\n")
    keras.utils.set_random_seed(0)
    opts = TextOptions(
        corpus=str(corpus), level="word", seq_len=8, stride=1, units=32, embedding_dim=16,
        epochs=4, batch_size=32, learning_rate=1e-2, val_fraction=0.2,
        max_prefix_tokens=16, max_generate_tokens=20, trainer={"seed": 0, "verbose": 0},
    )  # fmt: skip
    result = train(opts)
    decoder = make_decoder(result, opts)
    answers = {p: top_k(decoder, p, 3) for p in ("let's meet at", "they sleep at", "we stay at")}
    # What a bigram model says after "at": the counts of the words that follow "at".
    words = corpus.read_text().split()
    after_at = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "at"]
    bigram = {w: after_at.count(w) / len(after_at) for w in sorted(set(after_at))}
    _common.show(
        "bigram p(. | at), the same for every prefix", {w: round(p, 3) for w, p in bigram.items()}
    )
    for prompt, top in answers.items():
        _common.show(f"LSTM after {prompt!r}", [(t, round(p, 3)) for t, p in top])
    _common.show(
        "validation cross-entropy: LSTM / bigram (nats per word)",
        (
            round(result.metrics["cross_entropy"], 3),
            round(result.baselines["bigram"]["cross_entropy"], 3),
        ),
    )
    return {
        "answers": answers,
        "bigram_after_at": bigram,
        "metrics": result.metrics,
        "baselines": result.baselines,
    }


# %%
_common.heading("1. Context beyond one word (made-up corpus)")
FINDINGS["context"] = context_demo(OUT_DIR, QUICK)


# %% [markdown]
# ## 2. Real English, offline: baselines and training curves
# The offline default corpus is the prose of the Python language reference that ships with
# every Python (`pydoc_data.topics`), split by position: the first 90% trains, the last 10%
# validates. Tokens are characters, looked up with a Keras `StringLookup` (unknown ones share
# the `[UNK]` id). The model must beat two count-based baselines fitted on the same split:
# the unigram (character frequencies) and an interpolated bigram (the previous character).
# Words are the other choice (`level="word"`): 42,000 training words are few for a word
# model, and the full run shows it: it does not get below the bigram in a minute.


# %%
def train_english(out_dir: Path, quick: bool, **options: Any):
    keras.utils.set_random_seed(0)
    options.setdefault("epochs", 3 if quick else TextOptions.epochs)
    if quick:  # a tenth of the corpus and a smaller net: tens of seconds, still well below unigram
        options.setdefault("max_chars", 60_000)
        options.setdefault("units", 128)
    opts = TextOptions(trainer={"seed": 0, "verbose": 1}, **options).resolved()
    _common.show("level", opts.level)
    result = train(opts)
    _common.show(
        "corpus",
        f"{result.corpus.source}: {result.corpus.num_chars:,} characters, tokens {result.num_tokens}",
    )
    _common.show("vocabulary (ids, incl. [UNK])", result.tokenizer.vocab_size)
    _common.show("training seconds (this machine)", round(result.seconds, 1))
    table = {"LSTM": result.metrics, **result.baselines}
    for name, score in table.items():
        _common.show(
            f"{name:8s} validation cross-entropy / perplexity",
            f"{score['cross_entropy']:.3f} nats / {score['perplexity']:.1f}",
        )
    return opts, result


def plot_curves(result, out_dir: Path, level: str = "char") -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    epochs = np.arange(1, len(result.history["loss"]) + 1)
    ax.plot(epochs, result.history["loss"], "o-", label="LSTM train")
    ax.plot(epochs, result.history["val_loss"], "o-", label="LSTM validation")
    for name, style in (("unigram", ":"), ("bigram", "--")):
        ax.axhline(
            result.baselines[name]["cross_entropy"],
            ls=style,
            c="gray",
            label=f"{name} (validation)",
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"cross-entropy (nats per {level})")
    ax.set_title(f"Next-{level} LSTM vs count baselines")
    ax.legend()
    return _common.save_figure(fig, out_dir, f"loss_vs_baselines_{level}.png")


# %%
_common.heading("2. Real English offline: baselines and training")
opts, result = train_english(OUT_DIR, QUICK)
plots = [plot_curves(result, OUT_DIR)]
word = None
if not QUICK:
    _common.heading("2b. The same corpus at word level")
    word_options = dict(level="word", seq_len=32, epochs=8, learning_rate=1e-2, batch_size=32)
    _word_opts, word = train_english(OUT_DIR, QUICK, **word_options)
    plots.append(plot_curves(word, OUT_DIR, "word"))
FINDINGS.update(
    metrics=result.metrics,
    baselines=result.baselines,
    seconds=result.seconds,
    word_level=None if word is None else {"metrics": word.metrics, "baselines": word.baselines},
)


# %% [markdown]
# ## 3. Suggestions and generation
# The decoder runs the prefix through the cells once, then each generated token is one more
# step from the carried state (never re-reading the prefix). Sampling divides the logits by a
# temperature (low: safe and repetitive, high: varied and odd; 0 means greedy), optionally
# keeps only the top-k tokens, and draws with a stateless RNG seeded by (seed, step): the
# same seed gives the same text anywhere.


# %%
def suggestions_and_generation(decoder, out_dir: Path) -> dict[str, Any]:
    import matplotlib.pyplot as plt

    found: dict[str, Any] = {"next": {}, "generate": {}}
    fig, axes = plt.subplots(1, len(PROMPTS), figsize=(4 * len(PROMPTS), 3.2))
    for ax, prompt in zip(axes, PROMPTS, strict=True):
        top = top_k(decoder, prompt)
        found["next"][prompt] = top
        _common.show(f"top-5 after {prompt!r}", [(t, round(p, 3)) for t, p in top])
        ax.barh([repr(t) for t, _ in top][::-1], [p for _, p in top][::-1])
        ax.set_title(f"{prompt[-28:]!r} ...", fontsize=9)
        ax.set_xlabel("probability")
    plots = [_common.save_figure(fig, out_dir, "next_token_top5.png")]

    prompt = PROMPTS[0]
    n = (30 if QUICK else 100) if decoder.level == "char" else 15
    for temperature in (0.0, 0.7, 1.0, 1.5):
        text = (
            decoder.generate(tf.constant([prompt]), n, temperature, 0, 42)["continuation"][0]
            .numpy()
            .decode()
        )
        found["generate"][temperature] = text
        _common.show(f"temperature {temperature}, seed 42", repr(prompt + text))
    again = (
        decoder.generate(tf.constant([prompt]), n, 1.0, 0, 42)["continuation"][0].numpy().decode()
    )
    found["same_seed_same_text"] = again == found["generate"][1.0]
    _common.show("same seed, same text", found["same_seed_same_text"])

    # How temperature reshapes one next-word distribution.
    h, _, empty = decoder.condition(tf.constant([prompt]))
    logits = decoder.logits(h, empty)[0].numpy()
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    for temperature in (0.5, 1.0, 1.5):
        p = np.sort(tf.nn.softmax(logits / temperature).numpy())[::-1][:20]
        ax.plot(np.arange(1, 21), p, "o-", label=f"T = {temperature}")
    ax.set_xlabel(f"rank of the next {decoder.level}")
    ax.set_ylabel("probability")
    ax.set_title(f"Temperature after {prompt!r}")
    ax.legend()
    plots.append(_common.save_figure(fig, out_dir, "temperature.png"))
    found["plots"] = plots
    return found


# %%
decoder = make_decoder(result, opts)
_common.heading("3. Suggestions and generation")
gen = suggestions_and_generation(decoder, OUT_DIR)
FINDINGS.update(gen)


# %% [markdown]
# ## 4. Stateful decoding is the same computation, and the export answers the same
# The full-sequence model and the step-by-step decoder must give the same distribution; the
# exported SavedModel (tokeniser, vocabulary and decoder inside the graph) must give the
# same top-5 as Python.


# %%
def check_and_export(opts, result, decoder, out_dir: Path) -> dict[str, Any]:
    prompt = PROMPTS[0]
    ids = result.tokenizer.encode(tf.constant([prompt])).to_tensor()
    full = tf.nn.softmax(result.model(ids)[:, -1] + decoder._oov_mask).numpy()
    h, _, _ = decoder.condition(tf.constant([prompt]))
    step = tf.nn.softmax(decoder.logits(h)).numpy()
    diff = float(np.abs(full - step).max())
    _common.show("max |full model - step decoder| over the vocabulary", diff)
    path = export(result, replace(opts, model_dir=str(out_dir / "models")))
    loaded = tf.saved_model.load(str(path))
    out = loaded.signatures["serving_default"](text=tf.constant([prompt]))
    exported = [t.decode() for t in out["tokens"][0].numpy()]
    same = exported == [t for t, _ in top_k(decoder, prompt)]
    _common.show("exported to", path)
    _common.show("SavedModel top-5 equals Python's", same)
    return {"step_vs_full_max_abs_diff": diff, "export_path": str(path), "export_matches": same}


# %%
_common.heading("4. Stateful decoding and the export")
FINDINGS.update(check_and_export(opts, result, decoder, OUT_DIR))
FINDINGS["plots"] = plots + gen["plots"]

# %%
_common.finish(
    FINDINGS["context"]["answers"]["let's meet at"][0][0] == "noon"
    and FINDINGS["same_seed_same_text"]
    and FINDINGS["export_matches"]
    and FINDINGS["step_vs_full_max_abs_diff"] < 1e-4,
    FINDINGS,
    __name__,
)
