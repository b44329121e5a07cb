"""Text corpora and tokenisation for the next-token predictor.

Three corpus sources behind :func:`load_corpus`:

* the offline default, ``"pydoc"``: the Python language reference that ships with every CPython
  in the standard library's ``pydoc_data.topics``, its prose only (code, grammar and tables
  dropped: about 220,000 characters of English), so the predictor trains on a fresh machine
  with no network;
* ``"tfds:NAME"`` (or ``"tfds:NAME:FEATURE"``): a `tensorflow-datasets` dataset, read from
  ``data_dir``; it is downloaded only when ``download=True``, so offline it fails in about a
  second with a message saying what to use instead;
* a path: a UTF-8 text file, or a directory whose ``*.txt`` files are read in name order.

Tokenisation (:class:`Tokenizer`) happens in TensorFlow ops plus Keras ``StringLookup``
layers, so the same code runs in the ``tf.data`` pipeline and inside an exported SavedModel:

* ``char``: a string is its sequence of Unicode characters; case is kept. ``decode(encode(s))
  == s`` whenever every character of ``s`` is in the vocabulary.
* ``word``: lower-cased, every character that is not a letter, digit, underscore, space or apostrophe
  becomes its own token, and the rest is split on white space: ``"Let's meet at noon."`` ->
  ``["let's", "meet", "at", "noon", "."]``. Decoding joins with spaces and removes the space
  before closing punctuation; ``encode(decode(encode(s))) == encode(s)``.

Ids: ``0 .. num_oov_indices - 1`` are the out-of-vocabulary buckets (``[UNK]``), the known
tokens follow in order of falling frequency on the training split (ties alphabetical). A
vocabulary of ``vocab_size`` ids therefore holds ``vocab_size - num_oov_indices`` tokens.

Train and validation are split by position (the first ``1 - val_fraction`` of the text trains),
and :func:`sequence_dataset` cuts each part into windows of ``seq_len + 1`` ids on its own, so
no window crosses the boundary: ``x = w[:-1]``, ``y = w[1:]``, both ``(batch, seq_len)``.
"""

from __future__ import annotations

import collections
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import keras
import numpy as np
import tensorflow as tf

from keras_rnn.data import LEVELS, DataError
from keras_rnn.training.data import shuffled_per_epoch

Level = Literal["char", "word"]
DEFAULT_CORPUS = "pydoc"
OOV_TOKEN = "[UNK]"
_HAS_LETTER = re.compile(r"[A-Za-z]")

# Word level: characters that become tokens of their own (not letter, digit, space, apostrophe).
_PUNCT = r"([^\pL\pN_\s'])"
# Decoding: no space before closing punctuation, none after opening brackets.
_NO_SPACE_BEFORE = r" ([.,;:!?)\]}])"
_NO_SPACE_AFTER = r"([(\[{]) "


CorpusError = DataError  # the name older code catches: a corpus that cannot be loaded


@dataclass(frozen=True)
class Corpus:
    """A text and where it came from (``source`` goes into the model card)."""

    text: str
    source: str
    description: str

    @property
    def num_chars(self) -> int:
        return len(self.text)


# --------------------------------------------------------------------------------- corpora


def load_corpus(
    spec: str | os.PathLike | None = None,
    *,
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    max_chars: int | None = None,
) -> Corpus:
    """Load a corpus by spec: ``None``/``"pydoc"``, ``"tfds:NAME[:FEATURE]"`` or a path.

    ``max_chars`` keeps only the first that many characters (a quick run on a big corpus).
    """
    spec_str = DEFAULT_CORPUS if spec is None else str(spec)
    if spec_str in (DEFAULT_CORPUS, "default"):
        corpus = pydoc_corpus()
    elif spec_str.startswith("tfds:"):
        name, _, feature = spec_str[len("tfds:") :].partition(":")
        corpus = tfds_corpus(name, data_dir=data_dir, feature=feature or "text", download=download)
    else:
        corpus = path_corpus(spec_str)
    if max_chars is not None:
        if max_chars <= 0:
            raise DataError(f"`max_chars` must be a positive integer, got {max_chars!r}.")
        corpus = Corpus(corpus.text[:max_chars], corpus.source, corpus.description)
    if not corpus.text.strip():
        raise DataError(f"The corpus {corpus.source!r} is empty.")
    return corpus


