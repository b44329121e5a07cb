"""Open Inference Protocol (KServe v2) over HTTP, so clients such as ``tritonclient.http`` work.

* ``GET /v2``, ``/v2/health/live``, ``/v2/health/ready``
* ``GET /v2/models/{name}[/versions/{v}]`` (metadata), ``.../ready``
* ``POST /v2/models/{name}[/versions/{v}]/infer``

Tensors come as JSON ``data`` (flat, row-major) or, with the binary tensor extension, as raw
bytes after the JSON header (``Inference-Header-Content-Length``); ``BYTES`` elements are
each prefixed by a little-endian uint32 length. Outputs go back as JSON unless the request
asks for binary (``binary_data_output`` or per-output ``binary_data``). The signature is
``serving_default`` unless the request's ``parameters`` name another in ``signature_name``.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from keras_rnn_contract import DEFAULT_SIGNATURE, Stock

from ..auth import require_api_key
from ..encoding import JSONBody, dumps, jsonable
from ..errors import bad_request
from ..exceptions import Unsupported
from ..registry import ModelVersion
from ..schemas import ERROR_RESPONSE, ERROR_RESPONSES
from ..service import Service, ServiceDep
from ..signatures import DTYPES, V2_TO_DTYPE, Signature, TensorInfo, to_array
from .body import parse_json, read_body

health = APIRouter(tags=["Open Inference Protocol v2"])
router = APIRouter(tags=["Open Inference Protocol v2"], dependencies=[Depends(require_api_key)])

_INFER_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["inputs"],
                    "properties": {
                        "id": {"type": "string"},
                        "parameters": {"type": "object"},
                        "inputs": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["name", "shape", "datatype"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "shape": {"type": "array", "items": {"type": "integer"}},
                                    "datatype": {"type": "string"},
                                    "data": {},
                                    "parameters": {"type": "object"},
                                },
                            },
                        },
                        "outputs": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "example": {
                    "inputs": [
                        {
                            "name": Stock.PRICES,
                            "shape": [1, 3],
                            "datatype": "FP32",
                            "data": [101.0, 102.5, 103.0],
                        }
                    ]
                },
            }
        },
    }
}
SERVER = {
    "name": "keras-rnn-serving",
    "version": "0.1.0",
    # Not `model_repository`: that extension promises load and unload, which this server
    # does not offer (the directory is watched; with --workers N an unload could reach only
    # one process). The index it serves anyway, for tritonclient.
    "extensions": ["binary_tensor_data"],
}


@health.get("/v2", summary="Server metadata")
async def server_metadata() -> JSONBody:
    return JSONBody(SERVER)


@health.get("/v2/health/live", summary="Liveness")
async def live() -> JSONBody:
    return JSONBody({"live": True})


@health.get(
    "/v2/health/ready",
    summary="Readiness (every model has a version ready)",
    responses={503: ERROR_RESPONSE},
)
async def ready(service: ServiceDep) -> JSONBody:
    service.registry.check_ready()
    return JSONBody({"ready": True})


def _tensor_meta(t: TensorInfo) -> dict[str, Any]:
    return {
        "name": t.name,
        "datatype": t.v2_datatype,
        "shape": t.dims() if t.shape is not None else [-1],
    }


def _model_metadata(service: Service, mv: ModelVersion) -> dict[str, Any]:
    sig = (
        mv.signature(None)
        if DEFAULT_SIGNATURE in mv.signatures
        else next(iter(mv.signatures.values()))
    )
    versions = service.registry.versions(mv.name)
    return {
        "name": mv.name,
        "versions": [str(v) for v, m in sorted(versions.items()) if m.ready],
        "platform": "tensorflow_savedmodel",
        "inputs": [_tensor_meta(t) for t in sig.inputs.values()],
        "outputs": [_tensor_meta(t) for t in sig.outputs.values()],
        "signatures": sorted(mv.signatures),
    }


@router.get("/v2/models/{name}", responses=ERROR_RESPONSES, summary="Model metadata")
async def model_metadata(name: str, service: ServiceDep) -> JSONBody:
    return JSONBody(_model_metadata(service, service.registry.get(name)))


@router.get(
    "/v2/models/{name}/versions/{version}",
    responses=ERROR_RESPONSES,
    summary="Model metadata (one version)",
)
async def version_metadata(name: str, version: int, service: ServiceDep) -> JSONBody:
    return JSONBody(_model_metadata(service, service.registry.get(name, version)))


def _ready(service: Service, name: str, version: int | None) -> JSONBody:
    service.registry.get(name, version)  # the one lookup: raises when nothing is ready
    return JSONBody({"name": name, "ready": True})


@router.get("/v2/models/{name}/ready", responses=ERROR_RESPONSES, summary="Model readiness")
async def model_ready(name: str, service: ServiceDep) -> JSONBody:
    return _ready(service, name, None)


@router.get(
    "/v2/models/{name}/versions/{version}/ready",
    responses=ERROR_RESPONSES,
    summary="Model readiness (one version)",
)
async def version_ready(name: str, version: int, service: ServiceDep) -> JSONBody:
    return _ready(service, name, version)


@router.post(
    "/v2/models/{name}/infer",
    responses=ERROR_RESPONSES,
    openapi_extra=_INFER_BODY,
    summary="Inference",
)
async def infer(name: str, request: Request, service: ServiceDep) -> Response:
    return await _infer(service, name, None, request)


@router.post(
    "/v2/models/{name}/versions/{version}/infer",
    responses=ERROR_RESPONSES,
    openapi_extra=_INFER_BODY,
    summary="Inference (one version)",
)
async def infer_version(name: str, version: int, request: Request, service: ServiceDep) -> Response:
    return await _infer(service, name, version, request)


def _split_body(request: Request, body: bytes) -> tuple[Any, bytes]:
    header = request.headers.get("inference-header-content-length")
    if header is None:
        json_part, binary = body, b""
    else:
        try:
            size = int(header)
        except ValueError:
            raise bad_request("Inference-Header-Content-Length is not an integer.") from None
        if not 0 < size <= len(body):
            raise bad_request(
                f"Inference-Header-Content-Length {size} does not fit the body of {len(body)} bytes."
            )
        json_part, binary = body[:size], body[size:]
    if not json_part:
        raise bad_request("The request body is empty; send a JSON inference request.")
    try:
        return orjson.loads(json_part), binary
    except orjson.JSONDecodeError as err:
        raise bad_request(f"The inference request is not valid JSON: {err}.") from None


def _decode_binary(raw: bytes, datatype: str, shape: list[int], where: str) -> Any:
    count = int(np.prod(shape)) if shape else 1
    if datatype == "BYTES":
        items, offset = [], 0
        for _ in range(count):
            if offset + 4 > len(raw):
                raise bad_request(f"Input `{where}`: binary BYTES data is truncated.")
            (n,) = struct.unpack_from("<I", raw, offset)
            offset += 4
            if offset + n > len(raw):
                raise bad_request(f"Input `{where}`: binary BYTES data is truncated.")
            items.append(raw[offset : offset + n])
            offset += n
        if offset != len(raw):
            raise bad_request(
                f"Input `{where}`: binary BYTES data has {len(raw) - offset} extra bytes."
            )
        return np.array(items, dtype=object).reshape(shape)
    name = V2_TO_DTYPE.get(datatype)
    if name is None or name == "string":
        raise bad_request(f"Input `{where}`: unsupported datatype {datatype!r}.")
    dtype = np.dtype(DTYPES[name][0]).newbyteorder("<")
    if len(raw) != count * dtype.itemsize:
        raise bad_request(
            f"Input `{where}`: {len(raw)} bytes of binary data do not match shape {shape} of {datatype}."
        )
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def _input_array(
    spec: Any, sig: Signature, service: Service, binary: bytes, offset: int
) -> tuple[str, np.ndarray, int]:
    if not isinstance(spec, dict):
        raise bad_request(
            "Every entry of `inputs` must be an object with name, shape, datatype and data."
        )
    name, shape, datatype = spec.get("name"), spec.get("shape"), spec.get("datatype")
    if not isinstance(name, str) or name not in sig.inputs:
        raise bad_request(
            f"Unknown input {name!r}; signature `{sig.name}` takes {sorted(sig.inputs)}."
        )
    info = sig.inputs[name]
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise bad_request(f"Input `{name}`: `shape` must be a list of non-negative integers.")
    if datatype != info.v2_datatype:
        raise bad_request(
            f"Input `{name}` has datatype {datatype!r}; the model expects {info.v2_datatype}."
        )
    count = int(np.prod(shape, dtype=np.float64)) if shape else 1
    if count > service.limits.max_instances * service.limits.max_sequence_length:
        raise bad_request(f"Input `{name}` has {count} elements, more than the limit.")
    params = spec.get("parameters") or {}
    size = params.get("binary_data_size") if isinstance(params, dict) else None
    if size is not None:
        if not isinstance(size, int) or size < 0 or offset + size > len(binary):
            raise bad_request(
                f"Input `{name}`: binary_data_size does not fit the binary data sent."
            )
        value = _decode_binary(binary[offset : offset + size], datatype, shape, name)
        offset += size
        if info.dtype == "string":
            arr = value
        else:
            arr = to_array(value.tolist(), info, service.limits, batched=info.batched)
            return name, arr, offset
    else:
        if "data" not in spec:
            raise bad_request(f"Input `{name}` has no `data`.")
        data = spec["data"]
        flat = (
            np.array(data, dtype=object).reshape(-1)
            if isinstance(data, list)
            else np.array([data], dtype=object)
        )
        if flat.size != count:
            raise bad_request(
                f"Input `{name}` has {flat.size} values but shape {shape} needs {count}."
            )
        if any(isinstance(x, (list, dict)) for x in flat):
            raise bad_request(
                f"Input `{name}`: `data` must be a flat list (or nested to match `shape`)."
            )
        arr = flat.reshape(shape)
    value = arr.tolist() if arr.ndim else arr.item()
    return name, to_array(value, info, service.limits, batched=info.batched), offset


async def _infer(service: Service, name: str, version: int | None, request: Request) -> Response:
    payload, binary = _split_body(request, await read_body(request))
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("inputs"), list)
        or not payload["inputs"]
    ):
        raise bad_request("An inference request is an object with a non-empty `inputs` list.")
    params = payload.get("parameters") or {}
    if not isinstance(params, dict):
        raise bad_request("`parameters` must be an object.")
    signature_name = params.get("signature_name")
    if signature_name is not None and not isinstance(signature_name, str):
        raise bad_request("`parameters.signature_name` must be a string.")
    mv = service.registry.get(name, version)
    sig = mv.signature(signature_name)
    arrays: dict[str, np.ndarray] = {}
    offset = 0
    for spec in payload["inputs"]:
        key, arr, offset = _input_array(spec, sig, service, binary, offset)
        if key in arrays:
            raise bad_request(f"Input `{key}` is given twice.")
        arrays[key] = arr
    outputs = await service.predict(mv, sig, arrays)

    requested = payload.get("outputs")
    binary_default = bool(params.get("binary_data_output", False))
    if requested is None:
        wanted = {k: binary_default for k in outputs}
    else:
        if not isinstance(requested, list) or not all(
            isinstance(o, dict) and isinstance(o.get("name"), str) for o in requested
        ):
            raise bad_request("`outputs` must be a list of objects with a `name`.")
        wanted = {}
        for o in requested:
            if o["name"] not in outputs:
                raise bad_request(
                    f"Unknown output {o['name']!r}; the signature has {sorted(outputs)}."
                )
            p = o.get("parameters") or {}
            wanted[o["name"]] = (
                bool(p.get("binary_data", binary_default))
                if isinstance(p, dict)
                else binary_default
            )
    result_outputs, chunks = [], []
    for key, is_binary in wanted.items():
        arr = np.asarray(outputs[key])
        info = sig.outputs.get(key)
        datatype = info.v2_datatype if info else "FP32"
        entry: dict[str, Any] = {"name": key, "datatype": datatype, "shape": list(arr.shape)}
        if is_binary:
            raw = _encode_binary(arr, datatype)
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            flat = arr.reshape(-1)
            entry["data"] = jsonable(flat)
        result_outputs.append(entry)
    body: dict[str, Any] = {
        "model_name": mv.name,
        "model_version": str(mv.version),
        "outputs": result_outputs,
    }
    if isinstance(payload.get("id"), str):
        body["id"] = payload["id"]
    header = dumps(body)
    if not chunks:
        return Response(header, media_type="application/json")
    return Response(
        header + b"".join(chunks),
        media_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": str(len(header))},
    )


def _encode_binary(arr: np.ndarray, datatype: str) -> bytes:
    if datatype == "BYTES":
        parts = []
        for x in arr.reshape(-1):
            b = x if isinstance(x, bytes) else str(x).encode()
            parts.append(struct.pack("<I", len(b)) + b)
        return b"".join(parts)
    name = V2_TO_DTYPE[datatype]
    return np.ascontiguousarray(arr, dtype=np.dtype(DTYPES[name][0]).newbyteorder("<")).tobytes()


# ---- Model repository extension ---------------------------------------------------------------
# The index lists every version the repository knows, in Triton's states. Load and unload are
# not offered: the repository is watched, and the version policy decides what is served.

_REPOSITORY_STATE = {
    "AVAILABLE": "READY",
    "START": "LOADING",
    "LOADING": "LOADING",
    "UNLOADING": "UNLOADING",
    "FAILED": "UNAVAILABLE",
    "END": "UNAVAILABLE",
}


@router.post(
    "/v2/repository/index",
    responses=ERROR_RESPONSES,
    summary="Model repository index (every version and its state)",
)
async def repository_index(request: Request, service: ServiceDep) -> JSONBody:
    """Triton's index: ``[{"name", "version", "state", "reason"}]``; body ``{"ready": true}``
    (optional) keeps only the versions ready to serve."""
    body = await read_body(request)
    options = parse_json(body) if body.strip() else {}
    if not isinstance(options, dict) or not isinstance(options.get("ready", False), bool):
        raise bad_request('The index request is an optional object `{"ready": true|false}`.')
    only_ready = options.get("ready", False)
    entries = []
    for name in service.registry.names():
        for version, mv in sorted(service.registry.versions(name).items()):
            if only_ready and not mv.ready:
                continue
            entry = {
                "name": name,
                "version": str(version),
                "state": _REPOSITORY_STATE.get(mv.state, "UNAVAILABLE"),
            }
            if mv.error:
                entry["reason"] = mv.error
            entries.append(entry)
    return JSONBody(entries)


_NO_LOAD = (
    "Loading and unloading models through the API is not supported by this server (as in "
    "Triton's poll mode): the model directory is watched; add or remove version directories, "
    "or POST /v1/admin/reload to scan now"
)


@router.post(
    "/v2/repository/models/{name}/load",
    include_in_schema=False,
)
async def repository_load(name: str) -> JSONBody:
    raise Unsupported(_NO_LOAD)


@router.post(
    "/v2/repository/models/{name}/unload",
    include_in_schema=False,
)
async def repository_unload(name: str) -> JSONBody:
    raise Unsupported(_NO_LOAD)
