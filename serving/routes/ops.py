"""Operations: ``/healthz`` (alive), ``/readyz`` (every model warm), ``/metrics`` (Prometheus),
and ``POST /v1/admin/reload`` (scan the model directory now; behind the API key)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from ..auth import require_api_key
from ..encoding import JSONBody
from ..schemas import ERROR_RESPONSE
from ..service import ServiceDep

router = APIRouter(tags=["Operations"])
admin = APIRouter(tags=["Operations"], dependencies=[Depends(require_api_key)])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> JSONBody:
    return JSONBody({"status": "ok"})


@router.get(
    "/readyz", summary="Readiness: every model has a warm version", responses={503: ERROR_RESPONSE}
)
async def readyz(service: ServiceDep) -> JSONBody:
    service.registry.check_ready()
    return JSONBody({"status": "ready", "models": service.registry.names()})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(service: ServiceDep) -> Response:
    return Response(service.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


@admin.post(
    "/v1/admin/reload", summary="Scan the model directory now", responses={401: ERROR_RESPONSE}
)
async def reload(service: ServiceDep) -> JSONBody:
    await asyncio.get_running_loop().run_in_executor(None, service.registry.scan)
    return JSONBody(
        {
            "models": {
                name: {str(v): m.state for v, m in sorted(service.registry.versions(name).items())}
                for name in service.registry.names()
            }
        }
    )
