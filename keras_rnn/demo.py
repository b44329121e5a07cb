"""``keras-rnn demo``: the main job on offline defaults.

Trains the stock and text predictors on data that ships with installed packages, exports them
as versioned SavedModels into a TensorFlow Serving model repository, starts the prediction
service on 127.0.0.1, asks it for a forecast and a next-word suggestion, prints the answers and
the requests that produced them, and stops the service (or keeps it up with ``--keep-serving``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import keras_rnn_cli
from keras_rnn_cli.args import CommandError, fail

PROG = "keras-rnn demo"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model-dir",
        default="models",
        help="model repository to export into (default: %(default)s)",
    )
    parser.add_argument(
        "--output-dir", default="outputs", help="plots and metrics go here (default: %(default)s)"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address the service binds (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port for the service; 0 picks a free one (default)"
    )
    parser.add_argument(
        "--skip-training", action="store_true", help="serve what --model-dir already holds"
    )
    parser.add_argument(
        "--keep-serving", action="store_true", help="leave the service running until Ctrl-C"
    )


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        return fail(PROG, CommandError("--port", f"expected 0-65535, got {args.port}"))
    # TensorFlow's C++ INFO/WARNING lines (CPU features, no CUDA) would bury the demo's output.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    model_dir = Path(args.model_dir).resolve()
    output_dir = Path(args.output_dir).resolve()
    if not args.skip_training:
        _train(model_dir, output_dir)
    port = args.port or _free_port(args.host)
    base = f"http://{args.host}:{port}"
    _banner(f"3/3 Serving {model_dir} at {base}")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "keras_rnn_cli",  # the dispatcher alone: no Keras import in the server
            "serve",
            "--model-dir",
            str(model_dir),
            "--host",
            args.host,
            "--port",
            str(port),
            # Access logs would interleave with the answers printed below.
            *([] if args.keep_serving else ["--log-level", "warning"]),
        ],
    )
    try:
        _wait_ready(base, server)
        _ask(base)
        if args.keep_serving:
            print(
                f"\nThe service keeps running at {base} (docs: {base}/docs, page: {base}/). Ctrl-C stops it."
            )
            server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    return 0


def _train(model_dir: Path, output_dir: Path) -> None:
    # Here, not at the top: `import keras_rnn...` loads TensorFlow, which `demo --help` and
    # `demo --skip-training` do not need.
    from keras_rnn.predictors import stock, text
    from keras_rnn.predictors.repository import read_card
    from keras_rnn.predictors.text.cli import metrics_table

    _banner("1/3 Training the stock predictor (S&P 500 daily closes shipped with keras-rnn)")
    started = time.perf_counter()
    path = stock.train_and_export(model_dir=model_dir, output_dir=output_dir / "stock")
    print(f"Exported {path} in {time.perf_counter() - started:.0f} s")
    _banner("2/3 Training the text predictor (offline default corpus)")
    started = time.perf_counter()
    path = text.train_and_export(model_dir=str(model_dir), output_dir=str(output_dir / "text"))
    print(metrics_table(read_card(path) or {}))
    print(f"Exported {path} in {time.perf_counter() - started:.0f} s")


def _ask(base: str) -> None:
    sample = _request(f"{base}/v1/stock/sample")
    prices = [round(float(p), 2) for p in sample["prices"][-30:]]
    answer = _post(base, "/v1/stock/forecast", {"prices": prices})
    print(
        f"Last of {len(prices)} closes {prices[-1]:.2f} -> forecast {answer['forecast'][0]:.2f} "
        f"(model version {answer['version']})"
    )
    _post(base, "/v1/text/next", {"text": "let's meet at ", "k": 5})
    _post(
        base,
        "/v1/text/generate",
        {
            "text": "Today the weather is good, and my mood is also ",
            "max_tokens": 60,
            "temperature": 0.8,
            "seed": 7,
        },
    )


def _post(base: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST ``body``, printing a curl line that can be pasted into a shell, and the answer."""
    data = shlex.quote(json.dumps(body))
    print(f"\n$ curl -s -X POST {base}{path} -H 'Content-Type: application/json' -d {data}")
    answer = _request(f"{base}{path}", body)
    print(json.dumps(answer, indent=2))
    return answer


def _request(url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        raise SystemExit(
            f"keras-rnn demo: {url} answered {err.code}: {err.read().decode(errors='replace')}"
        ) from None


def _wait_ready(base: str, server: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(
                f"keras-rnn demo: the service exited with code {server.returncode} before it was ready"
            )
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as resp:
                if resp.status == 200:
                    print(f"Service ready at {base}")
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"keras-rnn demo: the service at {base} was not ready after {timeout:.0f} s")


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _banner(text: str) -> None:
    width = max(60, len(text) + 4)
    print("\n" + "=" * width + f"\n  {text}\n" + "=" * width, flush=True)


if __name__ == "__main__":  # pragma: no cover - `python -m keras_rnn.demo`: the dispatcher's
    sys.exit(keras_rnn_cli.main(["demo", *sys.argv[1:]]))
