"""The prediction service: FastAPI serving of exported SavedModels (``uvicorn serving.app:app``).

It loads plain SavedModels from a TensorFlow Serving model repository and never imports
``keras_rnn``. See docs/serving.md.
"""
