"""KServe's Python ModelServer calling the stock SavedModel's default signature.

    python bench/peers/kserve_server.py <version dir> <port>

``POST /v1/models/stock:predict`` (KServe's v1 protocol, TF Serving's row format). KServe
batches only in its Go agent sidecar, not in the Python server: one call per request.
"""

from __future__ import annotations

import sys

import kserve
import numpy as np
import tensorflow as tf
from counter import count

from keras_rnn_contract import DEFAULT_SIGNATURE

MODEL, PORT = sys.argv[1], int(sys.argv[2])


class Stock(kserve.Model):
    def __init__(self) -> None:
        super().__init__("stock")
        self.fn = None
        self.load()

    def load(self) -> bool:
        self.fn = tf.saved_model.load(MODEL).signatures[DEFAULT_SIGNATURE]
        self.ready = True
        return self.ready

    def predict(self, payload: dict, headers: dict | None = None) -> dict:
        x = np.asarray(payload["instances"], np.float32)
        out = self.fn(prices=tf.constant(x))["forecast"].numpy()
        count(len(x))
        return {"predictions": out.tolist()}


if __name__ == "__main__":
    sys.argv = [sys.argv[0], f"--http_port={PORT}", "--workers=1", "--enable_grpc=false"]
    kserve.ModelServer(http_port=PORT, workers=1, enable_grpc=False).start([Stock()])
