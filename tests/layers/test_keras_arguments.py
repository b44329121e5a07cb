"""Every argument the `keras.layers` namesake accepts, ours accepts; Keras's configs load.

Drop-in means a config written by Keras (this version or an older one, which carries
arguments such as ``implementation``) builds our layer, and the layer computes the same
thing. The arguments are read from ``inspect.signature`` of the installed Keras, so a Keras
release that adds one makes this test name it.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import numpy as np
import pytest

from .parity import TOL, classes, randomize

# Sample values for Keras's arguments without a default (only `units`).
SAMPLES: dict[str, Any] = {"units": 3}

# What Keras's layers and cells take through **kwargs: (argument, value, classes that take it).
# `implementation` is read by LSTM/GRU and their cells (SimpleRNN refuses it, in Keras too);
# the rest belong to `keras.layers.RNN` and `keras.layers.Layer`.
LAYER_ONLY = ("SimpleRNN", "LSTM", "GRU")
EXTRA_KWARGS: list[tuple[str, Any, tuple[str, ...]]] = [
    ("implementation", 1, ("LSTM", "GRU", "LSTMCell", "GRUCell")),
    ("implementation", 2, ("LSTM", "GRU", "LSTMCell", "GRUCell")),
    ("implementation", 0, ("LSTM", "GRU", "LSTMCell", "GRUCell")),
    ("zero_output_for_mask", True, LAYER_ONLY),
    ("name", "my_rnn", ()),
    ("dtype", "float32", ()),
    ("trainable", False, ()),
    ("autocast", False, ()),
    ("input_shape", (5, 2), ()),
    ("input_dim", 2, ()),
]


def _both(kind: str, part: str) -> tuple[type, type, dict[str, Any]]:
    ours_layer, ours_cell, ref_layer, ref_cell, extra = classes(kind)
    if part == "layer":
        return ours_layer, ref_layer, extra
    return ours_cell, ref_cell, extra


def _accepts(cls: type, **kwargs: Any) -> Exception | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Keras warns about input_shape
            cls(**kwargs)
    except Exception as exc:  # the test reports what went wrong
        return exc
    return None


@pytest.mark.parametrize("part", ["layer", "cell"])
def test_every_signature_argument_is_accepted(kind: str, part: str) -> None:
    ours, ref, extra = _both(kind, part)
    params = inspect.signature(ref.__init__).parameters
    names = [n for n, p in params.items() if n != "self" and p.kind is not p.VAR_KEYWORD]
    assert "units" in names and len(names) > 10  # the signature is Keras's real one
    refused = {}
    for name in names:
        value = params[name].default
        if value is inspect.Parameter.empty:
            value = SAMPLES[name]
        kwargs = {"units": 3, **extra, name: value}
        assert _accepts(ref, **kwargs) is None, (ref.__name__, name)
        error = _accepts(ours, **kwargs)
        if error is not None:
            refused[name] = repr(error)
    assert not refused, f"{ours.__name__} refuses Keras's arguments: {refused}"


@pytest.mark.parametrize("part", ["layer", "cell"])
@pytest.mark.parametrize(("argument", "value", "takers"), EXTRA_KWARGS)
def test_keyword_arguments_are_accepted_as_keras_does(
    kind: str, part: str, argument: str, value: Any, takers: tuple[str, ...]
) -> None:
    """Through **kwargs: ours accepts exactly when Keras does (checked against Keras)."""
    ours, ref, extra = _both(kind, part)
    kwargs = {"units": 3, **extra, argument: value}
    keras_error = _accepts(ref, **kwargs)
    ours_error = _accepts(ours, **kwargs)
    expected = not takers or ref.__name__ in takers
    assert (keras_error is None) == expected, (ref.__name__, argument, keras_error)
    assert (ours_error is None) == (keras_error is None), (ours.__name__, argument, ours_error)


def test_implementation_is_kept_like_keras() -> None:
    import keras

    import keras_rnn

    for name in ("LSTM", "GRU"):
        ours = getattr(keras_rnn, name)(3, implementation=1)
        ref = getattr(keras.layers, name)(3, implementation=1)
        assert ours.cell.implementation == ref.cell.implementation == 1
        # Keras does not write it into configs; neither do we.
        assert "implementation" not in ours.get_config()
        assert "implementation" not in ref.get_config()


CONFIGS: list[dict[str, Any]] = [
    {},
    {"return_sequences": True, "go_backwards": True},
    {"activation": "relu", "use_bias": False, "dropout": 0.2, "seed": 3},
    {"kernel_regularizer": "l2", "recurrent_constraint": "non_neg", "stateful": False},
    {"implementation": 1},  # what older Keras configs carry
    {"implementation": 0, "zero_output_for_mask": True, "return_sequences": True},
]


@pytest.mark.parametrize("kwargs", CONFIGS, ids=lambda c: "-".join(c) or "defaults")
def test_keras_config_builds_ours_with_the_same_numbers(kind: str, kwargs: dict) -> None:
    """``Ours.from_config(keras_layer.get_config())`` (plus legacy keys) computes the same."""
    ours_cls, _, ref_cls, _, extra = classes(kind)
    if "implementation" in kwargs and ref_cls.__name__ == "SimpleRNN":
        pytest.skip("Keras's SimpleRNN has no `implementation` either")
    layer_kwargs = {k: v for k, v in kwargs.items() if k != "implementation"}
    ref = ref_cls(4, **extra, **layer_kwargs)
    config = ref.get_config()
    if "implementation" in kwargs:  # as an older Keras wrote it
        config["implementation"] = kwargs["implementation"]
    ours = ours_cls.from_config(config)
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype("float32")
    x[1, 3:] = 0.0
    ref_out, ours_out = ref(x), ours(x)  # builds both
    randomize_layer_pair(ref, ours)
    mask = np.array([[True] * 5, [True, True, True, False, False]])
    np.testing.assert_allclose(ours(x, mask=mask), ref(x, mask=mask), atol=TOL)
    assert ours_out.shape == ref_out.shape
    # ... and back: Keras builds its layer from our config.
    again = ref_cls.from_config(ours.get_config())
    assert again.get_config() == {**ref.get_config(), "name": again.name}


def randomize_layer_pair(ref: Any, ours: Any) -> None:
    rng = np.random.default_rng(1)
    weights = [(0.4 * rng.standard_normal(w.shape)).astype(w.dtype) for w in ref.get_weights()]
    ref.set_weights(weights)
    ours.set_weights(weights)


def test_model_config_with_legacy_arguments_loads() -> None:
    """A model config of our layers with `implementation` written in (as older Keras wrote
    it) loads through Keras's own deserialisation and computes the same."""
    import keras

    import keras_rnn

    inputs = keras.Input((6, 3))
    x = keras_rnn.LSTM(4, return_sequences=True)(inputs)
    x = keras_rnn.GRU(4)(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    randomize(model)
    config = model.get_config()
    legacy = [layer for layer in config["layers"] if layer["class_name"] in ("LSTM", "GRU")]
    assert len(legacy) == 2
    for layer in legacy:
        layer["config"]["implementation"] = 1
    again = keras.Model.from_config(config)
    assert {type(layer) for layer in again.layers} >= {keras_rnn.LSTM, keras_rnn.GRU}
    again.set_weights(model.get_weights())
    x = np.random.default_rng(2).standard_normal((2, 6, 3)).astype("float32")
    np.testing.assert_allclose(again(x), model(x), atol=TOL)
