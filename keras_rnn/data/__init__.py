"""Data for the two predictors: price series and windows (stock), corpora and tokens (text).

This package's own module imports nothing heavy: the command line reads :data:`LEVELS`
before TensorFlow loads.
"""

LEVELS: tuple[str, ...] = ("char", "word")  # the token levels of keras_rnn.data.text


class DataError(ValueError):
    """Data that cannot be used (a source, a corpus, a series too short); the message says
    what and where, and what to use instead.

    ``key``: the run setting that led to it (``"csv"``, ``"window"``), when known; the
    command line names that setting's flag.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


__all__ = ["LEVELS", "DataError"]
