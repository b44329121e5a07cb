#!/bin/sh
# The compose `trainer` and the Kubernetes training Job: train and export each predictor
# that has no version yet in $MODEL_DIR (default /models), so that `docker compose up` trains
# once, not on every start. KERAS_RNN_RETRAIN=1 trains both again: new versions, which the
# servers pick up without a restart.
set -eu
MODEL_DIR="${MODEL_DIR:-/models}"
for name in stock text; do
  if [ "${KERAS_RNN_RETRAIN:-0}" != 1 ] && ls -d "$MODEL_DIR/$name"/[0-9]* >/dev/null 2>&1; then
    echo "trainer: $MODEL_DIR/$name already has a version; skipping (KERAS_RNN_RETRAIN=1 retrains)"
  else
    keras-rnn train "$name" --model-dir "$MODEL_DIR"
  fi
done
