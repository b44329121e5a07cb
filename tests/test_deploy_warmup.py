"""TensorFlow Serving warm-up records written at export: the file parses back (with our own
message classes and with tensorflow_serving's where installed), holds one request per
signature, and every request runs on the SavedModel it was written for."""

from __future__ import annotations

import numpy as np
import pytest

from keras_rnn.predictors import warmup


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Tiny, quickly trained stock and text predictors, exported the way the CLI does."""
    from keras_rnn.predictors.stock import train_and_export as stock_export
    from keras_rnn.predictors.text import train_and_export as text_export

    root = tmp_path_factory.mktemp("warmup-models")
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
        max_chars=2000,
        seq_len=16,
        units=8,
        embedding_dim=4,
        epochs=1,
        max_generate_tokens=30,
        trainer={"verbose": 0},
    )
    return root


@pytest.mark.parametrize("name", ["stock", "text"])
def test_every_signature_has_a_warmup_request_that_runs(exports, name):
    import tensorflow as tf

    version = exports / name / "1"
    path = version / "assets.extra" / "tf_serving_warmup_requests"
    assert path.is_file(), "no warm-up file was written at export"
    loaded = tf.saved_model.load(str(version))
    requests = warmup.read_warmup_requests(path)
    assert sorted(sig for _, sig, _ in requests) == sorted(loaded.signatures)
    for model_name, signature, inputs in requests:
        assert model_name == name
        fn = loaded.signatures[signature]
        expected = fn.structured_input_signature[1]
        assert set(inputs) == set(expected)
        outputs = fn(**{k: tf.constant(v, dtype=expected[k].dtype) for k, v in inputs.items()})
        for value in outputs.values():
            value = value.numpy()
            if value.dtype.kind == "f":
                assert np.isfinite(value).all(), (signature, value)


def test_records_parse_with_tensorflow_servings_own_classes(exports):
    """Byte-compatible with ``tensorflow_serving.apis.prediction_log_pb2.PredictionLog``."""
    prediction_log_pb2 = pytest.importorskip("tensorflow_serving.apis.prediction_log_pb2")
    import tensorflow as tf

    path = exports / "text" / "1" / "assets.extra" / "tf_serving_warmup_requests"
    ours = warmup.read_warmup_requests(path)
    raw = list(tf.data.TFRecordDataset(str(path)).as_numpy_iterator())
    assert len(raw) == len(ours) == 3  # serving_default, next, generate
    for record, (name, signature, inputs) in zip(raw, ours, strict=True):
        log = prediction_log_pb2.PredictionLog.FromString(record)
        assert log.WhichOneof("log_type") == "predict_log"
        request = log.predict_log.request
        assert (request.model_spec.name, request.model_spec.signature_name) == (name, signature)
        assert set(request.inputs) == set(inputs)
        for key, tensor in request.inputs.items():
            np.testing.assert_array_equal(tf.make_ndarray(tensor), inputs[key])
        # Nothing unknown, nothing lost. Deterministic serialization sorts map entries by key,
        # as the writer does; a plain one follows the map's hash order, which is unspecified.
        assert log.SerializeToString(deterministic=True) == record


def test_record_bytes_follow_the_field_numbers():
    """PredictionLog.predict_log is field 6, PredictLog.request 1, PredictRequest.model_spec 1
    and inputs 2, ModelSpec.name 1 and signature_name 3 (all length-delimited)."""
    (record,) = warmup.warmup_records("m", {"s": {"x": np.array([1.0], dtype=np.float32)}})
    assert record[0] == (6 << 3) | 2  # predict_log
    body = record[2:]
    assert body[0] == (1 << 3) | 2  # request
    request = body[2:]
    assert request[0] == (1 << 3) | 2  # model_spec
    spec = request[2 : 2 + request[1]]
    assert spec == b"\x0a\x01m\x1a\x01s"  # name = "m", signature_name = "s"
    assert request[2 + request[1]] == (2 << 3) | 2  # inputs map entry


def test_no_signatures_no_file(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"")
    assert warmup.write_warmup_requests(tmp_path, "m") is None
    assert not (tmp_path / "assets.extra").exists()
