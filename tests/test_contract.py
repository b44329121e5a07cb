"""The export contract (keras_rnn_contract): one home, free of TensorFlow, as documented.

The exporters, the service, the benchmarks and the test fixtures all take the repository
layout, the model name rule, the card file name and the signature and tensor names from
:mod:`keras_rnn_contract`; these tests keep it that way.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import keras_rnn_contract as contract
from keras_rnn_contract import Stock, Text

REPO = Path(__file__).resolve().parents[1]


def test_importing_the_contract_loads_no_library_and_no_tensorflow():
    code = (
        "import sys, keras_rnn_contract\n"
        "heavy = {m.split('.')[0] for m in sys.modules} & "
        "{'tensorflow', 'keras', 'keras_rnn', 'numpy', 'serving'}\n"
        "print(sorted(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout


def _imports(path: Path) -> set[str]:
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
    return imported


@pytest.mark.parametrize(
    "path", sorted((REPO / "serving").rglob("*.py")), ids=lambda p: str(p.relative_to(REPO))
)
def test_the_service_imports_only_the_contract_of_the_library(path):
    library = {m for m in _imports(path) if m.split(".")[0].startswith("keras_rnn")}
    assert library <= {"keras_rnn_contract"}, library


def test_the_contract_imports_only_the_standard_library():
    imported = {m.split(".")[0] for m in _imports(REPO / "keras_rnn_contract" / "__init__.py")}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


# Each contract string, written as a literal in code, in one place only (docstrings and the
# tests that pin the contract's values aside).
LITERALS = {
    '"model_card.json"': "CARD_FILE",
    '".tmp-"': "TMP_PREFIX",
    "[A-Za-z0-9_.-]{0,63}": "NAME_PATTERN",
    '"padded"': "Stock.PADDED",
    '"serving_default"': "DEFAULT_SIGNATURE",
    '"probabilities"': "Text.PROBABILITIES",
}
SIDES = ("keras_rnn", "serving", "bench", "tests/fixtures")


@pytest.mark.parametrize("literal", sorted(LITERALS))
def test_each_contract_name_is_written_once(literal):
    found = [
        path.relative_to(REPO).as_posix()
        for side in SIDES
        for path in (REPO / side).rglob("*.py")
        # hidden folders hold no project code: bench/.peers/ has the peers' venvs
        if not any(part.startswith(".") for part in path.relative_to(REPO).parts)
        and literal in _code_without_docstrings(path)
    ]
    assert found == [], f"{literal} written in {found}; use keras_rnn_contract.{LITERALS[literal]}"


def _code_without_docstrings(path: Path) -> str:
    """The module's source with every docstring blanked (docs may name the contract)."""
    source = path.read_text()
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list) or not body:
            continue
        first = body[0]
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            for i in range(first.lineno - 1, first.end_lineno):
                lines[i] = "\n"
    return "".join(lines)


def _table(section: str) -> list[tuple[str, set[str], set[str]]]:
    """``(signature, inputs, outputs)`` rows of docs/architecture.md's table under ``### section``."""
    text = (REPO / "docs" / "architecture.md").read_text()
    start = text.index(f"### `{section}`")
    rows = []
    for line in text[start:].splitlines()[3:]:
        if not line.startswith("| `"):
            break
        sig, inputs, outputs = (cell.strip() for cell in line.strip("|").split("|"))
        rows.append(
            (
                sig.strip("`"),
                set(re.findall(r"`(\w+)`:", inputs)),
                set(re.findall(r"`(\w+)`:", outputs)),
            )
        )
    return rows


def test_the_documented_tables_match_the_contract():
    stock = contract.stock_signatures()
    text = contract.text_signatures()
    for section, signatures in (("stock", stock), ("text", text)):
        documented = {sig: (ins, outs) for sig, ins, outs in _table(section)}
        assert set(documented) == set(signatures), section
        for name, (ins, outs) in documented.items():
            assert ins == set(signatures[name]["inputs"]), (section, name)
            assert outs == set(signatures[name]["outputs"]), (section, name)
    assert set(stock) == {Stock.SERVE, Stock.PADDED}
    assert set(text) == {Text.SERVE, Text.NEXT, Text.GENERATE}


def test_the_documented_card_has_the_contract_keys():
    text = (REPO / "docs" / "architecture.md").read_text()
    block = text[text.index("### `model_card.json`") :].split("```")[1]
    documented = set(re.findall(r'"(\w+)":', block))
    assert set(contract.CARD_KEYS) <= documented, set(contract.CARD_KEYS) - documented


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("stock", True),
        ("a.b-c_1", True),
        ("x" * 64, True),
        ("x" * 65, False),
        (".", False),
        ("..", False),
        (".tmp-1", False),
        ("a/b", False),
        ("", False),
    ],
)
def test_the_name_rule(name, valid):
    assert contract.is_valid_name(name) is valid
    if not valid:
        with pytest.raises(ValueError, match="invalid model name"):
            contract.validate_name(name)


def test_version_folders_are_positive_integers(tmp_path):
    for entry in ("1", "2", "10", "0", "-1", "x", ".tmp-3-99-abc"):
        (tmp_path / entry).mkdir()
    (tmp_path / "7").write_text("a file, not a version")
    found = contract.version_dirs(tmp_path)
    assert sorted(found) == [1, 2, 10]
    assert found[10] == tmp_path / "10"
    assert contract.version_dirs(tmp_path / "missing") == {}
    assert contract.latest_version_dir(tmp_path.parent, tmp_path.name) == tmp_path / "10"
