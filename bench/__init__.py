"""Benchmarks: each module writes ``bench/results/<name>.json`` and a section of
``docs/benchmarks.md`` (``python -m bench.layers``, ``bench.trainer``, ``bench.serving``).

:func:`write_section` is shared: it replaces one ``## Heading`` section of the markdown file
and leaves every other section as it is.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs" / "benchmarks.md"

_TITLE = "# Benchmarks\n\nMeasured figures; each section is rewritten by its benchmark.\n"


def write_section(heading: str, body: str, path: Path = DOCS) -> Path:
    """Put ``## heading`` + ``body`` into ``path``, replacing that section if it exists.

    A section runs from its ``## `` line to the next ``## `` line (or the end of the file).
    The file is written atomically (a temporary file renamed over it).
    """
    text = path.read_text() if path.exists() else _TITLE
    section = f"## {heading}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path
