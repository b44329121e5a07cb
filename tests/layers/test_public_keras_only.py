"""The package uses Keras's public API only: no module imports a private ``keras.src`` one."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "keras_rnn"


def test_no_private_keras_imports() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            if any(n == "keras.src" or n.startswith("keras.src.") for n in names):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert list(PACKAGE.rglob("*.py")), PACKAGE
    assert not offenders, f"private keras.src imports: {offenders}"
