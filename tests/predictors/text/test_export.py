"""The exported SavedModel: signatures, edge inputs, the card, and a process without keras_rnn."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keras_rnn.predictors import repository

PROMPTS = ["let's meet at", "", "zzz qqq xxx", "today the weather is good , and my mood is also"]


def _next(loaded, texts, k):
    out = loaded.signatures["next"](text=tf.constant(texts), k=tf.constant(k, tf.int32))
    return out["tokens"].numpy(), out["probabilities"].numpy()


def _generate(loaded, texts, max_tokens=10, temperature=1.0, top_k=0, seed=0):
    out = loaded.signatures["generate"](
        text=tf.constant(texts),
        max_tokens=tf.constant(max_tokens, tf.int32),
        temperature=tf.constant(temperature, tf.float32),
        top_k=tf.constant(top_k, tf.int32),
        seed=tf.fill([len(texts)], tf.constant(seed, tf.int32)),  # one seed per row
    )
    return [s.decode() for s in out["continuation"].numpy()]


def test_signatures_match_the_contract(loaded):
    assert set(loaded.signatures) == {"serving_default", "next", "generate"}
    default = loaded.signatures["serving_default"]
    assert set(default.structured_input_signature[1]) == {"text"}
    out = default(text=tf.constant(PROMPTS))
    assert out["tokens"].shape == (4, 5) and out["tokens"].dtype == tf.string
    assert out["probabilities"].shape == (4, 5) and out["probabilities"].dtype == tf.float32
    assert set(loaded.signatures["generate"].structured_input_signature[1]) == {
        "text",
        "max_tokens",
        "temperature",
        "top_k",
        "seed",
    }


def test_export_answers_like_the_decoder(loaded, decoder):
    tokens, probs = _next(loaded, PROMPTS, 3)
    expected = decoder.next_tokens(tf.constant(PROMPTS), 3)
    np.testing.assert_array_equal(tokens, expected["tokens"].numpy())
    np.testing.assert_allclose(probs, expected["probabilities"].numpy(), atol=1e-6)
    assert tokens[0][0].decode() == "noon"


def test_edge_inputs_have_defined_results(loaded, decoder, trained):
    tokens, probs = _next(loaded, PROMPTS, 5)
    assert np.all(np.diff(probs, axis=1) <= 0) and np.all(probs.sum(axis=1) <= 1 + 1e-5)
    assert all(b"[UNK]" not in row for row in tokens.tolist())  # OOV is never suggested
    # Empty text: nothing to condition on, so the training unigram (OOV removed).
    prior = trained[1].unigram[decoder.tokenizer.num_oov_indices :]
    np.testing.assert_allclose(probs[1], np.sort(prior / prior.sum())[::-1][:5], atol=1e-6)
    # k is clipped to [0, known tokens]; max_tokens to [0, max_generate_tokens].
    assert _next(loaded, PROMPTS, 0)[0].shape == (4, 0)
    assert _next(loaded, PROMPTS, 10_000)[0].shape == (4, len(decoder.tokenizer.tokens))
    assert _next(loaded, PROMPTS, -3)[0].shape == (4, 0)
    assert _generate(loaded, PROMPTS, max_tokens=0) == ["", "", "", ""]
    long = _generate(loaded, ["i like"], max_tokens=10_000, temperature=0.0)[0]
    assert len(long.split()) <= decoder.max_generate_tokens
    # A very long prefix, an empty one, only unknown words and odd knobs: answers, no crash.
    out = _generate(
        loaded,
        ["you eat bread . " * 2000, "", "zzz", "i"],
        max_tokens=5,
        temperature=0.7,
        top_k=-1,
        seed=-5,
    )
    assert len(out) == 4 and not out[1].startswith(" ") and out[2].startswith(" ")
    assert _next(loaded, np.array([], dtype=object).astype(bytes), 3)[0].shape == (0, 3)
    # Bytes that are not UTF-8 become U+FFFD (an unknown token), not an error.
    assert _next(loaded, [b"caf\xc3", b"\xff\xfe at"], 2)[0].shape == (2, 2)


def test_seeds_are_per_row_so_a_row_draws_the_same_alone_or_batched(loaded):
    """A row's continuation depends on its own prefix and seed only, not on its batch-mates."""
    texts = ["i like", "let's meet at", "i like", "we stay at"]
    seeds = [7, 3, 7, 11]
    out = loaded.signatures["generate"](
        text=tf.constant(texts),
        max_tokens=tf.constant(8),
        temperature=tf.constant(1.5),
        top_k=tf.constant(0),
        seed=tf.constant(seeds),
    )["continuation"].numpy()
    assert out[0] == out[2]  # same prefix, same seed, different positions
    for i, (text, seed) in enumerate(zip(texts, seeds, strict=True)):
        assert _generate(loaded, [text], max_tokens=8, temperature=1.5, seed=seed)[0] == (
            out[i].decode()
        )


