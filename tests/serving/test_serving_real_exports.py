"""The service on real (tiny, quickly trained) exports of the stock and text predictors:
answers match calling the SavedModel's signatures directly, in every dialect."""

from __future__ import annotations

import numpy as np
import pytest

from serving.signatures import _fixed, _unwrapped


@pytest.fixture(scope="module")
def real_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("real-models")
    try:
        from keras_rnn.predictors.stock import train_and_export as stock_export
        from keras_rnn.predictors.text import train_and_export as text_export
    except ImportError as err:  # the predictors are built in parallel; skip until they exist
        pytest.skip(f"a predictor package is not importable yet: {err}")
    stock_export(
        model_dir=root,
        epochs=1,
        units=4,
        window=10,
        min_window=5,
        trainer_options={"verbose": 0},
    )
    text_export(
        model_dir=str(root),
        corpus=None,
        max_chars=3000,
        seq_len=16,
        units=8,
        embedding_dim=4,
        epochs=1,
        max_generate_tokens=30,
        trainer={"verbose": 0},
    )
    return root


@pytest.fixture(scope="module")
def real_client(real_dir, app_factory):
    from fastapi.testclient import TestClient

    from tests.serving.helpers import wait_ready

    with TestClient(app_factory(real_dir)) as c:
        wait_ready(c, timeout=120)
        yield c


def _direct(real_dir, name: str, signature: str, **inputs):
    import tensorflow as tf

    fn = tf.saved_model.load(str(real_dir / name / "1")).signatures[signature]
    return {k: v.numpy() for k, v in fn(**{k: tf.constant(v) for k, v in inputs.items()}).items()}


def test_real_stock_export(real_client, real_dir):
    card = real_client.get("/v1/models/stock/card").json()
    assert card["task"] == "stock" and card["version"] == 1
    sample = real_client.get("/v1/stock/sample").json()
    prices = [float(p) for p in sample["prices"][-10:]]
    task = real_client.post("/v1/stock/forecast", json={"prices": prices})
    assert task.status_code == 200, task.text
    body = task.json()
    assert (
        body["model"] == "stock"
        and body["version"] == 1
        and body["horizon"] == len(body["forecast"])
    )
    want = _direct(real_dir, "stock", "serving_default", prices=np.array([prices], np.float32))[
        "forecast"
    ][0]
    np.testing.assert_allclose(body["forecast"], want, rtol=1e-5)
    # a realistic forecast: near the last price, not a unit mix-up
    assert abs(body["forecast"][0] / prices[-1] - 1) < 0.2
    rest = real_client.post("/v1/models/stock:predict", json={"instances": [prices]}).json()
    assert np.float32(rest["predictions"][0][0]) == np.float32(want[0])  # full float32 precision
    short = real_client.post("/v1/stock/forecast", json={"prices": prices[-3:]})
    assert short.status_code == 200, short.text


def test_real_text_export(real_client, real_dir):
    card = real_client.get("/v1/models/text/card").json()
    assert card["task"] == "text" and card["level"] in {"char", "word"}
    r = real_client.post("/v1/text/next", json={"text": "The ", "k": 4})
    assert r.status_code == 200, r.text
    suggestions = r.json()["suggestions"]
    probs = [s["probability"] for s in suggestions]
    assert (
        len(suggestions) == 4 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001
    )
    want = _direct(real_dir, "text", "next", text=np.array([b"The "]), k=np.int32(4))
    assert [s["token"] for s in suggestions] == [t.decode() for t in want["tokens"][0]]
    req = {"text": "The ", "max_tokens": 12, "temperature": 0.8, "seed": 5}
    a = real_client.post("/v1/text/generate", json=req).json()
    b = real_client.post("/v1/text/generate", json=req).json()
    assert a == b and a["text"] == "The " and a["continuation"]
    empty = real_client.post("/v1/text/next", json={"text": "", "k": 2})
    assert empty.status_code == 200, empty.text
    default = real_client.post("/v1/models/text:predict", json={"instances": ["The "]}).json()
    assert len(default["predictions"][0]["tokens"]) == 5


def test_real_stock_export_refusal_names_the_problem(real_client):
    """The model's own assertion comes back, not "Graph execution error:" or a node name."""
    r = real_client.post("/v1/models/stock:predict", json={"instances": [[0.0] * 12]})
    assert r.status_code == 400
    assert r.json() == {
        "error": "The model rejected the input: prices must be finite and > 0 within each "
        "row's length"
    }
    r = real_client.post(
        "/v1/models/stock:predict",
        json={"signature_name": "padded", "inputs": {"prices": [[1.0, 2.0]], "lengths": [3]}},
    )
    assert r.json() == {
        "error": "The model rejected the input: every length must be <= the number of time steps"
    }


def _loaded(real_dir, name: str, warmup: bool = True):
    from serving.registry import ModelVersion, load_version

    mv = ModelVersion(name=name, version=1, path=real_dir / name / "1")
    load_version(mv, warmup)
    return mv


