"""Our layers reproduce the reference outputs of Keras's own SimpleRNN/LSTM/GRU tests.

Keras 3.15's layer tests (``keras/src/layers/rnn/{simple_rnn,lstm,gru}_test.py``) pin each
layer's output for constant weights (kernel 0.01, recurrent kernel 0.02, bias 0.03) on
``arange`` inputs. The same cases, with the expected numbers taken from those tests, run
here against our classes: with the fused loop and (``unroll=True``) Keras's loop, and with
the ``implementation`` values Keras's tests pass. With constant weights every unit has the
same value, so one number per sequence is given unless the initial state breaks the tie.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

ATOL = 1e-5


def constant_layer(name: str, units: int, **kwargs: Any) -> Any:
    import keras

    import keras_rnn

    return getattr(keras_rnn, name)(
        units,
        kernel_initializer=keras.initializers.Constant(0.01),
        recurrent_initializer=keras.initializers.Constant(0.02),
        bias_initializer=keras.initializers.Constant(0.03),
        **kwargs,
    )


def seq(*shape: int) -> np.ndarray:
    return np.arange(np.prod(shape)).reshape(shape).astype("float32")


def per_row(values: list[float], units: int) -> np.ndarray:
    return np.repeat(np.array(values, "float32")[:, None], units, axis=1)


# (layer, input shape, units, kwargs, expected per-sequence value)
CORRECTNESS = [
    ("SimpleRNN", (2, 3, 4), 4, {}, [0.405432, 0.73605347]),
    ("SimpleRNN", (2, 3, 4), 4, {"unroll": True}, [0.405432, 0.73605347]),
    ("SimpleRNN", (2, 3, 4), 4, {"go_backwards": True}, [0.11144729, 0.5528889]),
    ("SimpleRNN", (2, 3, 4), 4, {"go_backwards": True, "unroll": True}, [0.11144729, 0.5528889]),
    ("GRU", (3, 6, 4), 3, {}, [0.5217289, 0.6371659, 0.39384964]),
    ("GRU", (3, 6, 4), 3, {"go_backwards": True}, [0.24406259, 0.611516, 0.3928808]),
    ("GRU", (3, 6, 4), 3, {"unroll": True}, [0.5217289, 0.6371659, 0.39384964]),
    ("GRU", (3, 6, 4), 3, {"reset_after": False}, [0.51447755, 0.6426879, 0.40208298]),
    ("GRU", (3, 6, 4), 3, {"use_bias": False}, [0.49988455, 0.64701194, 0.4103359]),
]
for _impl in (1, 2):
    CORRECTNESS += [
        ("LSTM", (3, 6, 4), 3, {"implementation": _impl}, [0.6288687, 0.86899155, 0.9460773]),
        (
            "LSTM",
            (3, 6, 4),
            3,
            {"implementation": _impl, "go_backwards": True},
            [0.35622165, 0.74789524, 0.8872726],
        ),
        (
            "LSTM",
            (3, 6, 4),
            3,
            {"implementation": _impl, "unroll": True},
            [0.6288687, 0.86899155, 0.9460773],
        ),
        (
            "LSTM",
            (3, 6, 4),
            3,
            {"implementation": _impl, "unit_forget_bias": False},
            [0.57019705, 0.8661914, 0.9459622],
        ),
        (
            "LSTM",
            (3, 6, 4),
            3,
            {"implementation": _impl, "use_bias": False},
            [0.54986924, 0.86226785, 0.9443936],
        ),
    ]


@pytest.mark.parametrize(("name", "shape", "units", "kwargs", "expected"), CORRECTNESS)
def test_correctness(name: str, shape: tuple, units: int, kwargs: dict, expected: list) -> None:
    output = constant_layer(name, units, **kwargs)(seq(*shape))
    np.testing.assert_allclose(output, per_row(expected, units), atol=ATOL, rtol=ATOL)


def test_gru_config_with_legacy_implementation_zero() -> None:
    import keras_rnn

    config = constant_layer("GRU", 3).get_config()
    config["implementation"] = 0
    layer = keras_rnn.GRU.from_config(config)
    expected = per_row([0.5217289, 0.6371659, 0.39384964], 3)
    np.testing.assert_allclose(layer(seq(3, 6, 4)), expected, atol=ATOL, rtol=ATOL)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("SimpleRNN", [0.40559256, 0.7361247]),
        ("LSTM", [0.3124785, 0.6863672]),
        ("GRU", [0.29542392, 0.5885018]),
    ],
)
def test_statefulness(name: str, expected: list) -> None:
    layer = constant_layer(name, 4, stateful=True)
    for _ in range(2):  # a second run from the reset state gives the same
        layer(seq(2, 3, 4))
        output = layer(seq(2, 3, 4))
        np.testing.assert_allclose(output, per_row(expected, 4), atol=ATOL, rtol=ATOL)
        layer.reset_state()


INITIAL_STATE = [
    (
        "SimpleRNN",
        4,
        1,
        {},
        per_row([0.33621645, 0.6262637], 4),
    ),
    ("SimpleRNN", 4, 1, {"go_backwards": True}, per_row([0.07344437, 0.43043602], 4)),
    ("LSTM", 2, 2, {}, [[0.20574439, 0.3558822], [0.64930826, 0.66276]]),
    ("LSTM", 2, 2, {"go_backwards": True}, [[0.13281618, 0.2790356], [0.5839337, 0.5992567]]),
    ("GRU", 2, 1, {}, [[0.23774096, 0.33508456], [0.83659905, 1.0227708]]),
    ("GRU", 2, 1, {"go_backwards": True}, [[0.13486053, 0.23261218], [0.78257304, 0.9691353]]),
]


@pytest.mark.parametrize(("name", "units", "states", "kwargs", "expected"), INITIAL_STATE)
def test_pass_initial_state(
    name: str, units: int, states: int, kwargs: dict, expected: Any
) -> None:
    state = seq(2, units)
    initial = [state] * states if states > 1 else state
    output = constant_layer(name, units, **kwargs)(seq(2, 4, 3), initial_state=initial)
    np.testing.assert_allclose(output, np.asarray(expected), atol=ATOL, rtol=ATOL)


def test_gru_return_state_is_the_output() -> None:
    for backwards, expected in (
        (False, [[0.23774096, 0.33508456], [0.83659905, 1.0227708]]),
        (True, [[0.13486053, 0.23261218], [0.78257304, 0.9691353]]),
    ):
        layer = constant_layer("GRU", 2, return_state=True, go_backwards=backwards)
        output, state = layer(seq(2, 4, 3), initial_state=seq(2, 2))
        np.testing.assert_allclose(output, expected, atol=ATOL, rtol=ATOL)
        np.testing.assert_allclose(state, output, atol=ATOL, rtol=ATOL)


GAPPY = [[True, True, False, True], [True, False, False, True]]
MASKING = [
    ("SimpleRNN", 4, GAPPY, {}, [0.32951632, 0.61799484]),
    ("SimpleRNN", 4, GAPPY, {"go_backwards": True}, [0.07376196, 0.43645123]),
    (
        "LSTM",
        2,
        [[True, True, True, False], [True, True, False, False]],
        {},
        [0.11755939, 0.28556206],
    ),
    (
        "LSTM",
        2,
        [[False, True, True, True], [False, False, True, True]],
        {"go_backwards": True},
        [0.15341201, 0.3844719],
    ),
    ("GRU", 2, GAPPY, {}, [0.19393763, 0.30818558]),
    ("GRU", 2, GAPPY, {"go_backwards": True}, [0.11669192, 0.28380975]),
]


@pytest.mark.parametrize("unroll", [False, True], ids=["fused", "keras_loop"])
@pytest.mark.parametrize(("name", "units", "mask", "kwargs", "expected"), MASKING)
def test_masking(
    name: str, units: int, mask: list, kwargs: dict, expected: list, unroll: bool
) -> None:
    layer = constant_layer(name, units, unroll=unroll, **kwargs)
    output = layer(seq(2, 4, 3), mask=np.array(mask))
    np.testing.assert_allclose(output, per_row(expected, units), atol=ATOL, rtol=ATOL)
