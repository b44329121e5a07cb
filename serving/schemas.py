"""Request and response models of the task endpoints (they double as the OpenAPI schema).

Numbers are strict (a JSON string or boolean is not a price) and finite; prices are > 0, as
the stock model requires (a request the model would refuse is refused before it joins a batch).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Price = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0.0, le=3.4e38)]
StrictInt = Annotated[int, Field(strict=True)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ForecastRequest(_Strict):
    prices: list[Price] = Field(
        ...,
        min_length=1,
        description="past prices, oldest first (finite, > 0)",
        examples=[[101.0, 102.5, 103.0]],
    )
    version: Annotated[int, Field(strict=True, ge=1)] | None = Field(
        None, description="pin a model version"
    )


class ForecastResponse(BaseModel):
    model: str
    version: int
    forecast: list[float]
    horizon: int


class NextRequest(_Strict):
    text: str = Field(..., examples=["To be or not to b"])
    k: Annotated[int, Field(strict=True, ge=1)] = 5
    version: Annotated[int, Field(strict=True, ge=1)] | None = None


class Suggestion(BaseModel):
    token: str
    probability: float


class NextResponse(BaseModel):
    model: str
    version: int
    suggestions: list[Suggestion]


class GenerateRequest(_Strict):
    text: str = Field(..., examples=["To be or "])
    max_tokens: Annotated[int, Field(strict=True, ge=0)] = 50
    temperature: Annotated[float, Field(strict=True, ge=0.0, le=100.0, allow_inf_nan=False)] = 1.0
    top_k: Annotated[int, Field(strict=True, ge=0)] = 0
    seed: Annotated[int, Field(strict=True, ge=0, le=2**31 - 1)] | None = Field(
        None,
        description="the same seed gives the same continuation, alone or batched with "
        "others; none: random",
    )
    version: Annotated[int, Field(strict=True, ge=1)] | None = None


class GenerateResponse(BaseModel):
    model: str
    version: int
    text: str
    continuation: str


class VersionInfo(BaseModel):
    version: int
    state: Literal["START", "LOADING", "AVAILABLE", "FAILED", "UNLOADING", "END"]
    ready: bool
    error: str | None


class ModelInfo(BaseModel):
    name: str
    versions: list[VersionInfo]


class ModelList(BaseModel):
    models: list[ModelInfo]


class ErrorBody(BaseModel):
    error: str


# OpenAPI `responses=` for routes that answer errors as ``{"error": "..."}``.
ERROR_RESPONSE: dict[str, Any] = {"model": ErrorBody, "description": "Error"}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: ERROR_RESPONSE for code in (400, 401, 404, 413, 422, 503)
}
