"""TensorFlow Serving warm-up records, written beside every exported SavedModel.

TF Serving replays ``<version>/assets.extra/tf_serving_warmup_requests`` when it loads a
version and serves the version only afterwards, so the first real request does not pay for
graph tracing and kernel set-up. The file is a TFRecord file of serialized
``tensorflow.serving.PredictionLog`` protos, one ``PredictRequest`` per signature here.

``tensorflow_serving.apis`` is a separate package pinned to one TensorFlow release, so the
few messages needed are declared here, in a private descriptor pool, with the field numbers
of ``tensorflow_serving/apis/{prediction_log,predict,model}.proto``:

    PredictionLog { PredictLog predict_log = 6; }
    PredictLog    { PredictRequest request = 1; }
    PredictRequest{ ModelSpec model_spec = 1; map<string, TensorProto> inputs = 2; }
    ModelSpec     { string name = 1; string signature_name = 3; }

``inputs`` is declared as ``map<string, bytes>`` holding serialized ``TensorProto``s: a
length-delimited field carries the same bytes whether it is typed as a message or as bytes,
so the records are byte-for-byte what TF Serving's own classes write (tested against
``tensorflow_serving.apis`` where that package is installed).

Example inputs come from each signature's ``TensorInfo`` (dtype and shape, read from
``saved_model.pb`` without loading the graph): unknown batch -> 1, other unknown dims -> 20;
floats rise from 2700 to 2720 (a price window), scalar floats are 0.8 (a temperature),
integers are 3 (a length, ``k``, a token budget, a seed), strings are ``"to be or not"``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.protobuf import saved_model_pb2

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"
UNKNOWN_DIM = 20
TEXT = "to be or not"


@functools.cache
def _messages() -> dict[str, Any]:
    """The PredictionLog, PredictLog, PredictRequest and ModelSpec classes (private pool)."""
    fd = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(
        name="keras_rnn/tf_serving_warmup.proto", package="tensorflow.serving", syntax="proto3"
    )

    def message(name: str, *fields: tuple[str, int, int, str]) -> descriptor_pb2.DescriptorProto:
        msg = proto.message_type.add(name=name)
        for field_name, number, kind, type_name in fields:
            field = msg.field.add(name=field_name, number=number, type=kind)
            field.label = fd.LABEL_OPTIONAL
            if type_name:
                field.type_name = type_name
        return msg

    message("ModelSpec", ("name", 1, fd.TYPE_STRING, ""), ("signature_name", 3, fd.TYPE_STRING, ""))
    request = message(
        "PredictRequest", ("model_spec", 1, fd.TYPE_MESSAGE, ".tensorflow.serving.ModelSpec")
    )
    entry = request.nested_type.add(name="InputsEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=fd.TYPE_STRING, label=fd.LABEL_OPTIONAL)
    entry.field.add(name="value", number=2, type=fd.TYPE_BYTES, label=fd.LABEL_OPTIONAL)
    request.field.add(
        name="inputs",
        number=2,
        type=fd.TYPE_MESSAGE,
        type_name=".tensorflow.serving.PredictRequest.InputsEntry",
        label=fd.LABEL_REPEATED,
    )
    message("PredictLog", ("request", 1, fd.TYPE_MESSAGE, ".tensorflow.serving.PredictRequest"))
    message("PredictionLog", ("predict_log", 6, fd.TYPE_MESSAGE, ".tensorflow.serving.PredictLog"))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    names = ("ModelSpec", "PredictRequest", "PredictLog", "PredictionLog")
    return {
        n: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"tensorflow.serving.{n}"))
        for n in names
    }


def example_inputs(saved_model_dir: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Signature name -> example inputs, from ``saved_model.pb`` (see the module docstring)."""
    saved = saved_model_pb2.SavedModel.FromString(
        (Path(saved_model_dir) / "saved_model.pb").read_bytes()
    )
    if not saved.meta_graphs:
        return {}
    examples: dict[str, dict[str, np.ndarray]] = {}
    for name, signature in sorted(saved.meta_graphs[0].signature_def.items()):
        if name.startswith("__"):  # __saved_model_init_op: no inputs, not callable
            continue
        examples[name] = {
            key: _example(tf.dtypes.as_dtype(info.dtype), info.tensor_shape)
            for key, info in sorted(signature.inputs.items())
        }
    return examples


def _example(dtype: Any, shape: Any) -> np.ndarray:
    dims = [] if shape.unknown_rank else [d.size for d in shape.dim]
    dims = [(1 if i == 0 else UNKNOWN_DIM) if d < 0 else d for i, d in enumerate(dims)]
    if dtype.is_bool:
        return np.zeros(dims, dtype=bool)
    if dtype == "string":
        return np.full(dims, TEXT.encode(), dtype=object)
    if dtype.is_integer:
        return np.full(dims, 3, dtype=dtype.as_numpy_dtype)
    if not dims:
        return np.array(0.8, dtype=dtype.as_numpy_dtype)
    values = np.linspace(2700.0, 2720.0, int(np.prod(dims)))
    return values.reshape(dims).astype(dtype.as_numpy_dtype)


def warmup_records(model_name: str, examples: dict[str, dict[str, np.ndarray]]) -> list[bytes]:
    """One serialized ``PredictionLog`` per signature."""
    m = _messages()
    records = []
    for signature, inputs in examples.items():
        request = m["PredictRequest"](
            model_spec=m["ModelSpec"](name=model_name, signature_name=signature)
        )
        for key, value in inputs.items():
            request.inputs[key] = tf.make_tensor_proto(value).SerializeToString()
        log = m["PredictionLog"](predict_log=m["PredictLog"](request=request))
        # Deterministic: map entries sorted by key, so the same model always writes the same bytes.
        records.append(log.SerializeToString(deterministic=True))
    return records


def write_warmup_requests(saved_model_dir: str | Path, model_name: str) -> Path | None:
    """Write ``assets.extra/tf_serving_warmup_requests`` into a SavedModel directory.

    Returns the file, or None when the SavedModel has no callable signature.
    """
    examples = example_inputs(saved_model_dir)
    if not examples:
        return None
    path = Path(saved_model_dir) / WARMUP_DIR / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in warmup_records(model_name, examples):
            writer.write(record)
    return path


def read_warmup_requests(path: str | Path) -> list[tuple[str, str, dict[str, np.ndarray]]]:
    """Parse a warm-up file back: ``(model name, signature name, inputs)`` per record."""
    log_class = _messages()["PredictionLog"]
    requests = []
    for raw in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        log = log_class.FromString(raw)
        request = log.predict_log.request
        inputs = {
            key: tf.make_ndarray(tensor_pb2.TensorProto.FromString(value))
            for key, value in request.inputs.items()
        }
        requests.append((request.model_spec.name, request.model_spec.signature_name, inputs))
    return requests
