"""The prediction service: FastAPI serving of exported SavedModels (``uvicorn serving.app:app``).

It loads plain SavedModels from a TensorFlow Serving model repository and never imports
``keras_rnn``: of the library it imports only the export contract, :mod:`keras_rnn_contract`
(standard library only). See docs/serving.md.
"""
