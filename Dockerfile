# syntax=docker/dockerfile:1.7
# keras-rnn: one image for the one-shot trainer and the prediction service.
#   docker build -t keras-rnn .
#   docker compose up --build    (see docker-compose.yml and docs/serving.md)
#
# Dependencies come from deploy/requirements.lock (pip-compile'd, hash-pinned, with
# tensorflow-cpu: CPU kernels only, half the size of the full tensorflow wheel).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    TF_CPP_MIN_LOG_LEVEL=2

WORKDIR /app
# Dependencies first, so code edits do not reinstall TensorFlow. Exactly the lock: every
# package pinned and hash-checked, nothing resolved at build time (--no-deps). The cache mount
# keeps downloaded wheels between builds without putting them into a layer.
COPY deploy/requirements.lock /tmp/requirements.lock
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --require-hashes --no-deps -r /tmp/requirements.lock

# keras-rnn itself, without dependencies: they are the lock's (its `tensorflow` requirement
# is met by tensorflow-cpu, which provides the same module; `pip check` would name it).
COPY pyproject.toml setup.py README.md LICENSE ./
COPY keras_rnn ./keras_rnn
COPY keras_rnn_cli ./keras_rnn_cli
COPY keras_rnn_contract ./keras_rnn_contract
COPY serving ./serving
COPY tutorials ./tutorials
COPY deploy/train-missing.sh /usr/local/bin/train-missing
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --no-deps --no-build-isolation . \
 && rm -rf build *.egg-info \
 && useradd --create-home --uid 10001 app \
 && mkdir -p /models && chown app /models

USER app
ENV SERVING_MODEL_DIR=/models \
    SERVING_HOST=0.0.0.0 \
    SERVING_PORT=8000
VOLUME ["/models"]
EXPOSE 8000

# Ready (not just alive): every model in /models is loaded and warm.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)"]

# `keras-rnn serve` handles SIGTERM: it stops accepting, finishes in-flight requests, exits.
STOPSIGNAL SIGTERM
CMD ["keras-rnn", "serve"]
