"""TensorFlow Serving's REST API: same paths, same JSON, so TF Serving clients work unchanged.

* ``GET /v1/models/{name}[/versions/{v}]`` -> ``{"model_version_status": [...]}``
* ``GET /v1/models/{name}[/versions/{v}]/metadata`` -> signature defs
* ``POST /v1/models/{name}[/versions/{v}]:predict`` with the row format
  (``{"instances": [...]}`` -> ``{"predictions": [...]}``) or the columnar format
  (``{"inputs": ...}`` -> ``{"outputs": ...}``), and ``signature_name``.

TF Serving's ``:classify`` and ``:regress`` (for ``tensorflow/serving/classify`` and
``regress`` signatures, which these models do not export) and its ``/labels/{label}`` paths
(version labels, which this repository does not have) answer 501 with
``{"error": "... is not supported by this server; use :predict"}``.

Starlette path parameters match ``[^/]+``, so ``/v1/models/{name}:predict`` works as a
template: the regex backtracks over the literal ``:predict``. A GET on ``stock:predict``
falls through to ``/v1/models/{name}`` and answers 404 for the unknown model
``stock:predict``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Request

from keras_rnn_contract import DEFAULT_SIGNATURE

from ..auth import require_api_key
from ..encoding import JSONBody, jsonable
from ..errors import bad_request
from ..exceptions import Unsupported
from ..registry import ModelVersion
from ..schemas import ERROR_RESPONSES
from ..service import Service, ServiceDep
from ..signatures import Signature, to_array
from .body import parse_json, read_body

router = APIRouter(tags=["TensorFlow Serving REST API"], dependencies=[Depends(require_api_key)])


_PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "signature_name": {"type": "string"},
                        "instances": {"type": "array", "items": {}},
                        "inputs": {},
                    },
                },
                "example": {
                    "signature_name": DEFAULT_SIGNATURE,
                    "instances": [[101.0, 102.5, 103.0]],
                },
            }
        },
    }
}


def _status(mv: ModelVersion) -> dict[str, Any]:
    state = "END" if mv.state == "FAILED" else mv.state
    failed = mv.state == "FAILED"
    return {
        "version": str(mv.version),
        "state": state,
        "status": {"error_code": "UNKNOWN" if failed else "OK", "error_message": mv.error or ""},
    }


@router.get("/v1/models/{name}", responses=ERROR_RESPONSES, summary="Model status (all versions)")
async def model_status(name: str, service: ServiceDep) -> JSONBody:
    versions = service.registry.versions(name)
    return JSONBody(
        {"model_version_status": [_status(versions[v]) for v in sorted(versions, reverse=True)]}
    )


@router.get(
    "/v1/models/{name}/versions/{version}",
    responses=ERROR_RESPONSES,
    summary="Model status (one version)",
)
async def version_status(name: str, version: int, service: ServiceDep) -> JSONBody:
    return JSONBody({"model_version_status": [_status(service.registry.version(name, version))]})


def _metadata(mv: ModelVersion) -> dict[str, Any]:
    return {
        "model_spec": {"name": mv.name, "signature_name": "", "version": str(mv.version)},
        "metadata": {
            "signature_def": {"signature_def": {n: s.describe() for n, s in mv.signatures.items()}}
        },
    }


@router.get(
    "/v1/models/{name}/metadata", responses=ERROR_RESPONSES, summary="Signature definitions"
)
async def metadata(name: str, service: ServiceDep) -> JSONBody:
    return JSONBody(_metadata(service.registry.get(name)))


@router.get(
    "/v1/models/{name}/versions/{version}/metadata",
    responses=ERROR_RESPONSES,
    summary="Signature definitions (one version)",
)
async def version_metadata(name: str, version: int, service: ServiceDep) -> JSONBody:
    return JSONBody(_metadata(service.registry.get(name, version)))


@router.post(
    "/v1/models/{name}:predict",
    responses=ERROR_RESPONSES,
    openapi_extra=_PREDICT_BODY,
    summary="Predict (newest version)",
)
async def predict(name: str, request: Request, service: ServiceDep) -> JSONBody:
    return await _predict(service, name, None, await read_body(request))


@router.post(
    "/v1/models/{name}/versions/{version}:predict",
    responses=ERROR_RESPONSES,
    openapi_extra=_PREDICT_BODY,
    summary="Predict (pinned version)",
)
async def predict_version(
    name: str, version: int, request: Request, service: ServiceDep
) -> JSONBody:
    return await _predict(service, name, version, await read_body(request))


def _is_named(value: Any) -> bool:
    return isinstance(value, dict) and set(value) != {"b64"}


async def _predict(service: Service, name: str, version: int | None, body: bytes) -> JSONBody:
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise bad_request("The request body must be a JSON object with `instances` or `inputs`.")
    unknown = sorted(set(payload) - {"signature_name", "instances", "inputs"})
    if unknown:
        raise bad_request(
            f"Unknown fields {unknown}: a predict request has `signature_name` and `instances` or `inputs`."
        )
    signature_name = payload.get("signature_name")
    if signature_name is not None and not isinstance(signature_name, str):
        raise bad_request("`signature_name` must be a string.")
    mv = service.registry.get(name, version)
    sig = mv.signature(signature_name)
    has_rows, has_cols = "instances" in payload, "inputs" in payload
    if has_rows == has_cols:
        raise bad_request(
            "Send exactly one of `instances` (row format) or `inputs` (columnar format)."
        )
    if has_rows:
        arrays = _rows_to_arrays(payload["instances"], sig, service)
        outputs = await service.predict(mv, sig, arrays)
        return JSONBody({"predictions": _rows_out(outputs)})
    arrays = _columns_to_arrays(payload["inputs"], sig, service)
    outputs = await service.predict(mv, sig, arrays)
    if len(outputs) == 1:
        return JSONBody({"outputs": jsonable(next(iter(outputs.values())))})
    return JSONBody({"outputs": {k: jsonable(v) for k, v in outputs.items()}})


def _rows_to_arrays(instances: Any, sig: Signature, service: Service) -> dict[str, np.ndarray]:
    if not isinstance(instances, list) or not instances:
        raise bad_request("`instances` must be a non-empty list.")
    if len(instances) > service.limits.max_instances:
        raise bad_request(
            f"Too many instances: {len(instances)} (the limit is {service.limits.max_instances})."
        )
    scalars = [n for n, t in sig.inputs.items() if not t.batched]
    if scalars:
        raise bad_request(
            f"Signature `{sig.name}` has non-batched inputs {scalars}; use the columnar `inputs` format."
        )
    named = [_is_named(i) for i in instances]
    if any(named) and not all(named):
        raise bad_request("Either every instance is an object of named inputs or none is.")
    if all(named):
        columns: dict[str, list[Any]] = {}
        for i, inst in enumerate(instances):
            if set(inst) != set(sig.inputs):
                raise bad_request(
                    f"Instance {i} has inputs {sorted(inst)}; signature `{sig.name}` takes {sorted(sig.inputs)}."
                )
            for k, v in inst.items():
                columns.setdefault(k, []).append(v)
    else:
        if len(sig.inputs) != 1:
            raise bad_request(
                f"Signature `{sig.name}` takes several inputs {sorted(sig.inputs)}; send objects of named inputs."
            )
        columns = {next(iter(sig.inputs)): instances}
    return {k: to_array(v, sig.inputs[k], service.limits, batched=True) for k, v in columns.items()}


def _columns_to_arrays(inputs: Any, sig: Signature, service: Service) -> dict[str, np.ndarray]:
    if _is_named(inputs):
        columns = inputs
    else:
        if len(sig.inputs) != 1:
            raise bad_request(
                f"Signature `{sig.name}` takes several inputs {sorted(sig.inputs)}; send an object of named inputs."
            )
        columns = {next(iter(sig.inputs)): inputs}
    sig.check_input_names(columns)
    return {
        k: to_array(v, sig.inputs[k], service.limits, batched=sig.inputs[k].batched)
        for k, v in columns.items()
    }


def _rows_out(outputs: dict[str, np.ndarray]) -> list[Any]:
    if len(outputs) == 1:
        return jsonable(next(iter(outputs.values())))
    rows = len(next(iter(outputs.values())))
    cols = {k: jsonable(v) for k, v in outputs.items()}
    return [
        {k: (cols[k][i] if np.ndim(outputs[k]) else cols[k]) for k in outputs} for i in range(rows)
    ]


# ---- TF Serving features this server does not have: 501 with what to use instead -------------
# Not in the OpenAPI schema: they exist only to tell a TF Serving client what to do instead.


@router.post("/v1/models/{name}:classify", include_in_schema=False)
@router.post("/v1/models/{name}:regress", include_in_schema=False)
@router.post("/v1/models/{name}/versions/{version}:classify", include_in_schema=False)
@router.post("/v1/models/{name}/versions/{version}:regress", include_in_schema=False)
async def classify_or_regress(request: Request) -> JSONBody:
    method = request.url.path.rsplit(":", 1)[-1]
    raise Unsupported(f"TF Serving's `:{method}` API is not supported by this server; use :predict")


@router.post("/v1/models/{name}/labels/{label}:{method}", include_in_schema=False)
@router.get("/v1/models/{name}/labels/{label}", include_in_schema=False)
@router.get("/v1/models/{name}/labels/{label}/metadata", include_in_schema=False)
async def version_label(name: str) -> JSONBody:
    raise Unsupported(
        "TF Serving's version label API (`/labels/{label}`) is not supported by this server; use "
        f"/v1/models/{name}/versions/<version>:predict (or /v1/models/{name}:predict)"
    )
