"""The peers of ``bench.serving``: the servers a user would pick instead of ours, each
serving the same stock SavedModel (see docs/benchmarks.md, "## Serving").

Each peer script runs in its own venv (``bench/.peers/<name>/``, made by ``make bench-peers``)
except :mod:`bench.peers.naive_app`, which runs in the project's. They import only the
standard library, TensorFlow and the peer's own package, plus :mod:`bench.peers.counter`.
"""
