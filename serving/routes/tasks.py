"""Task endpoints a person (and the web page) calls, per docs/architecture.md.

* ``POST /v1/stock/forecast`` ``{"prices": [...], "version": null}`` -> next price(s)
* ``POST /v1/text/next`` ``{"text": ..., "k": 5}`` -> top-k next tokens with probabilities
* ``POST /v1/text/generate`` ``{"text", "max_tokens", "temperature", "top_k", "seed"}``
* ``GET /v1/models``, ``GET /v1/models/{name}/card``, ``GET /v1/stock/sample``

The forecast uses the model's ``padded`` signature when it has one, so requests of different
lengths still merge into one batch (right-padded, with their lengths).

Bodies are JSON whatever the ``Content-Type`` says (``curl -d`` works), read after the API
key is checked (:mod:`serving.routes.body`). Bounded inputs (``k``, ``top_k``,
``max_tokens``) are checked by ``Service.predict`` with the same limits as ``:predict``.
"""

from __future__ import annotations

import secrets
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends

from keras_rnn_contract import Stock, Text

from ..auth import require_api_key
from ..encoding import JSONBody
from ..errors import bad_request, not_found
from ..limits import check_text
from ..schemas import (
    ERROR_RESPONSES,
    ForecastRequest,
    ForecastResponse,
    GenerateRequest,
    GenerateResponse,
    ModelList,
    NextRequest,
    NextResponse,
)
from ..service import ServiceDep
from .body import json_body, request_body

router = APIRouter(tags=["Tasks"], dependencies=[Depends(require_api_key)])

# The models the task routes serve, and their tensors: the export contract.
STOCK, TEXT = Stock.NAME, Text.NAME


@router.post(
    "/v1/stock/forecast",
    response_model=ForecastResponse,
    responses=ERROR_RESPONSES,
    openapi_extra=request_body(ForecastRequest),
)
async def forecast(
    req: Annotated[ForecastRequest, Depends(json_body(ForecastRequest))], service: ServiceDep
) -> JSONBody:
    """Forecast the next price(s) from past prices (raw price units, oldest first)."""
    n = len(req.prices)
    if n > service.settings.max_sequence_length:
        raise bad_request(
            f"`prices` has {n} values; the limit is {service.settings.max_sequence_length}."
        )
    mv = service.registry.get(STOCK, req.version)
    prices = np.asarray(req.prices, np.float64)
    if np.abs(prices).max() > float(np.finfo(np.float32).max):
        raise bad_request("`prices` has a value too large for float32.")
    row = prices.astype(np.float32)[None, :]
    if Stock.PADDED in mv.signatures:
        sig = mv.signatures[Stock.PADDED]
        # Pad to a bucket so requests of nearby lengths share one batch key.
        bucket = 1 << max(0, (n - 1).bit_length())
        padded = np.zeros((1, bucket), np.float32)
        padded[0, :n] = row
        arrays = {Stock.PRICES: padded, Stock.LENGTHS: np.array([n], np.int32)}
    else:
        sig = mv.signature(None)
        arrays = {Stock.PRICES: row}
    out = await service.predict(mv, sig, arrays)
    values = np.asarray(out[Stock.FORECAST], np.float32).reshape(-1)
    return JSONBody(
        {"model": STOCK, "version": mv.version, "forecast": values, "horizon": int(values.size)}
    )


@router.post(
    "/v1/text/next",
    response_model=NextResponse,
    responses=ERROR_RESPONSES,
    openapi_extra=request_body(NextRequest),
)
async def text_next(
    req: Annotated[NextRequest, Depends(json_body(NextRequest))], service: ServiceDep
) -> JSONBody:
    """The k most likely next tokens after ``text``, with their probabilities."""
    check_text(req.text, service.limits)
    mv = service.registry.get(TEXT, req.version)
    sig = mv.signature(Text.NEXT)
    arrays = {
        Text.TEXT: np.array([req.text.encode()], dtype=object),
        Text.K: np.array(req.k, np.int32),
    }
    out = await service.predict(mv, sig, arrays)
    tokens = [t.decode("utf-8", "replace") for t in out[Text.TOKENS][0]]
    probs = np.asarray(out[Text.PROBABILITIES][0], np.float32)
    suggestions = [{"token": t, "probability": p} for t, p in zip(tokens, probs, strict=True)]
    return JSONBody({"model": TEXT, "version": mv.version, "suggestions": suggestions})


@router.post(
    "/v1/text/generate",
    response_model=GenerateResponse,
    responses=ERROR_RESPONSES,
    openapi_extra=request_body(GenerateRequest),
)
async def text_generate(
    req: Annotated[GenerateRequest, Depends(json_body(GenerateRequest))], service: ServiceDep
) -> JSONBody:
    """Sample a continuation of ``text``. ``seed`` makes it reproducible; ``temperature`` 0 is greedy.

    The response echoes the prompt as ``text`` and the new part as ``continuation``.
    """
    check_text(req.text, service.limits)
    mv = service.registry.get(TEXT, req.version)
    sig = mv.signature(Text.GENERATE)
    seed = req.seed if req.seed is not None else secrets.randbelow(2**31 - 1)
    arrays = {
        Text.TEXT: np.array([req.text.encode()], dtype=object),
        Text.MAX_TOKENS: np.array(req.max_tokens, np.int32),
        Text.TEMPERATURE: np.array(req.temperature, np.float32),
        Text.TOP_K: np.array(req.top_k, np.int32),
        # One seed per row (exports before the per-row seed take a scalar).
        Text.SEED: np.array(seed if sig.inputs[Text.SEED].shape == () else [seed], np.int32),
    }
    out = await service.predict(mv, sig, arrays)
    continuation = out[Text.CONTINUATION][0].decode("utf-8", "replace")
    return JSONBody(
        {"model": TEXT, "version": mv.version, "text": req.text, "continuation": continuation}
    )


@router.get("/v1/models", response_model=ModelList, responses=ERROR_RESPONSES)
async def list_models(service: ServiceDep) -> JSONBody:
    """Every model the service knows, with each version's state and load error."""
    models = []
    for name in service.registry.names():
        versions = service.registry.versions(name)
        models.append(
            {
                "name": name,
                "versions": [
                    {"version": v, "state": m.state, "ready": m.ready, "error": m.error}
                    for v, m in sorted(versions.items(), reverse=True)
                ],
            }
        )
    return JSONBody({"models": models})


@router.get("/v1/models/{name}/card", responses=ERROR_RESPONSES)
async def model_card(name: str, service: ServiceDep, version: int | None = None) -> JSONBody:
    """The serving (or pinned) version's ``model_card.json``."""
    mv = service.registry.get(name, version)
    if mv.card is None:
        raise not_found(f"Model `{name}` version {mv.version} has no model card.")
    return JSONBody(mv.card)


@router.get("/v1/stock/sample", responses=ERROR_RESPONSES)
async def stock_sample(service: ServiceDep) -> JSONBody:
    """The stock card's ``sample``: a recent price series the web page can forecast from."""
    mv = service.registry.get(STOCK)
    sample = (mv.card or {}).get("sample")
    if not sample:
        raise not_found(f"The stock model version {mv.version} has no sample in its card.")
    return JSONBody(sample)
