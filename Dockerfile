# keras-rnn: one image for the one-shot trainer and the prediction service.
#   docker build -t keras-rnn .
#   docker compose up            (see docker-compose.yml and docs/serving.md)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2

WORKDIR /app
# Dependencies first, so code edits do not reinstall TensorFlow.
COPY pyproject.toml README.md ./
RUN mkdir -p keras_rnn serving \
 && touch keras_rnn/__init__.py serving/__init__.py \
 && pip install ".[serving]" \
 && pip uninstall -y keras-rnn
COPY keras_rnn ./keras_rnn
COPY serving ./serving
RUN pip install --no-deps . \
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