def pydoc_corpus() -> Corpus:
    """The Python language reference shipped in the standard library (``pydoc_data.topics``)."""
    try:
        from pydoc_data.topics import topics
    except ImportError as err:  # some distributions strip it
        raise DataError(
            "This Python has no `pydoc_data` (some distributions strip it), so the offline "
            "default corpus is missing; pass --corpus PATH (a text file or directory)."
        ) from err
    lines: list[str] = []
    for key in sorted(topics):
        for line in [*topics[key].splitlines(), ""]:
            if line.startswith("* "):
                line = line[2:]  # a bullet's text is prose
            # Indented lines are code, grammar and tables; letterless lines are rules/borders.
            if line and (line[0].isspace() or line[0] in "*|+" or not _HAS_LETTER.search(line)):
                continue
            lines.append(line)
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
    return Corpus(
        text, "pydoc_data.topics", "the prose of the Python language reference (CPython stdlib)"
    )


def path_corpus(path: str | os.PathLike) -> Corpus:
    """A UTF-8 text file, or the ``*.txt`` files of a directory joined in name order."""
    p = Path(path).expanduser()
    if p.is_file():
        files = [p]
    elif p.is_dir():
        files = sorted(f for f in p.rglob("*.txt") if f.is_file())
        if not files:
            raise DataError(f"The corpus directory {str(p)!r} holds no *.txt files.")
    else:
        raise DataError(
            f"The corpus {str(path)!r} is not a file, a directory, 'pydoc' or 'tfds:NAME'."
        )
    try:
        text = "\n\n".join(f.read_text(encoding="utf-8") for f in files)
    except UnicodeDecodeError as err:
        raise DataError(f"The corpus {str(p)!r} is not UTF-8 text: {err}") from err
    return Corpus(text, f"file:{p.resolve()}", f"{len(files)} local text file(s)")


def tfds_corpus(
    name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    feature: str = "text",
    download: bool = False,
) -> Corpus:
    """All splits of a `tensorflow-datasets` text dataset, concatenated in split order.

    Offline-safe: unless ``download`` is true, a dataset that is not already prepared under
    ``data_dir`` raises :class:`~keras_rnn.data.DataError` at once (tfds itself would retry for minutes).
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError as err:
        raise DataError(
            "`tfds:` corpora need tensorflow-datasets: pip install 'keras-rnn[tfds]'"
        ) from err
    kwargs = {"data_dir": os.fspath(data_dir)} if data_dir is not None else {}
    try:
        builder = tfds.builder(name, **kwargs)
    except Exception as err:  # tfds raises DatasetNotFoundError and friends
        raise DataError(
            f"tensorflow-datasets has no dataset {name!r}: {str(err).splitlines()[0]}"
        ) from err
    if not builder.is_prepared():
        if not download:
            raise DataError(
                f"The tfds dataset {name!r} is not prepared in {str(builder.data_dir)!r} and "
                "downloading is off. Prepare it online once (keras-rnn train text --corpus "
                f"tfds:{name} --download, or tfds build {name}), point --data-dir at a prepared "
                "copy, or use a local text file (--corpus PATH) or the offline default "
                f"(--corpus {DEFAULT_CORPUS})."
            )
        builder.download_and_prepare()
    if feature not in builder.info.features:
        raise DataError(
            f"The tfds dataset {name!r} has no feature {feature!r}; it has {sorted(builder.info.features)}."
        )
    order = [s for s in ("train", "validation", "test") if s in builder.info.splits]
    order += sorted(s for s in builder.info.splits if s not in order)
    parts: list[str] = []
    for split in order:
        for example in builder.as_dataset(split=split).as_numpy_iterator():
            parts.append(example[feature].decode("utf-8"))
    return Corpus(
        "\n".join(parts), f"tfds:{name}", f"tensorflow-datasets {name} ({'+'.join(order)})"
    )


def split_text(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """Split by position: the first ``1 - val_fraction`` trains, the rest validates.

    The cut moves forward to the next white space so that no word is split in two.
    ``train + val == text`` always holds.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"`val_fraction` must be in (0, 1), got {val_fraction!r}.")
    cut = int(len(text) * (1.0 - val_fraction))
    while cut < len(text) and not text[cut].isspace():
        cut += 1
    return text[:cut], text[cut:]


