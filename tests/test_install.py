"""The package as a user gets it: a wheel built from this checkout, in a fresh virtualenv, in
fresh processes (never the process that saved a model or imported the checkout).

Default run (quick): the wheel's contents and metadata; a fresh venv whose only other
packages are the installed closure of the core dependencies (tensorflow, keras, numpy, and
what they require, linked from this environment, so nothing is downloaded): there the wheel
installs with ``--no-deps``, ``pip check`` passes (the core is all it needs), ``keras-rnn
--help`` loads no TensorFlow, every command whose extra is missing names it and exits 2,
and a model saved in one process loads in another after ``import keras, keras_rnn``.

Slow (``make test-slow``): the real thing, ``pip install keras-rnn.whl`` with its
dependencies resolved from the package index into a fresh venv, then each extra on top of
that core in a venv of its own.
"""

from __future__ import annotations

import email
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
CORE = {"tensorflow", "keras", "numpy", "tomli"}
# Modules the extras install; none may be importable in a core-only environment.
EXTRA_ONLY = ["pandas", "matplotlib", "fastapi", "uvicorn", "tensorflow_datasets", "yfinance"]

SAVE = textwrap.dedent(
    """
    import sys
    import keras, numpy as np
    import keras_rnn

    inputs = keras.Input((None, 3))
    x = keras_rnn.LSTM(4, return_sequences=True)(inputs)
    x = keras_rnn.GRU(4, return_sequences=True)(x)
    x = keras_rnn.SimpleRNN(2)(x)
    model = keras.Model(inputs, x)
    xs = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    np.save(sys.argv[2], xs)
    np.save(sys.argv[3], model.predict(xs, verbose=0))
    model.save(sys.argv[1])
    """
)
LOAD = textwrap.dedent(
    """
    import sys
    import keras, numpy as np
    import keras_rnn  # this alone must register the layers

    model = keras.models.load_model(sys.argv[1])
    kinds = sorted(type(layer).__module__ for layer in model.layers[1:])
    assert all(k.startswith("keras_rnn.") for k in kinds), kinds
    np.testing.assert_allclose(
        model.predict(np.load(sys.argv[2]), verbose=0), np.load(sys.argv[3]), atol=1e-6
    )
    print("loaded", kinds)
    """
)
HELP = textwrap.dedent(
    """
    import sys
    from keras_rnn_cli import main
    try:
        main(sys.argv[1:])
    except SystemExit as stop:
        assert stop.code == 0, stop.code
    heavy = sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "keras", "keras_rnn"})
    print("HEAVY", heavy)
    """
)
# Hides the named top-level modules, as if their distributions were not installed.
HIDE = textwrap.dedent(
    """
    import importlib.abc, sys
    HIDDEN = set(sys.argv.pop(1).split(","))

    class Hide(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in HIDDEN:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    sys.meta_path.insert(0, Hide())
    from keras_rnn_cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "3", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def _run(argv: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout
    )


def _ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


# --- the checkout (this environment) -------------------------------------------------------------


def test_load_model_in_a_fresh_process_after_import_keras_rnn(tmp_path):
    """Saved in one process, loaded in another that only did ``import keras, keras_rnn``."""
    (tmp_path / "save.py").write_text(SAVE)
    (tmp_path / "load.py").write_text(LOAD)
    files = [str(tmp_path / f) for f in ("m.keras", "x.npy", "y.npy")]
    _ok(_run([sys.executable, "save.py", *files], tmp_path))
    assert "loaded" in _ok(_run([sys.executable, "load.py", *files], tmp_path))


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["serve", "--help"],
        ["train", "stock", "--help"],
        ["train", "text", "--help"],
        ["tutorial", "--help"],
        ["demo", "--help"],
        ["--version"],
    ],
)
def test_help_does_not_import_tensorflow(tmp_path, argv):
    started = time.perf_counter()
    out = _ok(_run([sys.executable, "-c", HELP, *argv], tmp_path))
    assert "HEAVY []" in out, out
    assert time.perf_counter() - started < 20  # no TensorFlow import: well under a second quiet


def test_serve_does_not_import_keras_rnn_or_tensorflow_in_the_parent(tmp_path):
    """``keras-rnn serve`` runs through the dispatcher without ``import keras_rnn``: the
    server's parent process (with --workers, a supervisor) stays free of TensorFlow."""
    code = HELP.replace("main(sys.argv[1:])", "assert main(sys.argv[1:]) == 2").replace(
        "assert stop.code == 0, stop.code", "raise"
    )
    out = _ok(_run([sys.executable, "-c", code, "serve", "--model-dir", "missing"], tmp_path))
    assert "HEAVY []" in out, out


@pytest.mark.parametrize(
    ("argv", "hidden", "extra"),
    [
        (["serve"], "fastapi,uvicorn", "serving"),
        (["serve", "--model-dir", "models", "--port", "0"], "orjson", "serving"),
        (["train", "stock", "--epochs", "1"], "pandas", "stock"),
        (["tutorial", "statland", "--quick"], "matplotlib", "tutorials"),
        (["demo"], "fastapi", "stock,serving"),
    ],
)
def test_a_command_without_its_extra_names_it_and_exits_2(tmp_path, argv, hidden, extra):
    result = _run([sys.executable, "-c", HIDE, hidden, *argv], tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"pip install 'keras-rnn[{extra}]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_serving_cli_itself_names_the_extra(tmp_path):
    """``python -m serving.cli`` (no dispatcher in front) also says which extra, exit 2."""
    code = HIDE.replace("from keras_rnn_cli import main", "from serving.cli import main").replace(
        "sys.exit(main(sys.argv[1:]))", "sys.exit(main(['--model-dir', '.']))"
    )
    result = _run([sys.executable, "-c", code, "uvicorn"], tmp_path)
    assert result.returncode == 2 and "keras-rnn[serving]" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_extras_the_cli_names_exist_and_install_what_it_checks():
    """Every extra the CLI asks for is in the metadata and installs the modules it checks."""
    from keras_rnn_cli import COMMAND_EXTRAS, COMMANDS, EXTRA_MODULES

    assert set(COMMAND_EXTRAS) == set(COMMANDS)
    dist = metadata.distribution("keras-rnn")
    extras = set(dist.metadata.get_all("Provides-Extra"))
    assert {"stock", "text", "predictors", "plots", "tfds", "tutorials", "online", "serving"} <= (
        extras
    )
    assert {"all", "dev", "gpu"} <= extras
    providers = metadata.packages_distributions()
    for extra, modules in EXTRA_MODULES.items():
        wanted = _closure([r for r in dist.requires if _in_extra(r, extra)], extra=extra)
        for module in modules:
            owners = {canonicalize_name(d) for d in providers.get(module, [])}
            assert owners & wanted, f"extra {extra!r} does not install {module!r}"


def test_toml_config_reads_through_tomli_where_tomllib_is_missing(tmp_path):
    """Python 3.10 has no tomllib; ``--config run.toml`` then reads through tomli."""
    pytest.importorskip("tomli")
    (tmp_path / "run.toml").write_text("epochs = 3\n")
    code = textwrap.dedent(
        f"""
        import sys, types
        sys.modules["tomllib"] = None  # as on Python 3.10
        pkg = types.ModuleType("keras_rnn"); pkg.__path__ = [{str(REPO / "keras_rnn")!r}]
        sys.modules["keras_rnn"] = pkg
        from keras_rnn_cli.args import load_config
        print(load_config(sys.argv[1]))
        """
    )
    assert "{'epochs': 3}" in _ok(_run([sys.executable, "-c", code, "run.toml"], tmp_path))


# --- the wheel -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """keras-rnn's wheel, built from a copy of this checkout (no build isolation: nothing is
    downloaded). The copy leaves out generated folders: a stale ``build/`` would carry
    deleted modules into the wheel, and building in place would leave one behind. Hidden
    entries are left out anywhere (``.git``, ``.venv``, caches, and the benchmark's peer
    venvs in ``bench/.peers/``, gigabytes that made this copy take 45 s)."""
    source = tmp_path_factory.mktemp("source") / "keras-rnn"
    anywhere = shutil.ignore_patterns("__pycache__", "*.egg-info", ".*")
    top = {"build", "dist", "models", "runs", "outputs", "node_modules"}

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = set(anywhere(directory, names))
        return skipped | (top & set(names) if Path(directory) == REPO else set())

    shutil.copytree(REPO, source, ignore=ignore, symlinks=True)
    out = tmp_path_factory.mktemp("dist")
    _ok(
        _run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
             "--quiet", "-w", str(out), str(source)],
            out,
        )
    )  # fmt: skip
    (path,) = out.glob("keras_rnn-*.whl")
    return path


def test_wheel_contents_and_metadata(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_bytes(archive.read(info))
        entry_points = archive.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert meta["License-Expression"] == "Apache-2.0"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert {
        "keras_rnn/py.typed",
        "keras_rnn_cli/py.typed",
        "keras_rnn_cli/__init__.py",
        "keras_rnn_contract/py.typed",
        "keras_rnn_contract/__init__.py",
    } <= names
    assert {
        "keras_rnn/data/stock/bundled/sp500.csv",
        "keras_rnn/data/stock/bundled/nasdaq.csv",
    } <= (names)
    assert "keras_rnn/data/stock/bundled/README.md" in names
    lessons = {Path(n).name for n in names if n.startswith("keras_rnn/tutorials/")}
    on_disk = {p.name for p in (REPO / "tutorials").iterdir() if p.suffix in {".py", ".md"}}
    assert lessons == on_disk
    assert "serving/static/index.html" in names or any(
        n.startswith("serving/static/") for n in names
    )
    for package in ("keras_rnn", "keras_rnn_contract", "serving"):  # every module is shipped
        for path in (REPO / package).rglob("*.py"):
            assert path.relative_to(REPO).as_posix() in names, path
    assert "keras-rnn = keras_rnn_cli:main" in entry_points
    core = {
        canonicalize_name(Requirement(r).name)
        for r in meta.get_all("Requires-Dist")
        if "extra ==" not in r
    }
    assert core == CORE, core  # the lean install: nothing else without an extra
    assert meta.get_all("Project-URL") and meta.get_all("Classifier")


@pytest.fixture(scope="module")
def core_venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel, whose other packages are exactly the core's closure.

    The closure's installed files are linked from this environment through a ``.pth`` file
    (the same bytes pip would unpack); ``pip check`` then proves that the core is all the
    wheel needs, and the extras' packages are simply absent.
    """
    root = tmp_path_factory.mktemp("core-venv")
    venv = root / "venv"
    _ok(_run([sys.executable, "-m", "venv", "--without-pip", str(venv)], root))
    site = next((venv / "lib").glob("python3*/site-packages"))
    linked = root / "core-site"
    linked.mkdir()
    requires = metadata.distribution("keras-rnn").requires or []
    for name in _closure([r for r in requires if "extra ==" not in r]):
        dist = metadata.distribution(name)
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            source = Path(dist.locate_file(top))
            if source.exists() and not (linked / top).exists():
                (linked / top).symlink_to(source)
    (site / "_core_dependencies.pth").write_text(f"{linked}\n")
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
    _ok(_run([*pip, "install", "--no-deps", "--no-index", "--quiet", str(wheel)], root))
    _ok(_run([*pip, "check"], root))
    return venv


def test_core_venv_without_extras(core_venv, tmp_path):
    """From the installed wheel, with the core only: help, the extra messages, save/load."""
    bin_dir = core_venv / "bin"
    python = str(bin_dir / "python")
    started = time.perf_counter()
    assert "COMMAND" in _ok(_run([str(bin_dir / "keras-rnn"), "--help"], tmp_path))
    help_s = time.perf_counter() - started
    assert help_s < 20, help_s
    probe = f"import importlib.util as u; print([m for m in {EXTRA_ONLY!r} if u.find_spec(m)])"
    assert _ok(_run([python, "-c", probe], tmp_path)).strip() == "[]"
    for argv, extra in [
        (["serve"], "serving"),
        (["train", "stock"], "stock"),
        (["tutorial", "statland"], "tutorials"),
        (["demo"], "stock,serving"),
    ]:
        result = _run([str(bin_dir / "keras-rnn"), *argv], tmp_path)
        assert result.returncode == 2, (argv, result.stderr)
        assert f"pip install 'keras-rnn[{extra}]'" in result.stderr and "Traceback" not in (
            result.stderr
        )
    (tmp_path / "save.py").write_text(
        SAVE
        + textwrap.dedent(
            """
            from keras_rnn.data.stock import load_series
            from keras_rnn.tutorial_cli import available, tutorials_dir
            series = load_series("sp500")  # the bundled file: no pandas, no arch
            assert len(series) == 5031 and "pandas" not in sys.modules
            assert "site-packages" in str(tutorials_dir()) and "01_statland" in available()
            assert keras_rnn.__file__.startswith(sys.prefix), keras_rnn.__file__
            """
        )
    )
    (tmp_path / "load.py").write_text(LOAD)
    files = [str(tmp_path / f) for f in ("m.keras", "x.npy", "y.npy")]
    _ok(_run([python, "save.py", *files], tmp_path))
    assert "loaded" in _ok(_run([python, "load.py", *files], tmp_path))


# --- the real install (slow) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """``pip install keras-rnn.whl`` into a fresh venv, dependencies from the package index.

    keras-rnn itself is then removed again, leaving a core-only site that each extra's venv
    below stacks on (so TensorFlow is unpacked once, not once per extra).
    """
    root = tmp_path_factory.mktemp("pip-venv")
    venv = root / "venv"
    _ok(_run([sys.executable, "-m", "venv", str(venv)], root))
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    _ok(_run([*pip, "install", "--quiet", str(wheel)], root, timeout=1200))
    return venv


@pytest.mark.slow
@pytest.mark.timeout(2400)  # the first of these pays for the fixture's TensorFlow install
def test_pip_install_without_extras(installed, tmp_path):
    python = str(installed / "bin" / "python")
    listed = _ok(_run([python, "-m", "pip", "list", "--format", "freeze"], tmp_path))
    names = {canonicalize_name(line.split("==")[0]) for line in listed.split()}
    assert not names & {"pandas", "matplotlib", "arch", "tensorflow-datasets", "fastapi"}, names
    _ok(_run([python, "-m", "pip", "check"], tmp_path))
    result = _run([str(installed / "bin" / "keras-rnn"), "serve"], tmp_path)
    assert result.returncode == 2 and "keras-rnn[serving]" in result.stderr
    (tmp_path / "save.py").write_text(SAVE)
    (tmp_path / "load.py").write_text(LOAD)
    files = [str(tmp_path / f) for f in ("m.keras", "x.npy", "y.npy")]
    _ok(_run([python, "save.py", *files], tmp_path))
    assert "loaded" in _ok(_run([python, "load.py", *files], tmp_path))


EXTRA_CHECKS = {
    # extra -> a command run with the installed `keras-rnn` (or python -c) that needs it
    "serving": (["keras-rnn", "serve", "--model-dir", "missing-dir"], 2, "is not a directory"),
    "stock": (
        [
            "keras-rnn",
            "train",
            "stock",
            "--source",
            "synthetic",
            "--days",
            "300",
            "--epochs",
            "1",
            "--units",
            "4",
            "--window",
            "10",
            "--min-window",
            "5",
            "--model-dir",
            "m",
            "--output-dir",
            "out",
            "--quiet",
        ],
        0,
        "history_plot: out/training.png\nexported m/stock/1",
    ),  # the rich table, the matplotlib plots, the export
    "tutorials": (["keras-rnn", "tutorial", "statland", "--quick", "--output-dir", "out"], 0, ""),
    "plots": (["python", "-c", "import matplotlib; print('ok')"], 0, "ok"),
    "tfds": (["python", "-c", "import tensorflow_datasets; print('ok')"], 0, "ok"),
    "text": (["python", "-c", "import tensorflow_datasets; print('ok')"], 0, "ok"),
    "predictors": (["python", "-c", "import pandas, tensorflow_datasets; print('ok')"], 0, "ok"),
    "online": (["python", "-c", "import yfinance; print('ok')"], 0, "ok"),
}


@pytest.mark.slow
@pytest.mark.timeout(2400)
@pytest.mark.parametrize("extra", sorted(EXTRA_CHECKS))
def test_pip_install_with_each_extra(installed, wheel, tmp_path, extra):
    """``pip install 'keras-rnn.whl[EXTRA]'`` on top of the core: the extra's feature works."""
    base_site = next((installed / "lib").glob("python3*/site-packages"))
    _ok(_run([str(installed / "bin" / "python"), "-m", "pip", "uninstall", "-y", "-q", "keras-rnn"], tmp_path))  # fmt: skip
    venv = tmp_path / "venv"
    _ok(_run([sys.executable, "-m", "venv", str(venv)], tmp_path))
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "_core.pth").write_text(f"{base_site}\n")
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    _ok(_run([*pip, "install", "--quiet", f"{wheel}[{extra}]"], tmp_path, timeout=1200))
    _ok(_run([*pip, "check"], tmp_path))
    argv, code, needle = EXTRA_CHECKS[extra]
    argv = [str(venv / "bin" / argv[0]), *argv[1:]]
    result = _run(argv, tmp_path, timeout=900)
    assert result.returncode == code, result.stderr[-3000:]
    assert needle in result.stdout + result.stderr
    assert "needs the optional" not in result.stderr


# --- helpers -------------------------------------------------------------------------------------


def _in_extra(requirement: str, extra: str) -> bool:
    marker = Requirement(requirement).marker
    return marker is not None and marker.evaluate({**default_environment(), "extra": extra})


def _closure(requirements: list[str], extra: str = "") -> set[str]:
    """Canonical names of the installed distributions these requirements pull, transitively.

    Markers are evaluated for this interpreter; a self-reference (``keras-rnn[stock]``)
    expands into that extra's requirements.
    """
    seen: set[str] = set()
    todo = [(r, extra) for r in requirements]
    while todo:
        text, active = todo.pop()
        req = Requirement(text)
        env = {**default_environment(), "extra": active}
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        name = canonicalize_name(req.name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            if name == "tomli" and sys.version_info >= (3, 11):
                continue
            raise
        for sub in req.extras or {""}:
            key = f"{name}[{sub}]"
            if key in seen:
                continue
            seen.add(key)
            todo += [(r, sub) for r in dist.requires or []]
    return {re.sub(r"\[.*\]$", "", k) for k in seen}
