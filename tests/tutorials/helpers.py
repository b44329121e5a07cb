"""Helpers for the lesson tests: run a lesson as a learner would, collect its findings.

Quick runs execute the lesson *as a notebook* (``jupytext.read`` + ``nbclient``, a fresh
kernel started in ``tutorials/``): what a learner gets in Jupyter, figures inline. Full runs
(``make tutorials``) run it as a script, as ``python tutorials/NN_name.py`` would. Either
way the lesson's ``_common.finish`` pickles its ``FINDINGS`` dict to the file named by
``KERAS_RNN_TUTORIAL_FINDINGS``, and the tests assert the lesson's claims on it.
"""

from __future__ import annotations
import __future__

import ast
import contextlib
import os
import pickle
import runpy
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

TUTORIALS = Path(__file__).resolve().parents[2] / "tutorials"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def load_lesson(stem: str) -> ModuleType:
    """The lesson's definitions (imports, functions, classes, constants), without its steps.

    A lesson is a script of top-level steps, so importing it would run it. This keeps the
    top-level statements that only define things, so tests can call its functions.
    """
    name = f"lesson_{stem}"
    if name in sys.modules:
        return sys.modules[name]
    if str(TUTORIALS) not in sys.path:
        sys.path.insert(0, str(TUTORIALS))
    path = TUTORIALS / f"{stem}.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    module = ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module  # dataclasses look their module up while being defined
    definitions = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
    for node in tree.body:
        constant = isinstance(node, ast.Assign | ast.AnnAssign) and all(
            isinstance(t, ast.Name) and t.id.isupper()
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
        calls_common = any(
            isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name)
            and n.value.id == "_common"
            and n.attr != "IN_NOTEBOOK"
            for n in ast.walk(node)
        ) and not isinstance(node, ast.FunctionDef | ast.ClassDef)
        if (isinstance(node, definitions) or constant) and not calls_common:
            code = compile(
                ast.Module(body=[node], type_ignores=[]),
                str(path),
                "exec",
                flags=__future__.annotations.compiler_flag,
                dont_inherit=True,
            )
            # NameError: a constant computed from the run's settings, not a definition
            with contextlib.suppress(NameError):
                exec(code, module.__dict__)
    return module


def _lesson_env(out_dir: Path, quick: bool) -> dict[str, str]:
    return {
        "KERAS_RNN_TUTORIAL_QUICK": "1" if quick else "0",
        "KERAS_RNN_TUTORIAL_OUTPUT_DIR": str(out_dir),
        "KERAS_RNN_TUTORIAL_FINDINGS": str(out_dir / "findings.pkl"),
    }


def start_kernel() -> Any:
    """A ``python3`` kernel started in ``tutorials/`` (what Jupyter does for a notebook there)."""
    from jupyter_client import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(TUTORIALS), env=dict(os.environ))
    return km


# Run first when lessons share one kernel: a clean namespace (as in a fresh kernel; only the
# imported modules stay, which is the time saved), Keras's state reset, this lesson's settings.
FRESH_START = """\
get_ipython().run_line_magic("reset", "-f")
import os, sys
if "keras" in sys.modules:
    sys.modules["keras"].backend.clear_session()
os.environ.update({env!r})
"""


def execute_as_notebook(
    stem: str, out_dir: Path, quick: bool = True, timeout: int = 600, km: Any = None
) -> Any:
    """Execute ``tutorials/<stem>.py`` as a notebook; the executed notebook (nbformat).

    Without ``km`` the lesson gets a fresh kernel of its own, started in ``tutorials/``. With
    a running kernel manager ``km`` (the tests share one, see conftest.py: starting a kernel
    and importing TensorFlow costs ~5 s of CPU per lesson) a first cell clears the namespace
    and sets this lesson's settings; the lesson's own cells follow unchanged.
    """
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    notebook = jupytext.read(TUTORIALS / f"{stem}.py")
    env = _lesson_env(out_dir, quick)
    if km is None:
        client = nbclient.NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(TUTORIALS)}},
        )
        client.execute(env={**os.environ, **env})
        return notebook
    import nbformat

    notebook.cells.insert(0, nbformat.v4.new_code_cell(FRESH_START.format(env=env)))
    client = nbclient.NotebookClient(notebook, km=km, timeout=timeout, kernel_name="python3")
    try:
        client.execute()
    finally:
        if client.kc is not None:
            client.kc.stop_channels()
    return notebook


def png_outputs(notebook: Any) -> list[tuple[int, str]]:
    """(cell index, first line of the cell) for every ``image/png`` output of the notebook."""
    found = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if "image/png" in output.get("data", {}):
                found.append((index, cell.source.splitlines()[0] if cell.source else ""))
    return found


def error_outputs(notebook: Any) -> list[str]:
    return [
        f"{o.get('ename')}: {o.get('evalue')}"
        for cell in notebook.cells
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]


def run_quick(
    stem: str, tmp_path_factory: pytest.TempPathFactory, km: Any = None
) -> dict[str, Any]:
    """The lesson's findings from a quick run as a notebook, plus the executed notebook."""
    out_dir = tmp_path_factory.mktemp(stem)
    started = time.perf_counter()
    notebook = execute_as_notebook(stem, out_dir, quick=True, km=km)
    findings = pickle.loads((out_dir / "findings.pkl").read_bytes())
    findings["_output_dir"] = out_dir
    findings["_notebook"] = notebook
    findings["_seconds"] = time.perf_counter() - started
    return findings


def run_full(stem: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The lesson's findings from a full run as a script (``python tutorials/<stem>.py``)."""
    out_dir = tmp_path_factory.mktemp(f"{stem}_full")
    old_argv, old_path, old_env = (
        sys.argv[:],
        sys.path[:],
        os.environ.get("KERAS_RNN_TUTORIAL_FINDINGS"),
    )
    sys.argv = [str(TUTORIALS / f"{stem}.py"), "--output-dir", str(out_dir)]
    sys.path.insert(0, str(TUTORIALS))
    os.environ["KERAS_RNN_TUTORIAL_FINDINGS"] = str(out_dir / "findings.pkl")
    try:
        runpy.run_path(str(TUTORIALS / f"{stem}.py"), run_name="__main__")
    except SystemExit as stop:
        assert not stop.code, f"{stem} exited with {stop.code}"
    finally:
        sys.argv, sys.path[:] = old_argv, old_path
        if old_env is None:
            os.environ.pop("KERAS_RNN_TUTORIAL_FINDINGS", None)
        else:
            os.environ["KERAS_RNN_TUTORIAL_FINDINGS"] = old_env
    findings = pickle.loads((out_dir / "findings.pkl").read_bytes())
    findings["_output_dir"] = out_dir
    return findings


def assert_plots_written(findings: dict[str, Any]) -> None:
    """Every plot is a PNG file in the output dir; in a notebook run, each is shown inline."""
    plots = findings["plots"]
    assert plots, "the lesson saved no plots"
    for path in plots:
        path = Path(path)
        assert path.parent == Path(findings["_output_dir"])
        assert path.suffix == ".png"
        assert path.read_bytes()[:8] == PNG_MAGIC, f"{path} is not a PNG"
    notebook = findings.get("_notebook")
    if notebook is not None:
        assert not error_outputs(notebook)
        shown = png_outputs(notebook)
        assert len(shown) >= len(plots), (
            f"{len(plots)} plots saved but {len(shown)} image/png outputs in the notebook"
        )