# ----------------------------------------------------------------------------- tokenisation


def split_tokens(text: tf.Tensor, level: Level) -> tf.RaggedTensor:
    """Strings ``[batch]`` -> tokens ``[batch, (n_tokens)]`` (graph ops; see module doc)."""
    text = tf.convert_to_tensor(text, tf.string)
    if level == "char":
        return tf.strings.unicode_split(text, "UTF-8", errors="replace")
    if level == "word":
        text = tf.strings.lower(text, encoding="utf-8")
        text = tf.strings.regex_replace(text, _PUNCT, r" \1 ")
        return tf.strings.split(text)
    raise ValueError(
        f"Received an invalid value for argument `level`: expected one of {LEVELS}, got {level!r}."
    )


def join_tokens(tokens: tf.Tensor | tf.RaggedTensor, level: Level) -> tf.Tensor:
    """Tokens ``[batch, n]`` -> strings ``[batch]``: the inverse of :func:`split_tokens`."""
    if level == "char":
        return tf.strings.reduce_join(tokens, axis=-1)
    joined = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
    joined = tf.strings.regex_replace(joined, _NO_SPACE_BEFORE, r"\1")
    return tf.strings.regex_replace(joined, _NO_SPACE_AFTER, r"\1")


class Tokenizer:
    """Token <-> id mapping of one level, built on Keras ``StringLookup`` layers.

    Args:
        level: ``"char"`` or ``"word"``.
        tokens: the known tokens, most frequent first (ids ``num_oov_indices ..``).
        num_oov_indices: how many ids unknown tokens hash into (at least 1).
    """

    def __init__(self, level: Level, tokens: list[str], num_oov_indices: int = 1) -> None:
        if level not in LEVELS:
            raise ValueError(
                f"Received an invalid value for argument `level`: expected one of {LEVELS}, got {level!r}."
            )
        if num_oov_indices < 1:
            raise ValueError(f"`num_oov_indices` must be >= 1, got {num_oov_indices!r}.")
        self.level: Level = level
        self.tokens = list(tokens)
        self.num_oov_indices = int(num_oov_indices)
        common = dict(num_oov_indices=self.num_oov_indices, mask_token=None, oov_token=OOV_TOKEN)
        self.lookup = keras.layers.StringLookup(vocabulary=self.tokens, **common)
        self.inverse = keras.layers.StringLookup(vocabulary=self.tokens, invert=True, **common)

    @classmethod
    def fit(
        cls,
        text: str,
        level: Level,
        vocab_size: int | None = None,
        num_oov_indices: int = 1,
    ) -> Tokenizer:
        """Count tokens in ``text`` and keep the ``vocab_size - num_oov_indices`` most frequent."""
        if vocab_size is not None and vocab_size <= num_oov_indices:
            raise ValueError(
                f"`vocab_size` must exceed `num_oov_indices` ({num_oov_indices}), got {vocab_size!r}."
            )
        tokens = split_tokens(tf.constant([text]), level).flat_values.numpy()
        counts = collections.Counter(tokens.tolist())
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if vocab_size is not None:
            ranked = ranked[: vocab_size - num_oov_indices]
        return cls(level, [t.decode("utf-8") for t, _ in ranked], num_oov_indices)

    @property
    def vocab_size(self) -> int:
        """Size of the id space (output layer width): OOV buckets plus known tokens."""
        return self.num_oov_indices + len(self.tokens)

    @property
    def vocabulary(self) -> list[str]:
        """id -> token for every id (OOV buckets all read ``[UNK]``)."""
        return [OOV_TOKEN] * self.num_oov_indices + self.tokens

    def encode(self, text: tf.Tensor) -> tf.RaggedTensor:
        """Strings ``[batch]`` -> int32 ids ``[batch, (n_tokens)]``."""
        pieces = split_tokens(text, self.level)
        return tf.ragged.map_flat_values(lambda t: tf.cast(self.lookup(t), tf.int32), pieces)

    def decode(self, ids: tf.Tensor | tf.RaggedTensor) -> tf.Tensor:
        """int ids ``[batch, n]`` -> strings ``[batch]``."""
        if isinstance(ids, tf.RaggedTensor):
            tokens = tf.ragged.map_flat_values(lambda i: self.inverse(tf.cast(i, tf.int64)), ids)
        else:
            tokens = self.inverse(tf.cast(ids, tf.int64))
        return join_tokens(tokens, self.level)

    def encode_text(self, text: str) -> np.ndarray:
        """One long string -> a flat int32 array of ids (for building datasets)."""
        return self.encode(tf.constant([text])).flat_values.numpy().astype(np.int32)

    def get_config(self) -> dict:
        return {"level": self.level, "tokens": self.tokens, "num_oov_indices": self.num_oov_indices}

    @classmethod
    def from_config(cls, config: dict) -> Tokenizer:
        return cls(config["level"], config["tokens"], config.get("num_oov_indices", 1))


