"""`keras-rnn serve`: run the prediction service with uvicorn.

Flags override environment variables (``SERVING_*``), which override the defaults in
:class:`serving.settings.Settings`. TensorFlow is imported only when the server starts, so
``keras-rnn --help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

from keras_rnn_contract import is_valid_name, parse_version

_VERSIONS = re.compile(r"^[0-9]+(?:,[0-9]+)*$")
# prometheus_client's multiprocess mode: where each worker keeps its metric values.
MULTIPROC_VAR = "PROMETHEUS_MULTIPROC_DIR"


def _int_at_least(low: int, expected: str) -> Callable[[str], int]:
    """An argparse ``type``: an integer >= ``low``; the error says ``expected`` and the text."""

    def parse(text: str) -> int:
        try:
            value: int | None = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_non_negative_int = _int_at_least(0, "a non-negative integer")


def _port(text: str) -> int:
    value = _non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = _non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _pin(text: str) -> tuple[str, list[int]]:
    name, _, versions = text.partition("=")
    numbers = [parse_version(v) for v in versions.split(",")] if _VERSIONS.match(versions) else []
    if not is_valid_name(name) or not numbers or None in numbers:
        raise argparse.ArgumentTypeError(
            f"expected NAME=VERSION[,VERSION...] with positive versions, got {text!r}"
        )
    return name, [int(v) for v in versions.split(",")]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model-dir", help="model repository <dir>/<name>/<version>/ (default: models)"
    )
    parser.add_argument("--host", help="bind address (default: 127.0.0.1; 0.0.0.0 in containers)")
    parser.add_argument("--port", type=_port, help="port (default: 8000; 0 picks a free one)")
    parser.add_argument(
        "--workers", type=_positive_int, help="uvicorn worker processes (default: 1)"
    )
    parser.add_argument(
        "--poll-interval",
        type=_non_negative_float,
        help="seconds between scans for new versions; 0 disables (default: 2)",
    )
    parser.add_argument(
        "--model-version",
        type=_pin,
        action="append",
        metavar="NAME=V[,V...]",
        help="serve exactly these versions of a model (repeatable); default: the newest",
    )
    parser.add_argument(
        "--max-batch-size", type=_positive_int, help="rows per merged call (default: 64)"
    )
    parser.add_argument(
        "--batch-timeout-micros",
        type=_non_negative_int,
        help="max wait to fill a batch (default: 500)",
    )
    parser.add_argument(
        "--max-enqueued-batches",
        type=_positive_int,
        help="queue bound in batches; past it: 503 (default: 16)",
    )
    parser.add_argument(
        "--num-batch-threads", type=_positive_int, help="batches run at once (default: 2)"
    )
    parser.add_argument(
        "--inline-call-max-ms",
        type=_non_negative_float,
        metavar="MS",
        help="while one prediction at a time is served, calls expected to take at most this "
        "long run on the event loop, without a thread hop; 0: never (default: 5)",
    )
    parser.add_argument(
        "--request-deadline",
        type=_positive_float,
        metavar="SECONDS",
        help="longest wait before a request's model call starts; past it (or when the "
        "expected wait is longer): 503 + Retry-After (default: 5)",
    )
    parser.add_argument(
        "--max-body-bytes", type=_positive_int, help="request body limit (default: 1 MiB)"
    )
    parser.add_argument(
        "--cors-origin", action="append", metavar="ORIGIN", help="allowed CORS origin (repeatable)"
    )
    parser.add_argument(
        "--log-level",
        choices=["critical", "error", "warning", "info", "debug"],
        help="default: info",
    )
    parser.add_argument(
        "--no-warmup", action="store_true", help="skip the warm-up call per signature"
    )
    parser.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="read the API key from this environment variable (auth is off without a key)",
    )


def settings_env(args: argparse.Namespace) -> dict[str, str]:
    """The ``SERVING_*`` variables the flags set (workers are separate processes: env carries them)."""
    env: dict[str, Any] = {}
    simple = {
        "model_dir": "MODEL_DIR",
        "host": "HOST",
        "port": "PORT",
        "workers": "WORKERS",
        "poll_interval": "POLL_INTERVAL_S",
        "max_batch_size": "MAX_BATCH_SIZE",
        "batch_timeout_micros": "BATCH_TIMEOUT_MICROS",
        "max_enqueued_batches": "MAX_ENQUEUED_BATCHES",
        "num_batch_threads": "NUM_BATCH_THREADS",
        "inline_call_max_ms": "INLINE_CALL_MAX_MS",
        "request_deadline": "REQUEST_DEADLINE_S",
        "max_body_bytes": "MAX_BODY_BYTES",
        "log_level": "LOG_LEVEL",
    }
    for attr, var in simple.items():
        value = getattr(args, attr, None)
        if value is not None:
            env[f"SERVING_{var}"] = str(value)
    if getattr(args, "model_version", None):
        env["SERVING_MODELS"] = json.dumps(
            {name: {"specific": versions} for name, versions in args.model_version}
        )
    if getattr(args, "cors_origin", None):
        env["SERVING_CORS_ORIGINS"] = json.dumps(args.cors_origin)
    if getattr(args, "no_warmup", False):
        env["SERVING_WARMUP"] = "false"
    return env


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``os.environ`` with ``values`` set while the server runs (``Settings`` and uvicorn's
    workers read them there), and as it was afterwards: a process that calls :func:`run`, a
    test for one, keeps its own settings for the servers it starts later."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _private_metrics_dir() -> Iterator[str]:
    """A fresh ``PROMETHEUS_MULTIPROC_DIR`` for the workers, removed when the server exits.

    Set in this (the parent) process before uvicorn spawns the workers: they inherit the
    environment and import prometheus_client after it is set, which is when it picks its
    value storage. A fresh directory holds no counts of an earlier run.
    """
    path = tempfile.mkdtemp(prefix="keras-rnn-metrics-")
    try:
        with _environment({MULTIPROC_VAR: path}):
            yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    import sys

    env = settings_env(args)
    if getattr(args, "api_key_env", None):
        key = os.environ.get(args.api_key_env)
        if not key:
            print(
                f"keras-rnn serve: error: --api-key-env {args.api_key_env}: the variable is not set or empty",
                file=sys.stderr,
            )
            return 2
        env["SERVING_API_KEY"] = key
    with _environment(env):
        return _serve()


def _http_protocol() -> Any:
    """serving.protocol's (uvicorn's httptools protocol, each response's head written with its
    body), or uvicorn's own choice where httptools is not installed."""
    try:
        from .protocol import HttpProtocol
    except ImportError:
        return "auto"
    return HttpProtocol


