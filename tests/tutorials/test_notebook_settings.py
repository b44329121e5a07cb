"""A lesson's settings as a learner gets them in Jupyter: quick unless asked for the full run.

The lesson tests execute every lesson with ``KERAS_RNN_TUTORIAL_QUICK=1`` set, so they cannot
show what a learner who sets nothing gets. Here the settings cell's call runs in a real
kernel started in ``tutorials/`` (the session's shared one), with the variable absent, "0"
and "1", and with the kernel's own ``sys.argv`` (``-f connection.json``) in place.
"""

from __future__ import annotations

import json

import pytest

SETTINGS = """\
import json, os, sys
for name in ("KERAS_RNN_TUTORIAL_QUICK", "KERAS_RNN_TUTORIAL_OUTPUT_DIR"):
    os.environ.pop(name, None)
os.environ.update({env!r})
import _common
args = _common.parse_args("00_probe", "probe")
print("RESULT " + json.dumps({{"quick": args.quick, "notebook": _common.IN_NOTEBOOK,
                              "argv0": sys.argv[0], "out": str(args.output_dir)}}))
"""


def _settings_in_kernel(km, env: dict[str, str]) -> dict:
    nbclient = pytest.importorskip("nbclient")
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(SETTINGS.format(env=env))]
    client = nbclient.NotebookClient(notebook, km=km, timeout=120, kernel_name="python3")
    try:
        client.execute()
    finally:
        if client.kc is not None:
            client.kc.stop_channels()
    text = "".join(o.get("text", "") for o in notebook.cells[0].outputs)
    return json.loads(text.split("RESULT ", 1)[1].splitlines()[0])


@pytest.mark.parametrize(
    ("quick_env", "expected"),
    [(None, True), ("1", True), ("0", False)],
    ids=["unset-quick", "1-quick", "0-full"],
)
def test_a_notebook_is_quick_unless_the_full_run_is_asked_for(
    notebook_kernel, tmp_path, quick_env, expected
):
    env = {"KERAS_RNN_TUTORIAL_OUTPUT_DIR": str(tmp_path)}
    if quick_env is not None:
        env["KERAS_RNN_TUTORIAL_QUICK"] = quick_env
    result = _settings_in_kernel(notebook_kernel, env)
    assert result["notebook"] is True  # a kernel: figures inline, flags from the environment
    assert result["quick"] is expected, result
    assert result["out"] == str(tmp_path)
