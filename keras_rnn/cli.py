"""``python -m keras_rnn.cli``: the ``keras-rnn`` command, kept here for old imports.

The dispatcher lives in the top-level package :mod:`keras_rnn_cli`, outside ``keras_rnn``,
because ``import keras_rnn`` loads TensorFlow (to register the layers with Keras) and
``keras-rnn --help`` must not.
"""

import sys

from keras_rnn_cli import COMMANDS, build_parser, main

__all__ = ["COMMANDS", "build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
