"""A SavedModel signature as the service sees it: typed inputs, JSON -> numpy, and the call.

JSON values are turned into numpy arrays checked against the signature's ``TensorSpec``
(dtype, rank, fixed dimensions) and the configured limits before anything reaches
TensorFlow, so a bad request is a 400 that names the input, never a TensorFlow error.
"""

from __future__ import annotations

import base64
import binascii
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from .exceptions import InvalidInput as bad_request  # a core error; serving.errors maps it
from .limits import Limits

# TF dtype name -> (numpy dtype, TF Serving enum name, KServe v2 datatype)
DTYPES: dict[str, tuple[Any, str, str]] = {
    "float32": (np.float32, "DT_FLOAT", "FP32"),
    "float64": (np.float64, "DT_DOUBLE", "FP64"),
    "float16": (np.float16, "DT_HALF", "FP16"),
    "int8": (np.int8, "DT_INT8", "INT8"),
    "int16": (np.int16, "DT_INT16", "INT16"),
    "int32": (np.int32, "DT_INT32", "INT32"),
    "int64": (np.int64, "DT_INT64", "INT64"),
    "uint8": (np.uint8, "DT_UINT8", "UINT8"),
    "bool": (np.bool_, "DT_BOOL", "BOOL"),
    "string": (object, "DT_STRING", "BYTES"),
}
V2_TO_DTYPE = {v2: name for name, (_, _, v2) in DTYPES.items()}


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str  # TF dtype name, e.g. "float32"
    shape: tuple[int | None, ...] | None  # None: unknown rank

    @property
    def batched(self) -> bool:
        """True when dimension 0 is the (variable) batch dimension."""
        return bool(self.shape) and self.shape[0] is None

    @property
    def v2_datatype(self) -> str:
        return DTYPES.get(self.dtype, (None, None, self.dtype.upper()))[2]

    @property
    def tf_enum(self) -> str:
        return DTYPES.get(self.dtype, (None, f"DT_{self.dtype.upper()}", None))[1]

    def dims(self) -> list[int]:
        return [-1 if d is None else d for d in (self.shape or ())]


def _tensor_info(name: str, spec: Any) -> TensorInfo:
    shape = None if spec.shape.rank is None else tuple(spec.shape.as_list())
    return TensorInfo(name=name, dtype=spec.dtype.name, shape=shape)


_SCALARS_KEPT = 256  # scalar tensors kept per signature (distinct values seen)


