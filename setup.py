"""Package list for setuptools; all other metadata is in pyproject.toml.

The lessons live in ``tutorials/`` at the top of the checkout (they run as scripts from
there), and an installed wheel carries them as ``keras_rnn/tutorials/`` so that
``keras-rnn tutorial NAME`` finds them anywhere (``keras_rnn.tutorial_cli.tutorials_dir``).
``packages.find`` in pyproject.toml cannot map one folder into another package, hence this
file.
"""

from setuptools import find_namespace_packages, setup

TUTORIALS = "keras_rnn.tutorials"

setup(
    # Namespace packages too: the data folders (keras_rnn/data/stock/bundled, serving/static)
    # have no __init__.py, and setuptools warns about every folder it is not told about.
    packages=[
        *find_namespace_packages(
            include=["keras_rnn*", "keras_rnn_cli*", "keras_rnn_contract*", "serving*"],
            exclude=["*.__pycache__"],
        ),
        TUTORIALS,
    ],
    package_dir={TUTORIALS: "tutorials"},
    package_data={
        "keras_rnn": ["py.typed", "data/stock/bundled/*.csv", "data/stock/bundled/README.md"],
        "keras_rnn_cli": ["py.typed"],
        "keras_rnn_contract": ["py.typed"],
        "serving": ["static/*", "static/**/*"],
        TUTORIALS: ["*.py", "README.md"],
    },
    # Inside the wheel the lessons are files to run, not a package to import.
    exclude_package_data={TUTORIALS: ["__pycache__/*"]},
)