# ---------------------------------------------------------------------------------- datasets


def sequence_windows(ids: np.ndarray, seq_len: int, stride: int | None = None) -> np.ndarray:
    """Windows ``[n_windows, seq_len + 1]`` of ``ids`` starting every ``stride`` (default
    ``seq_len``, i.e. the targets of consecutive windows tile the text exactly once)."""
    if seq_len < 1:
        raise ValueError(f"`seq_len` must be a positive integer, got {seq_len!r}.")
    stride = seq_len if stride is None else stride
    if stride < 1:
        raise ValueError(f"`stride` must be a positive integer, got {stride!r}.")
    ids = np.asarray(ids, dtype=np.int32)
    if ids.size < seq_len + 1:
        raise ValueError(
            f"The text has {ids.size} tokens, too few for one window of `seq_len` + 1 = {seq_len + 1}; "
            "use a shorter --seq-len or a longer corpus."
        )
    return np.lib.stride_tricks.sliding_window_view(ids, seq_len + 1)[::stride].copy()


def window_examples(ids: np.ndarray, seq_len: int, stride: int | None = None) -> tf.data.Dataset:
    """Unbatched ``(x, y)`` int32 examples ``(seq_len,)``, ``y`` = ``x`` shifted by one token."""
    windows = sequence_windows(ids, seq_len, stride)
    return tf.data.Dataset.from_tensor_slices((windows[:, :-1], windows[:, 1:]))


def sequence_dataset(
    ids: np.ndarray,
    seq_len: int,
    batch_size: int,
    *,
    stride: int | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    drop_remainder: bool = False,
    epoch: int = 0,
) -> tf.data.Dataset:
    """A ``tf.data`` pipeline of ``(x, y)`` int32 batches ``(batch, seq_len)``.

    With ``shuffle`` the order is that of ``epoch`` (a function of ``(seed, epoch)``, the same
    on every iteration, from :func:`keras_rnn.training.data.shuffled_per_epoch`). To train,
    pass ``shuffled_per_epoch(window_examples(...), batch_size, seed=...)`` itself: a new
    order each epoch, the same after a resume.
    """
    ds = window_examples(ids, seq_len, stride)
    if shuffle:
        by_epoch = shuffled_per_epoch(ds, batch_size, seed=seed or 0, drop_remainder=drop_remainder)
        return by_epoch(epoch)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
