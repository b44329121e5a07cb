"""MLServer custom runtime calling the stock SavedModel's default signature.

``bench.serving`` writes ``settings.json`` and ``model-settings.json`` (adaptive batching:
``max_batch_size`` 64, ``max_batch_time`` 0.5 ms, the same knobs as ours) and runs
``mlserver start`` on them; requests are Open Inference Protocol v2 JSON.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from counter import count
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse

from keras_rnn_contract import DEFAULT_SIGNATURE


class StockRuntime(MLModel):
    async def load(self) -> bool:
        uri = self.settings.parameters.uri
        self.fn = tf.saved_model.load(uri).signatures[DEFAULT_SIGNATURE]
        self.ready = True
        return self.ready

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        prices = NumpyCodec.decode_input(payload.inputs[0]).astype(np.float32)
        out = self.fn(prices=tf.constant(prices))["forecast"].numpy()
        count(len(prices))
        return InferenceResponse(
            model_name=self.name, outputs=[NumpyCodec.encode_output("forecast", out)]
        )
