"""Bad constructor arguments and inputs raise ValueError naming the argument and the value."""

from __future__ import annotations

import re

import numpy as np
import pytest

from .parity import classes

BAD = [
    ({"units": 0}, "units", "0"),
    ({"units": -3}, "units", "-3"),
    ({"units": 2.5}, "units", "2.5"),
    ({"units": "8"}, "units", "'8'"),
    ({"dropout": -0.1}, "dropout", "-0.1"),
    ({"dropout": 1.0}, "dropout", "1.0"),
    ({"recurrent_dropout": 1.5}, "recurrent_dropout", "1.5"),
    ({"activation": "no_such_activation"}, "activation", "'no_such_activation'"),
]


@pytest.mark.parametrize("layer_or_cell", ["layer", "cell"])
@pytest.mark.parametrize(("kwargs", "argument", "value"), BAD)
def test_bad_argument(
    kind: str, layer_or_cell: str, kwargs: dict, argument: str, value: str
) -> None:
    ours_layer, ours_cell, *_, extra = classes(kind)
    cls = ours_layer if layer_or_cell == "layer" else ours_cell
    args = {"units": 4, **extra, **kwargs}
    with pytest.raises(ValueError, match=rf"`{argument}`.*got {re.escape(value)}"):
        cls(**args)


@pytest.mark.parametrize("kind", ["lstm", "gru"])  # SimpleRNN has no recurrent_activation
@pytest.mark.parametrize("layer_or_cell", ["layer", "cell"])
def test_bad_recurrent_activation(kind: str, layer_or_cell: str) -> None:
    ours_layer, ours_cell, *_ = classes(kind)
    cls = ours_layer if layer_or_cell == "layer" else ours_cell
    with pytest.raises(ValueError, match=r"`recurrent_activation`.*got 'nope'"):
        cls(4, recurrent_activation="nope")


def test_message_matches_keras_style() -> None:
    import keras_rnn

    with pytest.raises(ValueError) as info:
        keras_rnn.LSTM(0)
    assert str(info.value) == (
        "Received an invalid value for argument `units`, expected a positive integer, got 0."
    )


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 4, 5)])
def test_wrong_input_rank(kind: str, shape: tuple[int, ...]) -> None:
    ours_layer, *_, extra = classes(kind)
    layer = ours_layer(4, **extra)
    with pytest.raises(ValueError, match=r"expected ndim=3, found ndim=\d"):
        layer(np.zeros(shape, "float32"))


def test_bad_use_cudnn() -> None:
    import keras_rnn

    with pytest.raises(ValueError, match=r"`use_cudnn`.*got 'yes'"):
        keras_rnn.GRU(4, use_cudnn="yes")


def test_same_defaults_as_keras(kind: str) -> None:
    """Every constructor argument Keras's layer takes, ours takes, with the same default."""
    import inspect

    ours_layer, ours_cell, ref_layer, ref_cell, _ = classes(kind)
    for ours, ref in ((ours_layer, ref_layer), (ours_cell, ref_cell)):
        ref_params = inspect.signature(ref.__init__).parameters
        our_params = inspect.signature(ours.__init__).parameters
        for name, param in ref_params.items():
            if name in ("self", "kwargs") or param.kind is param.VAR_KEYWORD:
                continue
            if name in our_params:
                assert our_params[name].default == param.default, (ours.__name__, name)
            else:  # passed through **kwargs: the default lives on the base class
                layer = ours(4)
                config = layer.get_config()
                assert name in config, f"{ours.__name__} does not accept `{name}`"
                assert config[name] == param.default, (ours.__name__, name)
