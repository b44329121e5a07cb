"""The quick model learns the made-up corpus; stateful decoding equals the full model."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from keras_rnn.predictors.text.build import build_language_model


def _suggestions(out, row=0):
    return [t.decode() for t in out["tokens"][row].numpy()], out["probabilities"][row].numpy()


def test_build_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"`cell`.*'tanh'"):
        build_language_model(10, cell="tanh")
    with pytest.raises(ValueError, match=r"`units`.*0"):
        build_language_model(10, units=0)


def test_learns_a_pattern_that_needs_more_than_one_word_of_context(trained, decoder):
    _opts, result = trained
    tokens, probs = _suggestions(decoder.next_tokens(tf.constant(["let's meet at"]), 3))
    assert tokens[0] == "noon" and probs[0] > 0.6
    tokens, _ = _suggestions(decoder.next_tokens(tf.constant(["they sleep at"]), 1))
    assert tokens == ["home"]
    tokens, _ = _suggestions(
        decoder.next_tokens(tf.constant(["today the weather is good, and my mood is also"]), 1)
    )
    assert tokens == ["good"]
    # The bigram cannot tell "meet at" from "sleep at"; the recurrent model beats it.
    assert result.metrics["cross_entropy"] < result.baselines["bigram"]["cross_entropy"]
    assert (
        result.baselines["bigram"]["cross_entropy"] < result.baselines["unigram"]["cross_entropy"]
    )
    assert result.history["loss"][-1] < result.history["loss"][0]


def test_stateful_decoding_equals_the_full_sequence_model(trained, decoder):
    _opts, result = trained
    prompts = ["let's meet at noon . we", "i like", "today the weather is good , and my"]
    h, _, _ = decoder.condition(tf.constant(prompts))  # batched, right-padded, masked
    stepped = tf.nn.softmax(decoder.logits(h)).numpy()
    for i, prompt in enumerate(prompts):
        ids = result.tokenizer.encode(tf.constant([prompt])).to_tensor()
        full = tf.nn.softmax(result.model(ids)[:, -1] + decoder._oov_mask).numpy()[0]
        np.testing.assert_allclose(stepped[i], full, atol=1e-5)


def test_long_prefixes_keep_only_the_last_max_prefix_tokens(decoder):
    n = decoder.max_prefix_tokens
    tail = " ".join(["i like tea ."] * 10).split()[-n:]
    long = "you eat bread . " * 50 + " ".join(tail)
    out_long = decoder.next_tokens(tf.constant([long]), 3)
    out_tail = decoder.next_tokens(tf.constant([" ".join(tail)]), 3)
    np.testing.assert_array_equal(out_long["tokens"].numpy(), out_tail["tokens"].numpy())
    np.testing.assert_allclose(
        out_long["probabilities"].numpy(), out_tail["probabilities"].numpy(), atol=1e-6
    )


def test_generation_is_deterministic_given_a_seed(decoder):
    text = tf.constant(["let's meet at", "i like"])
    a = decoder.generate(text, 15, 1.5, 0, 7)["continuation"].numpy()
    b = decoder.generate(text, 15, 1.5, 0, 7)["continuation"].numpy()
    others = {
        decoder.generate(text, 15, 1.5, 0, s)["continuation"].numpy()[0] for s in range(8, 14)
    }
    np.testing.assert_array_equal(a, b)
    assert len(others | {a[0]}) > 1  # at temperature 1.5 the seed matters
    greedy = decoder.generate(tf.constant(["let's meet at"]), 2, 0.0, 0, 123)[
        "continuation"
    ].numpy()
    assert greedy[0].decode() == " noon."


def test_top_k_one_is_greedy(decoder):
    text = tf.constant(["we stay at"])
    greedy = decoder.generate(text, 6, 0.0, 0, 0)["continuation"].numpy()
    for seed in (1, 2, 3):
        np.testing.assert_array_equal(
            decoder.generate(text, 6, 5.0, 1, seed)["continuation"].numpy(), greedy
        )


def test_categorical_per_row_draws_from_the_softmax_and_ignores_other_rows():
    from keras_rnn.predictors.text.generate import categorical_per_row

    p = np.array([0.5, 0.25, 0.125, 0.0625, 0.0625], np.float32)
    logits = tf.constant(np.log(p)[None].repeat(20_000, 0))
    draws = categorical_per_row(logits, tf.range(20_000), 3).numpy()
    np.testing.assert_allclose(np.bincount(draws, minlength=5) / 20_000, p, atol=0.012)
    # A row's draw depends only on its logits, seed and step: alone equals batched.
    alone = [categorical_per_row(logits[:1], tf.constant([s]), 3).numpy()[0] for s in (7, 99)]
    assert alone == [draws[7], draws[99]]
    masked = tf.constant([[-np.inf, 0.0, -np.inf]] * 50)
    assert set(categorical_per_row(masked, tf.range(50), 0).numpy()) == {1}