def test_model_card(exported):
    card = repository.read_card(exported)
    assert card["name"] == "text" and card["version"] == 1 and card["task"] == "text"
    assert (
        card["level"] == "word"
        and card["max_prefix_tokens"] == 12
        and card["max_generate_tokens"] == 20
    )
    assert card["data"]["source"].startswith("file:")
    assert set(card["baselines"]) == {"unigram", "bigram"}
    assert card["metrics"]["validation"]["perplexity"] == pytest.approx(
        np.exp(card["metrics"]["validation"]["cross_entropy"])
    )
    first = card["examples"][0]
    assert first["text"] == "let's meet at" and first["next"][0]["token"] == "noon"
    assert set(card["signatures"]) == {"serving_default", "next", "generate"}


def test_same_answers_in_a_process_without_keras_rnn(exported, loaded, tmp_path):
    script = textwrap.dedent(
        f"""
        import json, sys
        import tensorflow as tf
        m = tf.saved_model.load({str(exported)!r})
        text = tf.constant({PROMPTS!r})
        nxt = m.signatures["next"](text=text, k=tf.constant(3))
        gen = m.signatures["generate"](text=text, max_tokens=tf.constant(8), temperature=tf.constant(1.2),
                                        top_k=tf.constant(4), seed=tf.fill([len({PROMPTS!r})], 42))
        json.dump({{"tokens": nxt["tokens"].numpy().astype(str).tolist(),
                   "probabilities": nxt["probabilities"].numpy().tolist(),
                   "continuation": gen["continuation"].numpy().astype(str).tolist(),
                   "keras_rnn_loaded": any(k.startswith("keras_rnn") for k in sys.modules)}},
                  open(sys.argv[1], "w"))
        """
    )
    out_file = tmp_path / "out.json"
    # -I: isolated mode, no user site and no script directory on sys.path.
    subprocess.run(
        [sys.executable, "-I", "-c", script, str(out_file)],
        check=True,
        cwd=tmp_path,
        timeout=120,
        capture_output=True,
    )
    remote = json.loads(out_file.read_text())
    assert remote["keras_rnn_loaded"] is False
    tokens, probs = _next(loaded, PROMPTS, 3)
    assert remote["tokens"] == tokens.astype(str).tolist()
    np.testing.assert_allclose(remote["probabilities"], probs, atol=1e-6)
    assert remote["continuation"] == _generate(loaded, PROMPTS, 8, 1.2, 4, 42)


def test_a_failed_export_keeps_the_good_version(trained, exported, monkeypatch):
    from dataclasses import replace

    from keras_rnn.predictors.text import export as export_module
    from keras_rnn.predictors.text.train import export

    opts, result = trained
    model_dir = exported.parent.parent

    class Broken:  # writes half a SavedModel, then fails
        def write_out(self, path, **kwargs):
            Path(path).mkdir(parents=True)
            (Path(path) / "saved_model.pb").write_bytes(b"half")
            raise RuntimeError("disk full")

    monkeypatch.setattr(export_module, "build_archive", lambda decoder: Broken())
    with pytest.raises(RuntimeError, match="disk full"):
        export(result, replace(opts, model_dir=str(model_dir)))
    assert repository.list_versions(model_dir, "text") == [1]
    assert [p.name for p in (model_dir / "text").iterdir()] == ["1"]
