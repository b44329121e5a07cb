"""``python -m keras_rnn_cli``: the ``keras-rnn`` command."""

import sys

from keras_rnn_cli import main

sys.exit(main())
