"""Corpora, tokenisation, the split and the window pipeline (keras_rnn.data.text)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from keras_rnn.data.text import (
    CorpusError,
    Tokenizer,
    load_corpus,
    sequence_dataset,
    sequence_windows,
    split_text,
    split_tokens,
)


def _strings(t: tf.Tensor) -> list[str]:
    return [s.decode("utf-8") for s in t.numpy()]


def test_char_round_trip_is_exact_for_known_characters():
    text = "Héllo, wörld! ✓\nTabs\tand  spaces."
    tok = Tokenizer.fit(text, "char")
    batch = tf.constant([text, "", "wörld"])
    assert _strings(tok.decode(tok.encode(batch))) == [text, "", "wörld"]
    assert tok.vocab_size == 1 + len(set(text))


def test_word_tokens_and_round_trip():
    text = "Let's meet at noon (or at 5pm), OK? Fine: __init__ is one token."
    assert [t.decode() for t in split_tokens(tf.constant([text]), "word")[0].numpy()] == [
        "let's", "meet", "at", "noon", "(", "or", "at", "5pm", ")", ",", "ok", "?",
        "fine", ":", "__init__", "is", "one", "token", ".",
    ]  # fmt: skip
    tok = Tokenizer.fit(text, "word")
    ids = tok.encode(tf.constant([text]))
    decoded = _strings(tok.decode(ids))[0]
    assert decoded == "let's meet at noon (or at 5pm), ok? fine: __init__ is one token."
    assert tok.encode(tf.constant([decoded])).to_list() == ids.to_list()


def test_vocabulary_is_ranked_by_frequency_and_capped_with_oov():
    tok = Tokenizer.fit("b b b a a c d d", "word", vocab_size=3)
    assert tok.vocabulary == ["[UNK]", "b", "a"]  # d ties a on count; a wins alphabetically
    assert tok.encode(tf.constant(["a b c d zzz"])).to_list() == [[2, 1, 0, 0, 0]]
    assert _strings(tok.decode(tf.constant([[2, 1, 0]]))) == ["a b [UNK]"]
    with pytest.raises(ValueError, match="vocab_size"):
        Tokenizer.fit("a b", "word", vocab_size=1)


def test_tokenizer_config_round_trip():
    tok = Tokenizer.fit("one two two", "word", num_oov_indices=2)
    again = Tokenizer.from_config(tok.get_config())
    assert again.vocabulary == tok.vocabulary and again.num_oov_indices == 2


def test_split_by_position_has_no_overlap():
    words = [f"w{i}" for i in range(1000)]
    text = " ".join(words)
    train, val = split_text(text, 0.1)
    assert train + val == text
    assert val.startswith(" ")  # the cut never splits a word
    tok = Tokenizer.fit(text, "word")
    seq_len = 7
    train_w = sequence_windows(tok.encode_text(train), seq_len)
    val_w = sequence_windows(tok.encode_text(val), seq_len)
    assert set(train_w.ravel()).isdisjoint(set(val_w.ravel()))  # every word is unique
    n_train, n_val = len(train.split()), len(val.split())
    assert n_train + n_val == 1000
    assert len(train_w) == (n_train - 1) // seq_len and len(val_w) == (n_val - 1) // seq_len


def test_sequence_dataset_targets_are_inputs_shifted():
    ids = np.arange(50, dtype=np.int32)
    ds = sequence_dataset(ids, seq_len=5, batch_size=4, shuffle=False)
    x, y = next(iter(ds))
    assert x.shape == (4, 5) and y.shape == (4, 5)
    np.testing.assert_array_equal(x.numpy()[:, 1:], y.numpy()[:, :-1])
    np.testing.assert_array_equal(x.numpy()[1], np.arange(5, 10))  # stride = seq_len
    with pytest.raises(ValueError, match="too few"):
        sequence_windows(np.arange(3), seq_len=5)


def test_offline_default_corpus_is_english_prose():
    corpus = load_corpus()
    assert corpus.source == "pydoc_data.topics"
    assert corpus.num_chars > 150_000
    tok = Tokenizer.fit(corpus.text, "word", vocab_size=50)
    assert "the" in tok.tokens[:5]


def test_local_file_and_directory(tmp_path):
    (tmp_path / "b.txt").write_text("second file")
    (tmp_path / "a.txt").write_text("first file")
    assert load_corpus(tmp_path).text == "first file\n\nsecond file"
    assert load_corpus(tmp_path / "a.txt", max_chars=5).text == "first"
    with pytest.raises(CorpusError, match="not a file"):
        load_corpus(tmp_path / "missing.txt")
    with pytest.raises(CorpusError, match=r"no \*\.txt"):
        load_corpus(_empty_dir(tmp_path))


def _empty_dir(root):
    d = root / "empty"
    d.mkdir()
    return d


@pytest.mark.timeout(60)  # tfds would retry for minutes if it tried the network
def test_tfds_offline_fails_fast_with_advice(tmp_path):
    with pytest.raises(CorpusError) as err:
        load_corpus("tfds:tiny_shakespeare", data_dir=tmp_path)
    message = str(err.value)
    assert "not prepared" in message and "--corpus" in message and "--download" in message
    with pytest.raises(CorpusError, match="no dataset"):
        load_corpus("tfds:no_such_dataset_xyz", data_dir=tmp_path)


def test_shared_tiny_shakespeare_as_a_local_file(shared_data):
    corpus = load_corpus(shared_data / "tinyshakespeare.txt")
    assert corpus.num_chars == 1_115_394
    train, _ = split_text(corpus.text, 0.1)
    assert Tokenizer.fit(train, "char").vocab_size == 1 + 65