class Signature:
    """One callable signature of a loaded SavedModel."""

    def __init__(self, name: str, fn: Any):
        self.name = name
        self.fn = fn
        _, kwargs = fn.structured_input_signature
        self.inputs: dict[str, TensorInfo] = {
            k: _tensor_info(k, s) for k, s in sorted(kwargs.items())
        }
        outputs = fn.structured_outputs
        if not isinstance(outputs, dict):
            outputs = {"output_0": outputs}
        self.outputs: dict[str, TensorInfo] = {
            k: _tensor_info(k, s) for k, s in sorted(outputs.items())
        }
        # Set by warm_up() once the direct call has given the public call's answer.
        self._direct: Any = None
        # Numeric scalar inputs (max_tokens, temperature, top_k, k) as tensors, by value.
        self._scalars: dict[tuple[str, str, bytes], Any] = {}

    @functools.cached_property
    def batched_inputs(self) -> tuple[str, ...]:
        """The inputs whose dimension 0 is the batch (fixed for a signature)."""
        return tuple(n for n, t in self.inputs.items() if t.batched)

    def check_input_names(self, names: Any) -> None:
        """400 unless ``names`` are exactly this signature's inputs (says which are off)."""
        if isinstance(names, dict) and names.keys() == self.inputs.keys():
            return
        missing = sorted(set(self.inputs) - set(names))
        unknown = sorted(set(names) - set(self.inputs))
        if missing or unknown:
            raise bad_request(
                f"Signature `{self.name}` takes inputs {sorted(self.inputs)}"
                + (f"; missing {missing}" if missing else "")
                + (f"; unknown {unknown}" if unknown else "")
                + "."
            )

    def __call__(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the signature; blocking (call it off the event loop)."""
        tensors = self._tensors(arrays)
        direct = self._direct
        if direct is not None and tensors.keys() == self.inputs.keys():
            result = direct(tensors)
        else:
            result = self.fn(**tensors)
        return _numpy_outputs(result)

    @property
    def calls_directly(self) -> bool:
        """Whether calls skip the public call's argument binding (see :meth:`warm_up`)."""
        return self._direct is not None

    def warm_up(self) -> None:
        """One call on :meth:`example_inputs`; then the direct call, if it answers the same.

        The public call, ``fn(**tensors)``, binds its keyword arguments to the signature's
        ``FunctionType`` on every call: 40-110 us of Python here, of the small stock model's
        550-850 us call at a batch of one. What it does next, ``fn._call_flat(the inputs in
        the FunctionType's order, fn.captured_inputs)``, is TensorFlow's own entry (private:
        not promised across versions). The service calls it directly only where it exists
        and has just returned exactly what the public call returns; otherwise it keeps the
        public call. Where the captures are fixed tensors, the direct call also reads them
        once and steps over the SavedModel loader's wrapper (:func:`_direct_call`). The
        binding checks nothing the service has not checked already:
        :func:`to_array` gives every input its declared dtype, rank and fixed dimensions,
        and the routes require exactly the signature's input names.
        """
        arrays = self.example_inputs()
        expected = self(arrays)
        direct = _direct_call(self.fn, list(self.inputs))
        if direct is None:
            return
        try:
            got = _numpy_outputs(direct(self._tensors(arrays)))
        except Exception:  # another TensorFlow's private entry: keep the public call
            return
        if _same_outputs(got, expected):
            self._direct = direct

    def _tensors(self, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
        """Each array as a tensor of its input's dtype.

        A numeric scalar is converted once per value and the tensor reused (tensors are
        immutable): right after a model call a conversion took 14-27 us here, and a
        generation passes three scalars that nearly always repeat."""
        import tensorflow as tf

        tensors = {}
        for k, v in arrays.items():
            if v.ndim == 0 and v.dtype.kind in "biuf":
                key = (k, v.dtype.str, v.tobytes())
                t = self._scalars.get(key)
                if t is None:
                    if len(self._scalars) >= _SCALARS_KEPT:
                        self._scalars.clear()
                    t = self._scalars[key] = tf.constant(v, dtype=self.inputs[k].dtype)
                tensors[k] = t
            else:
                tensors[k] = tf.constant(v, dtype=self.inputs[k].dtype)
        return tensors

    def example_inputs(self) -> dict[str, np.ndarray]:
        """Smallest valid inputs for a warm-up call: one row of length one, ones everywhere."""
        arrays = {}
        for name, info in self.inputs.items():
            shape = [1] if info.shape is None else [1 if d is None else d for d in info.shape]
            if info.dtype == "string":
                arrays[name] = np.full(shape, b"a", dtype=object)
            else:
                arrays[name] = np.ones(shape, dtype=DTYPES.get(info.dtype, (np.float32,))[0])
        return arrays

    def describe(self) -> dict[str, Any]:
        """TF Serving's SignatureDef JSON (as in GET /v1/models/{name}/metadata)."""

        def tensor(t: TensorInfo) -> dict[str, Any]:
            if t.shape is None:
                shape: dict[str, Any] = {"dim": [], "unknown_rank": True}
            else:
                shape = {
                    "dim": [{"size": str(d), "name": ""} for d in t.dims()],
                    "unknown_rank": False,
                }
            return {"dtype": t.tf_enum, "tensor_shape": shape, "name": f"{self.name}_{t.name}:0"}

        return {
            "inputs": {k: tensor(t) for k, t in self.inputs.items()},
            "outputs": {k: tensor(t) for k, t in self.outputs.items()},
            "method_name": "tensorflow/serving/predict",
        }


def _numpy_outputs(result: Any) -> dict[str, np.ndarray]:
    if not isinstance(result, dict):
        result = {"output_0": result}
    return {k: v.numpy() for k, v in result.items()}


def _direct_call(fn: Any, names: list[str]) -> Any:
    """``tensors -> outputs`` through ``fn._call_flat``, or None where that does not fit.

    ``names``: the signature's input names, sorted."""
    call_flat = getattr(fn, "_call_flat", None)
    try:
        order = list(fn.function_type.parameters)
        captures = list(fn.captured_inputs)
        plain = len(fn.inputs) == len(order) + len(captures)  # a tensor per parameter
    except Exception:
        return None
    if call_flat is None or not plain or sorted(order) != names:
        return None
    if _fixed(fn, captures):
        flat = _unwrapped(fn)
        return lambda tensors: flat([tensors[k] for k in order], captures)
    # captures that may change: read on every call, as the public call reads them
    return lambda tensors: call_flat([tensors[k] for k in order], fn.captured_inputs)


def _fixed(fn: Any, captures: list[Any]) -> bool:
    """Whether ``fn``'s captures are plain tensors, the same on every call: a loaded
    SavedModel's variable handles and constants (no deferred captures, which are computed
    per call, and no variables, distributed or not, which are resolved per call)."""
    import tensorflow as tf

    deferred = getattr(fn, "_captured_inputs", None)
    if deferred is None or any(callable(x) for x in deferred):
        return False
    return all(
        tf.is_tensor(c) and not isinstance(c, (tf.Variable, tf.distribute.DistributedValues))
        for c in captures
    )


def _unwrapped(fn: Any) -> Any:
    """``fn._call_flat``, beneath the SavedModel loader's ``_WrapperFunction`` where ``fn`` is
    one: that override only swaps distributed variables among the captures for their
    handles (and :func:`_fixed` has found none), then calls the ``ConcreteFunction``'s own.
    Skipping it saves 25-45 us a call here (the replica-context check and the map)."""
    cls = type(fn)
    if cls.__name__ == "_WrapperFunction" and cls.__module__.endswith("saved_model.load"):
        for base in cls.__mro__[1:]:
            impl = vars(base).get("_call_flat")
            if impl is not None:
                return lambda args, captures: impl(fn, args, captures)
    return fn._call_flat


def _same_outputs(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    if a.keys() != b.keys():
        return False
    for k, x in a.items():
        y = b[k]
        if x.dtype != y.dtype or x.shape != y.shape:
            return False
        nan_ok = x.dtype.kind in "fc"
        if not np.array_equal(x, y, equal_nan=nan_ok):
            return False
    return True


def _decode_string(value: Any, where: str, limits: Limits) -> bytes:
    if isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str):
        try:
            data = base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, ValueError):
            raise bad_request(
                f"Input `{where}` has a `b64` value that is not valid base64."
            ) from None
    elif isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
    elif isinstance(value, bytes):  # binary tensor data (Open Inference Protocol)
        data = value
    else:
        raise bad_request(f"Input `{where}` expects strings, got {type(value).__name__}.")
    if len(data) > limits.max_text_chars * 4 or (
        isinstance(value, str) and len(value) > limits.max_text_chars
    ):
        raise bad_request(
            f"Input `{where}` has a string longer than the limit of {limits.max_text_chars} characters."
        )
    return data


def _nested_strings(value: Any, where: str, limits: Limits) -> Any:
    if isinstance(value, list):
        return [_nested_strings(v, where, limits) for v in value]
    return _decode_string(value, where, limits)


def to_array(value: Any, info: TensorInfo, limits: Limits, *, batched: bool) -> np.ndarray:
    """Convert a JSON value to an array for ``info``; raise ``InvalidInput`` when it does not fit.

    Args:
        value: the JSON value (nested lists, numbers, strings, ``{"b64": ...}``).
        info: the signature's input.
        batched: whether ``value`` includes the batch dimension.
    """
    where = info.name
    if info.dtype == "string":
        data = _nested_strings(value, where, limits)
        try:
            arr = np.array(data, dtype=object)
        except ValueError:
            raise bad_request(
                f"Input `{where}` is ragged: every row must have the same length."
            ) from None
        if arr.dtype != object or any(not isinstance(x, bytes) for x in arr.reshape(-1)):
            raise bad_request(f"Input `{where}` is ragged: every row must have the same length.")
    else:
        if info.dtype not in DTYPES:
            raise bad_request(
                f"Input `{where}` has dtype {info.dtype}, which this service cannot feed from JSON."
            )
        try:
            arr = np.array(value)
        except (ValueError, OverflowError, TypeError):
            raise bad_request(
                f"Input `{where}` is ragged or not numeric: every row must have the same length."
            ) from None
        kind = arr.dtype.kind
        target = DTYPES[info.dtype][0]
        if info.dtype == "bool":
            if kind != "b":
                raise bad_request(f"Input `{where}` expects booleans.")
        elif np.issubdtype(target, np.integer):
            if kind not in "iu":
                raise bad_request(
                    f"Input `{where}` expects integers ({info.dtype}), got {_kind_name(arr)}."
                )
            bounds = np.iinfo(target)
            if arr.size and (arr.min() < bounds.min or arr.max() > bounds.max):
                raise bad_request(f"Input `{where}` has a value outside the {info.dtype} range.")
        else:
            if kind not in "iuf":
                raise bad_request(
                    f"Input `{where}` expects numbers ({info.dtype}), got {_kind_name(arr)}."
                )
            arr = arr.astype(np.float64, copy=False)
            if not np.isfinite(arr).all():
                raise bad_request(f"Input `{where}` contains NaN or infinity; send finite numbers.")
            big = float(np.finfo(target).max)
            if arr.size and np.abs(arr).max() > big:
                raise bad_request(
                    f"Input `{where}` has a value too large for {info.dtype} (max {big:.6g})."
                )
        arr = arr.astype(target)
    _check_shape(arr, info, limits, batched=batched)
    return arr


def _kind_name(arr: np.ndarray) -> str:
    return {
        "b": "booleans",
        "U": "strings",
        "S": "strings",
        "O": "mixed values",
        "f": "floats",
    }.get(arr.dtype.kind, str(arr.dtype))


def _check_shape(arr: np.ndarray, info: TensorInfo, limits: Limits, *, batched: bool) -> None:
    where = info.name
    if info.shape is not None:
        want = info.shape if batched else info.shape[1:] if info.batched else info.shape
        if arr.ndim != len(want):
            raise bad_request(
                f"Input `{where}` has rank {arr.ndim} but the signature expects rank {len(want)} "
                f"(shape {[-1 if d is None else d for d in want]}{', after the batch dimension' if not batched and info.batched else ''})."
            )
        for axis, (got, exp) in enumerate(zip(arr.shape, want, strict=True)):
            if exp is not None and got != exp:
                raise bad_request(
                    f"Input `{where}` has size {got} in dimension {axis}; the signature expects {exp}."
                )
    if arr.ndim and 0 in arr.shape:
        raise bad_request(f"Input `{where}` is empty (shape {list(arr.shape)}).")
    if batched and arr.ndim and arr.shape[0] > limits.max_instances:
        raise bad_request(
            f"Too many instances: {arr.shape[0]} (the limit is {limits.max_instances})."
        )
    inner = arr.shape[1:] if batched else arr.shape
    if any(d > limits.max_sequence_length for d in inner):
        raise bad_request(
            f"Input `{where}` is too long: {max(inner)} (the limit is {limits.max_sequence_length})."
        )
