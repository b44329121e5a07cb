"""Service settings from environment variables (prefix ``SERVING_``) and `keras-rnn serve` flags.

Batching knobs carry TensorFlow Serving's names (``max_batch_size``, ``batch_timeout_micros``,
``max_enqueued_batches``, ``num_batch_threads``) and meaning.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .telemetry import TelemetryMode


class VersionPolicy(BaseModel):
    """Which versions of one model to serve (TF Serving's ``model_version_policy``).

    ``specific`` pins exact versions (several may be served at once); otherwise the newest
    ``latest`` versions are served.
    """

    latest: int = Field(1, ge=1, le=100)
    specific: list[int] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _positive(self) -> VersionPolicy:
        if self.specific is not None and any(v <= 0 for v in self.specific):
            raise ValueError(f"versions must be positive integers, got {self.specific}")
        return self


class Settings(BaseSettings):
    """All knobs of the service. Env: ``SERVING_<FIELD>`` (e.g. ``SERVING_MODEL_DIR``)."""

    model_config = SettingsConfigDict(
        env_prefix="SERVING_", extra="ignore", protected_namespaces=()
    )

    model_dir: Path = Path("models")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="uvicorn worker processes; with more than one, a worker takes connections "
        "only once its models are warm",
    )
    log_level: str = "info"

    # Model repository.
    poll_interval_s: float = Field(2.0, ge=0.0, description="0 disables watching for new versions")
    settle_s: float = Field(
        1.0,
        ge=0.0,
        le=60.0,
        description="a new version loads once its files have been unchanged this long",
    )
    models: dict[str, VersionPolicy] = Field(
        default_factory=dict,
        description='per-model version policy, e.g. {"stock": {"specific": [1, 2]}}',
    )

    # Dynamic batching (TF Serving's names).
    max_batch_size: int = Field(64, ge=1, le=4096)
    batch_timeout_micros: int = Field(500, ge=0, le=1_000_000)
    max_enqueued_batches: int = Field(16, ge=1, le=10_000)
    num_batch_threads: int = Field(2, ge=1, le=64)
    inline_call_max_ms: float = Field(
        5.0,
        ge=0.0,
        le=1000.0,
        description="while the server handles one prediction at a time, a call expected to "
        "take at most this long runs on the event loop, without the thread hop (0: never)",
    )
    request_deadline_s: float = Field(
        5.0,
        gt=0.0,
        le=3600.0,
        description="longest a request may wait before its model call starts; a request "
        "expected to wait longer (or still queued at the deadline) gets 503 + Retry-After",
    )

    telemetry: TelemetryMode = Field(
        "auto",
        description="FastAPI's OpenTelemetry instrumentation: auto (on when a provider is "
        "configured, or FASTAPI_OTEL_AUTO_CONFIGURE=true, as the app is created), on "
        "(asked per request), off",
    )
    gc_young_threshold: int = Field(
        10_000,
        ge=0,
        le=10_000_000,
        description="while the service runs, the youngest generation of Python's garbage "
        "collector is collected after this many net allocations (Python's default is 700; "
        "0 leaves the process's setting alone)",
    )

    # Request limits.
    max_body_bytes: int = Field(1 << 20, ge=1024)
    max_instances: int = Field(256, ge=1)
    max_sequence_length: int = Field(4096, ge=1)
    max_text_chars: int = Field(10_000, ge=1)
    max_k: int = Field(100, ge=1)
    max_generate_tokens: int = Field(500, ge=1)
    retry_after_s: int = Field(1, ge=1)

    # Safety and operations.
    api_key: SecretStr | None = Field(None, description="when set, /v1 and /v2 routes need it")
    cors_origins: list[str] = Field(default_factory=list)
    timeout_graceful_shutdown_s: float = Field(10.0, ge=0.0)
    warmup: bool = True

    @field_validator("api_key", mode="before")
    @classmethod
    def _empty_key_is_no_key(cls, value: object) -> object:
        # `SERVING_API_KEY=` (empty) must not turn auth on with an empty key.
        return None if value is None or (isinstance(value, str) and not value.strip()) else value

    @property
    def batch_timeout_s(self) -> float:
        return self.batch_timeout_micros / 1e6

    @property
    def inline_call_max_s(self) -> float:
        return self.inline_call_max_ms / 1e3

    @property
    def max_queued_rows(self) -> int:
        return self.max_enqueued_batches * self.max_batch_size