def _serve() -> int:
    import sys

    try:
        import uvicorn
        from pydantic import ValidationError

        from .app import configure_logging
        from .settings import Settings
    except ModuleNotFoundError as err:
        print(
            f"keras-rnn serve: error: the service needs the optional `serving` extra (not "
            f"installed: {err.name}); install it with: pip install 'keras-rnn[serving]'",
            file=sys.stderr,
        )
        return 2

    try:
        settings = Settings()
    except ValidationError as err:
        print(f"keras-rnn serve: error: invalid setting: {err}", file=sys.stderr)
        return 2
    if not settings.model_dir.is_dir():
        print(
            f"keras-rnn serve: error: --model-dir {str(settings.model_dir)!r} is not a directory "
            "(train and export first: keras-rnn train stock --model-dir ...)",
            file=sys.stderr,
        )
        return 2
    user_dir = os.environ.get(MULTIPROC_VAR)
    if user_dir is not None and not (
        os.path.isdir(user_dir) and os.access(user_dir, os.W_OK | os.X_OK)
    ):
        print(
            f"keras-rnn serve: error: {MULTIPROC_VAR}={user_dir!r} is not a writable directory "
            "(the workers keep their metrics there; create it, or unset the variable to let "
            "the server use a temporary one)",
            file=sys.stderr,
        )
        return 2
    configure_logging(settings.log_level)
    # Several workers must share metric files so that each /metrics answers for all of them.
    private = user_dir is None and settings.workers > 1
    with _private_metrics_dir() if private else contextlib.nullcontext():
        uvicorn.run(
            "serving.app:app",
            http=_http_protocol(),
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level,
            access_log=False,  # our middleware logs each request with its request id
            timeout_graceful_shutdown=settings.timeout_graceful_shutdown_s,
            proxy_headers=True,
            server_header=False,  # no `server: uvicorn` to match versions against
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m serving.cli``: the same command without the ``keras-rnn`` dispatcher."""
    parser = argparse.ArgumentParser(
        prog="python -m serving.cli", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
