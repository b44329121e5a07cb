"""An embedding + LSTM language model trained with Adam on one device and on two logical CPUs
(MirroredStrategy) in one process; prints the largest weight difference (for the test)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np


def main() -> None:
    import tensorflow as tf

    from keras_rnn.training.devices import split_cpu

    split_cpu(2)  # before TensorFlow's first op
    import keras

    from keras_rnn.data.text import window_examples
    from keras_rnn.predictors.text.build import build_language_model, sequence_loss
    from keras_rnn.training import Trainer
    from keras_rnn.training.data import shuffled_per_epoch

    ids = np.random.default_rng(0).integers(1, 30, size=3000).astype("int32")

    def run(strategy):
        keras.utils.set_random_seed(3)
        with strategy.scope():
            model = build_language_model(30, cell="lstm", units=8, layers=1, embedding_dim=4)
            optimizer = keras.optimizers.Adam(5e-3)
        trainer = Trainer(model, sequence_loss(), optimizer, strategy=strategy, verbose=0)
        data = shuffled_per_epoch(window_examples(ids, 16), 16, seed=3)
        history = trainer.fit(data, epochs=1, steps_per_epoch=6)
        return np.array(history.step_grad_norms), model.get_weights()

    norms_one, weights_one = run(tf.distribute.get_strategy())
    norms_two, weights_two = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    norms = float(np.max(np.abs(norms_one - norms_two) / norms_one))
    weights = max(
        float(np.max(np.abs(a - b))) for a, b in zip(weights_one, weights_two, strict=True)
    )
    print(f"norms_rel {norms:.3e} weights_abs {weights:.3e}")


if __name__ == "__main__":
    main()
