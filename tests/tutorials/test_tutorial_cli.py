"""`keras-rnn tutorial NAME`: name resolution, the bad-name error, listing, running a lesson."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from keras_rnn import cli, tutorial_cli

TUTORIALS = Path(__file__).resolve().parents[2] / "tutorials"


@pytest.mark.parametrize(
    "name",
    ["1", "01", "statland", "01_statland", "01_statland.py", "STATLAND", " 01 ", "001"],
)
def test_the_number_or_the_name_finds_lesson_1(name):
    assert tutorial_cli.resolve(name) == TUTORIALS / "01_statland.py"


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("2", "02_rnn_from_scratch"),
        ("rnn-from-scratch", "02_rnn_from_scratch"),
        ("03", "03_vanishing_exploding"),
        ("long_range_memory", "04_long_range_memory"),
        ("5", "05_lstm_gru_inside"),
    ],
)
def test_other_lessons_resolve(name, stem):
    assert tutorial_cli.resolve(name).stem == stem


def test_every_numbered_file_in_tutorials_is_found_including_other_helpers_lessons():
    on_disk = sorted(p.stem for p in TUTORIALS.glob("[0-9][0-9]_*.py"))
    assert list(tutorial_cli.available()) == on_disk
    assert "_common" not in tutorial_cli.available()
    for stem in on_disk:  # 06_... and 07_... by number as well as by name
        number, short = stem.split("_", 1)
        assert tutorial_cli.resolve(number).stem == stem
        assert tutorial_cli.resolve(short).stem == stem


@pytest.mark.parametrize("name", ["nope", "99", "0", "statlan", ""])
def test_unknown_name_is_an_error_listing_the_choices(name):
    with pytest.raises(ValueError, match="unknown tutorial") as err:
        tutorial_cli.resolve(name)
    assert "01_statland" in str(err.value) and "03_vanishing_exploding" in str(err.value)


def test_cli_unknown_name_exits_2_naming_the_argument_value_and_choices(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["tutorial", "nope"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "NAME" in err and "'nope'" in err and "01_statland" in err


def test_cli_without_name_lists_the_lessons(capsys):
    assert cli.main(["tutorial"]) == 0
    out = capsys.readouterr().out
    assert all(stem in out for stem in tutorial_cli.available())


def _fake_lessons(tmp_path: Path) -> Path:
    """A tutorials dir with one lesson that records its argv and exits 3 when asked."""
    tmp_path.mkdir(parents=True)
    (tmp_path / "_echo_helper.py").write_text("GREETING = 'hello from a sibling module'\n")
    (tmp_path / "01_echo.py").write_text(
        "import sys, json, _echo_helper\n"
        "from pathlib import Path\n"
        "if __name__ == '__main__':\n"
        "    out = Path(sys.argv[sys.argv.index('--output-dir') + 1])\n"
        "    out.mkdir(parents=True, exist_ok=True)\n"
        "    (out / 'argv.json').write_text(json.dumps([_echo_helper.GREETING, *sys.argv[1:]]))\n"
        "    sys.exit(3 if '--quick' in sys.argv else 0)\n"
    )
    return tmp_path


def test_cli_runs_the_lesson_as_a_script_with_its_flags(tmp_path, monkeypatch):
    lessons = _fake_lessons(tmp_path / "tutorials")
    monkeypatch.setenv(tutorial_cli.ENV_DIR, str(lessons))
    out = tmp_path / "out"
    assert cli.main(["tutorial", "echo", "--output-dir", str(out)]) == 0
    assert (
        out / "argv.json"
    ).read_text() == f'["hello from a sibling module", "--output-dir", "{out}"]'
    # the lesson's exit status comes back
    assert cli.main(["tutorial", "1", "--quick", "--output-dir", str(out)]) == 3

    assert str(lessons) not in sys.path  # sys.path and sys.argv are restored


def test_what_follows_the_name_reaches_the_lesson_unparsed(tmp_path, monkeypatch):
    """The lesson owns its flags: the command hands them over as given (it used to parse
    --quick/--output-dir itself and rebuild sys.argv, refusing any other lesson flag)."""
    lessons = _fake_lessons(tmp_path / "tutorials")
    monkeypatch.setenv(tutorial_cli.ENV_DIR, str(lessons))
    out = tmp_path / "out"
    argv = ["--output-dir", str(out), "--lesson-only-flag", "x"]
    assert cli.main(["tutorial", "echo", *argv]) == 0
    assert (out / "argv.json").read_text() == json.dumps(["hello from a sibling module", *argv])


def test_tutorial_cli_does_not_import_tensorflow_or_keras_at_module_level():
    tree = ast.parse((Path(tutorial_cli.__file__)).read_text())
    imported = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"tensorflow", "keras", "numpy", "matplotlib"}


def test_every_lesson_opens_as_a_jupytext_percent_notebook():
    jupytext = pytest.importorskip("jupytext")
    lessons = sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))
    assert len(lessons) >= 8  # every lesson, not the first five only
    for path in lessons:
        notebook = jupytext.read(path, fmt="py:percent")
        kinds = [cell.cell_type for cell in notebook.cells]
        assert kinds.count("markdown") >= 3 and kinds.count("code") >= 3, path.name
        title = next(c.source for c in notebook.cells if c.cell_type == "markdown")
        assert re.match(rf"# Lesson {int(path.name[:2])}\b", title), path.name


def test_every_lesson_is_top_level_steps_with_no_exit_and_no_forced_backend():
    jupytext = pytest.importorskip("jupytext")
    for path in sorted(TUTORIALS.glob("[0-9][0-9]_*.py")):
        notebook = jupytext.read(path, fmt="py:percent")
        code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
        steps = [src for src in code if not re.match(r"(def|class|@)\s", src.lstrip())]
        assert len(steps) >= 4, f"{path.name}: fewer than 4 top-level steps"
        assert "_common.parse_args(" in "\n".join(code[:3]), f"{path.name}: no settings cell"
        assert "_common.finish(" in code[-1], f"{path.name}: the last cell does not finish()"
        text = path.read_text()
        assert "SystemExit" not in text and "sys.exit" not in text, path.name
        assert "matplotlib.use" not in text and "plt.close" not in text, path.name


def test_a_real_lesson_runs_as_a_script_through_the_cli(tmp_path, capsys):
    # Lesson 2: among the quickest as a script (every lesson also runs as a notebook).
    assert cli.main(["tutorial", "2", "--quick", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "the quick run, as a script" in out and "claims hold" in out
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "gradients_hand_vs_tape.png",
        "loss_curves.png",
        "predictions.png",
        "truncated_bptt.png",
    ]


def test_a_process_that_only_imported_ipykernel_is_not_a_notebook():
    # nbclient/jupyter_client import ipykernel in the test process itself; a lesson run there
    # as a script must still read its flags and not try to display figures.
    code = (
        "import sys, ipykernel.kernelapp; sys.path.insert(0, sys.argv[1]); "
        "import _common; print(_common.IN_NOTEBOOK)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(TUTORIALS)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