def test_direct_call_answers_as_the_public_call_on_every_signature(real_dir):
    """After warm-up every signature of both real exports takes the direct call, and its
    answers are the public call's, bit for bit, on inputs where each argument differs
    (the flat order of the arguments matters: max_tokens and top_k are both int32 scalars)."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    prices = (100 + 10 * rng.random((3, 10))).astype(np.float32)
    inputs = {
        ("stock", "serving_default"): {"prices": prices},
        ("stock", "padded"): {"prices": prices, "lengths": np.array([10, 6, 7], np.int32)},
        ("text", "serving_default"): {"text": np.array([b"the ", b"a"], object)},
        ("text", "next"): {
            "text": np.array([b"the ", b"a"], object),
            "k": np.array(3, np.int32),
        },
        ("text", "generate"): {
            "text": np.array([b"the ", b"a"], object),
            "max_tokens": np.array(7, np.int32),
            "top_k": np.array(3, np.int32),
            "temperature": np.array(0.8, np.float32),
            "seed": np.array([5, 9], np.int32),
        },
    }
    seen = set()
    for name in ("stock", "text"):
        mv = _loaded(real_dir, name)
        for sig_name, sig in mv.signatures.items():
            arrays = inputs[(name, sig_name)]
            assert sig.calls_directly, f"{name}/{sig_name} kept the public call"
            # fixed captures (variable handles, tables, constants), past the loader's wrapper
            assert _fixed(sig.fn, list(sig.fn.captured_inputs)), f"{name}/{sig_name}"
            assert _unwrapped(sig.fn) != sig.fn._call_flat, f"{name}/{sig_name}"
            public = {
                k: v.numpy()
                for k, v in sig.fn(
                    **{k: tf.constant(v, dtype=sig.inputs[k].dtype) for k, v in arrays.items()}
                ).items()
            }
            got = sig(arrays)
            assert got.keys() == public.keys()
            for k in got:
                assert got[k].dtype == public[k].dtype and np.array_equal(got[k], public[k]), (
                    f"{name}/{sig_name} output {k}"
                )
            seen.add((name, sig_name))
    assert seen == set(inputs)


def test_scalar_inputs_are_converted_once_per_value_and_answer_as_fresh_ones(real_dir):
    """The generate signature's scalars come from a per-value cache: the same value reuses
    its tensor, another value gets its own (no stale answer), and the answers are those of
    the public call on fresh tensors."""
    import tensorflow as tf

    import serving.signatures as signatures

    sig = _loaded(real_dir, "text").signatures["generate"]

    def arrays(max_tokens: int, temperature: float) -> dict[str, np.ndarray]:
        return {
            "text": np.array([b"the "], object),
            "max_tokens": np.array(max_tokens, np.int32),
            "top_k": np.array(0, np.int32),
            "temperature": np.array(temperature, np.float32),
            "seed": np.array([5], np.int32),
        }

    def public(a: dict[str, np.ndarray]) -> bytes:
        fresh = {k: tf.constant(v, dtype=sig.inputs[k].dtype) for k, v in a.items()}
        return sig.fn(**fresh)["continuation"].numpy()[0]

    first = sig._tensors(arrays(5, 1.0))
    assert sig._tensors(arrays(5, 1.0))["max_tokens"] is first["max_tokens"]
    assert sig._tensors(arrays(9, 1.0))["max_tokens"] is not first["max_tokens"]
    assert sig._tensors(arrays(5, 1.0))["text"] is not first["text"]  # batched: never cached
    for a in (arrays(5, 1.0), arrays(9, 1.0), arrays(5, 0.0), arrays(9, 0.0), arrays(5, 1.0)):
        assert sig(a)["continuation"][0] == public(a)

    def chars(a: dict[str, np.ndarray]) -> int:
        return len(sig(a)["continuation"][0].decode("utf-8", "replace"))

    assert (chars(arrays(5, 0.0)), chars(arrays(9, 0.0))) == (5, 9)  # one character a token
    # bounded: past the limit the cache starts over
    for i in range(signatures._SCALARS_KEPT + 5):
        sig._tensors(arrays(5, float(i)))
    assert len(sig._scalars) <= signatures._SCALARS_KEPT


def test_captures_read_per_call_unless_fixed_tensors():
    """Deferred captures (computed per call) and variables are read on every call; only
    plain tensors are kept. Anything but the SavedModel loader's wrapper keeps its own
    ``_call_flat``."""
    import tensorflow as tf

    t = tf.constant(1.0)

    class Fn:
        def __init__(self, deferred):
            self._captured_inputs = deferred

        def _call_flat(self, args, captures):
            return args

    assert _fixed(Fn([t]), [t])
    assert not _fixed(Fn([lambda: t]), [t])
    v = tf.Variable(1.0)
    assert not _fixed(Fn([v]), [v])
    assert not _fixed(object(), [t])  # nothing to tell whether captures are deferred
    fn = Fn([t])
    assert _unwrapped(fn) == fn._call_flat


def test_public_call_without_warmup_or_where_the_direct_call_differs(real_dir):
    """No warm-up, no direct call; a private entry that fails, or answers differently
    (another TensorFlow), leaves the public call in place and the answers right."""
    mv = _loaded(real_dir, "stock", warmup=False)
    sig = mv.signatures["serving_default"]
    assert not sig.calls_directly
    prices = np.full((1, 10), 100.0, np.float32)
    want = sig({"prices": prices})["forecast"]

    class Proxy:
        """The loaded function, with its private entry replaced."""

        def __init__(self, fn, call_flat):
            self._fn, self._call_flat = fn, call_flat

        def __getattr__(self, name):
            return getattr(self._fn, name)

        def __call__(self, **kwargs):
            return self._fn(**kwargs)

    def broken(args, captured):
        raise TypeError("_call_flat() takes other arguments in this TensorFlow")

    def wrong(args, captured):
        out = sig.fn._call_flat(args, captured)
        return {k: v + 1.0 for k, v in out.items()}

    from serving.signatures import Signature

    for call_flat in (broken, wrong):
        other = Signature("serving_default", Proxy(sig.fn, call_flat))
        other.warm_up()
        assert not other.calls_directly, call_flat.__name__
        assert np.array_equal(other({"prices": prices})["forecast"], want)
