"""The naive FastAPI app: what a user writes first, one signature call per request.

    BENCH_MODEL=<version dir> uvicorn bench.peers.naive_app:app

``POST /v1/models/stock:predict`` with TF Serving's row format, a pydantic body, a plain
``def`` endpoint (FastAPI runs it in its thread pool), no batching. ``GET /ready`` is 200.
"""

from __future__ import annotations

import os

import tensorflow as tf
from fastapi import FastAPI
from pydantic import BaseModel

from bench.peers.counter import count
from keras_rnn_contract import DEFAULT_SIGNATURE

fn = tf.saved_model.load(os.environ["BENCH_MODEL"]).signatures[DEFAULT_SIGNATURE]
app = FastAPI()


class PredictRequest(BaseModel):
    instances: list[list[float]]


@app.post("/v1/models/stock:predict")
def predict(body: PredictRequest) -> dict:
    out = fn(prices=tf.constant(body.instances, tf.float32))["forecast"].numpy()
    count(len(body.instances))
    return {"predictions": out.tolist()}


@app.get("/ready")
def ready() -> dict:
    return {"ready": True}
