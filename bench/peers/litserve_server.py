"""LitServe with batching (64 rows, 0.5 ms) calling the stock SavedModel's default signature.

    python bench/peers/litserve_server.py <version dir> <port>

``POST /predict`` with ``{"instances": [[...]]}`` (one series) answers
``{"predictions": [[...]]}``; ``GET /health`` is 200 once the worker is set up.
"""

from __future__ import annotations

import inspect
import sys

import litserve as ls
import numpy as np
import tensorflow as tf
from counter import count

from keras_rnn_contract import DEFAULT_SIGNATURE

MODEL, PORT = sys.argv[1], int(sys.argv[2])
BATCH = {"max_batch_size": 64, "batch_timeout": 0.0005}


class StockAPI(ls.LitAPI):
    def setup(self, device: str) -> None:
        self.fn = tf.saved_model.load(MODEL).signatures[DEFAULT_SIGNATURE]

    def decode_request(self, request: dict) -> np.ndarray:
        return np.asarray(request["instances"][0], np.float32)

    def batch(self, inputs: list) -> np.ndarray:
        return np.stack(inputs)

    def predict(self, x: np.ndarray) -> np.ndarray:
        if x.ndim == 1:
            x = x[None]
        count(len(x))
        return self.fn(prices=tf.constant(x))["forecast"].numpy()

    def unbatch(self, output: np.ndarray) -> list:
        return list(output)

    def encode_response(self, output: np.ndarray) -> dict:
        return {"predictions": [np.asarray(output).reshape(-1).tolist()]}


if __name__ == "__main__":
    # The batching knobs moved from LitServer to LitAPI within 0.2.x.
    in_api = "max_batch_size" in inspect.signature(ls.LitAPI.__init__).parameters
    api = StockAPI(**BATCH) if in_api else StockAPI()
    server = ls.LitServer(api, accelerator="cpu", workers_per_device=1, **({} if in_api else BATCH))
    server.run(host="127.0.0.1", port=PORT, generate_client_file=False)
