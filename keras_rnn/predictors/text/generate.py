"""Stateful step-by-step decoding: next-token suggestions and sampled continuations.

:class:`StepDecoder` runs the trained layers one token at a time, carrying every cell's state,
so a continuation of ``n`` tokens costs ``len(prefix) + n`` cell steps (the prefix is never
re-run). Everything is TensorFlow ops on raw strings, so the same object serves Python
callers (the tutorial) and the exported SavedModel's signatures (:mod:`.export`).

For a batch of prefixes ``text`` (``[batch]`` strings):

1. tokenise and look up ids in the graph; keep the last ``max_prefix_tokens`` ids;
2. from the zero state, step the cells through each row's ids (rows are right-padded; a row's
   state stops changing after its last token), giving the top layer's output ``h``;
3. next-token distribution ``p = softmax(W h + b)`` over the known tokens: the OOV ids never
   come out (their probability is removed and the rest renormalised).

Defined edge results:

* empty text (or only white space at word level): nothing to condition on, so ``p`` is the
  ``prior``: the unigram frequencies of the training split in exported models (without one,
  ``softmax(b)``, what the output layer gives at the zero state). Generation then samples its
  first token from ``p`` and feeds it to the cells from the zero state;
* text of only unknown tokens: each is fed as the OOV id; the model conditions on "some
  unknown tokens";
* prefixes longer than ``max_prefix_tokens`` tokens: only the last ``max_prefix_tokens`` count;
* ``k`` is clipped to ``[0, known tokens]``; ``max_tokens`` to ``[0, max_generate_tokens]``;
  ``temperature <= 0`` means greedy (argmax); ``top_k <= 0`` means no top-k filter.

Sampling: ``logits / temperature``, optionally keep the ``top_k`` largest, then draw each row
with :func:`categorical_per_row` keyed by ``(seed[row], step)``. Seeds are per row, so a row's
continuation depends only on its own prefix and seed: the same seed gives the same
continuation alone or merged into a batch with other requests, on any machine and in any
process. (A scalar ``seed`` is broadcast to every row.)
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from keras_rnn.data.text import Tokenizer, join_tokens
from keras_rnn_contract import Text


def _mix32(x: tf.Tensor) -> tf.Tensor:
    """A 32-bit integer finaliser (``lowbias32``): every input bit flips each output bit with
    probability close to 1/2. ``uint32`` arithmetic wraps, so it is exact on every platform."""
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))
    x = x * tf.constant(0x7FEB352D, tf.uint32)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(15, tf.uint32)))
    x = x * tf.constant(0x846CA68B, tf.uint32)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))


def categorical_per_row(logits: tf.Tensor, seed: tf.Tensor, step: tf.Tensor | int) -> tf.Tensor:
    """One id per row of ``logits`` ``[batch, V]``, drawn from ``softmax(logits[i])`` with
    randomness keyed by ``(seed[i], step)`` only (``seed``: int ``[batch]``).

    Gumbel-max: ``argmax_v(logits[i, v] + g[i, v])`` with ``g = -log(-log(u))`` is an exact
    draw from the softmax when ``u`` is uniform on (0, 1). Here ``u[i, v]`` is a counter-based
    hash of ``(seed[i], step, v)`` (24 bits), so a row's draw never depends on the other rows
    of the batch (``tf.random.stateless_categorical`` takes one seed per call: rows merged
    under one seed would draw differently than alone), and it is vectorised over the batch.
    ``-inf`` logits (filtered tokens) are never drawn.
    """
    logits = tf.convert_to_tensor(logits, tf.float32)
    seed = tf.bitcast(tf.cast(seed, tf.int32), tf.uint32)
    step = tf.bitcast(tf.cast(step, tf.int32), tf.uint32)
    key = _mix32(_mix32(seed ^ tf.constant(0x9E3779B9, tf.uint32)) ^ step)  # [batch]
    ids = tf.range(tf.shape(logits, out_type=tf.int32)[1])
    ids = tf.bitcast(ids, tf.uint32) * tf.constant(0x85EBCA6B, tf.uint32)
    bits = _mix32(key[:, None] ^ ids[None, :])  # [batch, V]
    u = (tf.cast(tf.bitwise.right_shift(bits, tf.constant(8, tf.uint32)), tf.float32) + 0.5) * (
        1.0 / (1 << 24)
    )
    return tf.argmax(logits - tf.math.log(-tf.math.log(u)), axis=-1, output_type=tf.int32)


class StepDecoder:
    """Decode with a model from :func:`~keras_rnn.predictors.text.build.build_language_model`.

    Args:
        model: the trained next-token model (layers ``embedding``, ``rnn_i``, ``logits``).
        tokenizer: the :class:`~keras_rnn.data.text.Tokenizer` it was trained with.
        max_prefix_tokens: prefixes are truncated to their last this many tokens.
        max_generate_tokens: the most tokens one ``generate`` call produces.
        prior: ``[V]`` probabilities for an empty prefix (the training unigram); None:
            the model's zero-state output ``softmax(b)``.
    """

    def __init__(
        self,
        model: keras.Model,
        tokenizer: Tokenizer,
        max_prefix_tokens: int = 256,
        max_generate_tokens: int = 200,
        prior: np.ndarray | None = None,
    ) -> None:
        self.embedding = model.get_layer("embedding")
        self.rnns = [layer for layer in model.layers if layer.name.startswith("rnn_")]
        self.cells = [layer.cell for layer in self.rnns]
        self.head = model.get_layer("logits")
        self.tokenizer = tokenizer
        self.level = tokenizer.level
        self.max_prefix_tokens = int(max_prefix_tokens)
        self.max_generate_tokens = int(max_generate_tokens)
        self.vocab_size = tokenizer.vocab_size
        self.num_known = len(tokenizer.tokens)
        oov = tokenizer.num_oov_indices
        # Added to logits: -inf on the OOV ids so they are never suggested or sampled.
        self._oov_mask = tf.constant([-float("inf")] * oov + [0.0] * self.num_known, tf.float32)
        if prior is None:
            self._prior_logits = None
        else:
            prior = np.asarray(prior, np.float64)
            if prior.shape != (self.vocab_size,):
                raise ValueError(
                    f"`prior` must have shape ({self.vocab_size},), got {prior.shape}."
                )
            with np.errstate(divide="ignore"):
                self._prior_logits = tf.constant(np.log(prior), tf.float32) + self._oov_mask

    # --- the pieces ---------------------------------------------------------------------------

    def _state_sizes(self) -> list[list[int]]:
        sizes = []
        for cell in self.cells:
            size = cell.state_size
            sizes.append(list(size) if isinstance(size, list | tuple) else [size])
        return sizes

    def initial_states(self, batch: tf.Tensor) -> list[tf.Tensor]:
        """Zero states, flattened over cells: ``[(batch, units), ...]``."""
        return [tf.zeros([batch, s], tf.float32) for sizes in self._state_sizes() for s in sizes]

    def step(self, ids: tf.Tensor, states: list[tf.Tensor]) -> tuple[tf.Tensor, list[tf.Tensor]]:
        """One token for each row: ids ``[batch]`` -> top output ``h`` ``[batch, units]`` and the
        new flat states."""
        x = tf.cast(self.embedding(ids), tf.float32)
        new_states: list[tf.Tensor] = []
        i = 0
        for cell, sizes in zip(self.cells, self._state_sizes(), strict=True):
            cell_states = states[i : i + len(sizes)]
            i += len(sizes)
            x, nxt = cell(x, list(cell_states), training=False)
            nxt = list(nxt) if isinstance(nxt, list | tuple) else [nxt]
            new_states.extend(tf.cast(s, tf.float32) for s in nxt)
            x = tf.cast(x, tf.float32)
        return x, new_states

    def logits(self, h: tf.Tensor, empty: tf.Tensor | None = None) -> tf.Tensor:
        """Top output ``[batch, units]`` -> logits ``[batch, V]`` with the OOV ids at -inf;
        rows where ``empty`` ``[batch]`` is true get the prior's log-probabilities."""
        logits = tf.cast(self.head(h), tf.float32) + self._oov_mask
        if empty is None or self._prior_logits is None:
            return logits
        prior = tf.broadcast_to(self._prior_logits, tf.shape(logits))
        return tf.where(tf.expand_dims(empty, 1), prior, logits)

    def encode(self, text: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Strings ``[batch]`` -> right-padded ids ``[batch, T]`` (last ``max_prefix_tokens``)
        and lengths ``[batch]``."""
        ids = self.tokenizer.encode(text)[:, -self.max_prefix_tokens :]
        return ids.to_tensor(0), tf.cast(ids.row_lengths(), tf.int32)

    def condition(self, text: tf.Tensor) -> tuple[tf.Tensor, list[tf.Tensor], tf.Tensor]:
        """Run the prefixes through the cells: ``(h [batch, units], states, empty [batch])``
        after each row's last token (zeros for an empty row)."""
        ids, lengths = self.encode(text)
        batch = tf.shape(ids)[0]
        states = self.initial_states(batch)
        h = tf.zeros([batch, self.cells[-1].units], tf.float32)

        def body(t, h, *states):
            new_h, new_states = self.step(ids[:, t], list(states))
            live = tf.expand_dims(t < lengths, 1)  # rows still inside their prefix
            h = tf.where(live, new_h, h)
            states = [tf.where(live, n, o) for n, o in zip(new_states, states, strict=True)]
            return (t + 1, h, *states)

        out = tf.while_loop(lambda t, *_: t < tf.shape(ids)[1], body, (tf.constant(0), h, *states))
        return out[1], list(out[2:]), tf.equal(lengths, 0)

    # --- what the signatures serve ----------------------------------------------------------

    def next_tokens(self, text: tf.Tensor, k: tf.Tensor | int = 5) -> dict[str, tf.Tensor]:
        """Top-``k`` next tokens ``[batch, k]`` (strings) and their probabilities."""
        h, _, empty = self.condition(text)
        probs = tf.nn.softmax(self.logits(h, empty))
        k = tf.clip_by_value(tf.cast(k, tf.int32), 0, self.num_known)
        top = tf.math.top_k(probs, k=k)
        tokens = self.tokenizer.inverse(tf.cast(top.indices, tf.int64))
        return {Text.TOKENS: tokens, Text.PROBABILITIES: top.values}

    def generate(
        self,
        text: tf.Tensor,
        max_tokens: tf.Tensor | int = 50,
        temperature: tf.Tensor | float = 1.0,
        top_k: tf.Tensor | int = 0,
        seed: tf.Tensor | int = 0,
    ) -> dict[str, tf.Tensor]:
        """Sample a continuation of each prefix; ``continuation`` ``[batch]`` is the text to
        append (word level: it starts with a space unless the prefix is empty). ``seed`` is
        ``[batch]`` (one per row) or a scalar for every row."""
        text = tf.convert_to_tensor(text, tf.string)
        h, states, empty = self.condition(text)
        batch = tf.shape(h)[0]
        n = tf.clip_by_value(tf.cast(max_tokens, tf.int32), 0, self.max_generate_tokens)
        temperature = tf.cast(temperature, tf.float32)
        top_k = tf.clip_by_value(tf.cast(top_k, tf.int32), 0, self.num_known)
        seed = tf.broadcast_to(tf.cast(seed, tf.int32), [batch])

        def body(t, h, ids, *states):
            logits = self.logits(h, tf.logical_and(empty, t == 0))
            sampled = self._sample(logits, temperature, top_k, seed, t)
            h, new_states = self.step(sampled, list(states))
            return (t + 1, h, tf.concat([ids, sampled[:, None]], axis=1), *new_states)

        # ids grows by one column a step (at most max_generate_tokens: the copies are cheap,
        # and unlike a TensorArray it stacks fine when no step runs).
        ids = tf.zeros([batch, 0], tf.int32)
        loop_vars = (tf.constant(0), h, ids, *states)
        invariants = tuple(tf.TensorShape(v.shape) for v in loop_vars)
        invariants = (invariants[0], invariants[1], tf.TensorShape([None, None]), *invariants[3:])
        loop = tf.while_loop(lambda t, *_: t < n, body, loop_vars, shape_invariants=invariants)
        ids = loop[2]
        tokens = self.tokenizer.inverse(tf.cast(ids, tf.int64))
        if self.level == "char":
            return {Text.CONTINUATION: join_tokens(tokens, "char")}
        # Word level: a space before each token, none before closing punctuation, and none at
        # the very start when there is no prefix to separate from.
        spaced = join_tokens(tf.concat([tf.fill([batch, 1], ""), tokens], axis=1), "word")
        continuation = tf.where(empty, tf.strings.regex_replace(spaced, "^ ", ""), spaced)
        return {Text.CONTINUATION: continuation}

    @staticmethod
    def _sample(
        logits: tf.Tensor,
        temperature: tf.Tensor,
        top_k: tf.Tensor,
        seed: tf.Tensor,
        step: tf.Tensor,
    ) -> tf.Tensor:
        """One id per row: greedy when ``temperature <= 0``, else a top-k-filtered draw of
        row ``i`` seeded by ``(seed[i], step)``."""

        def greedy():
            return tf.argmax(logits, axis=-1, output_type=tf.int32)

        def draw():
            scaled = logits / temperature

            def filtered():
                kth = tf.math.top_k(scaled, k=top_k).values[:, -1:]
                return tf.where(scaled < kth, tf.fill(tf.shape(scaled), -float("inf")), scaled)

            scaled = tf.cond(top_k > 0, filtered, lambda: scaled)
            return categorical_per_row(scaled, seed, step)

        return tf.cond(temperature > 0.0, draw, greedy)
