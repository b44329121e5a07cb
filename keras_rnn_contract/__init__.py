"""The export contract between the predictors and the service, in one place.

Everything that a SavedModel written by ``keras_rnn`` and the service that serves it (or TF
Serving, the benchmarks, the test fixtures) must agree on: the repository layout, the model
name rule, the model card's file name and keys, and the signature and tensor names of both
predictors. docs/architecture.md ("Exported SavedModels") describes the same contract in
prose.

Standard library only, and a top-level package of its own (beside ``keras_rnn``) on purpose:
``import keras_rnn`` imports TensorFlow to register the layers, while the service's parent
process and ``keras-rnn --help`` must stay free of it. The service imports this package and
nothing else of the library.

Repository layout (TensorFlow Serving's)::

    <model_dir>/<name>/<version>/saved_model.pb      version: a positive integer folder
    <model_dir>/<name>/<version>/model_card.json     (CARD_FILE)
    <model_dir>/<name>/.tmp-<version>-<pid>-*/       an export being written (TMP_PREFIX)
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Final

# ---- repository layout ---------------------------------------------------------------------
SAVED_MODEL_FILE: Final = "saved_model.pb"
CARD_FILE: Final = "model_card.json"
# Hidden, so that neither a reader's version scan nor TF Serving picks it up.
TMP_PREFIX: Final = ".tmp-"
# ``.tmp-<version>-<pid>-<random>``; folders written before pids were recorded lack ``<pid>-``.
TMP_PATTERN: Final = re.compile(r"^\.tmp-\d+-(?:(\d+)-)?")

# ---- model names ---------------------------------------------------------------------------
NAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
NAME_RULE: Final = (
    "1-64 characters of letters, digits, '_', '.' or '-', starting with a letter or digit"
)


def is_valid_name(name: str) -> bool:
    """A model name is one path component: :data:`NAME_PATTERN`, and never ``.`` or ``..``."""
    return bool(NAME_PATTERN.match(name)) and name not in {".", ".."}


def validate_name(name: str) -> str:
    """``name`` if :func:`is_valid_name`, else ``ValueError`` naming it and the rule."""
    if not is_valid_name(name):
        raise ValueError(f"Received an invalid model name {name!r}: expected {NAME_RULE}.")
    return name


def parse_version(folder: str) -> int | None:
    """The version a folder name stands for (a positive integer), else ``None``."""
    if folder.isdigit() and int(folder) > 0:
        return int(folder)
    return None


def version_dirs(model_path: str | os.PathLike) -> dict[int, Path]:
    """The version folders of one model's directory, ``{version: path}``; ``{}`` if absent.

    Temporary (``.tmp-*``) and other non-version entries are skipped; a version folder may
    still be incomplete if it was copied in by hand (the service waits for it to settle).
    """
    found: dict[int, Path] = {}
    try:
        entries = list(os.scandir(model_path))
    except OSError:
        return found
    for entry in entries:
        version = parse_version(entry.name)
        if version is not None and entry.is_dir():
            found[version] = Path(entry.path)
    return found


def latest_version_dir(model_dir: str | os.PathLike, name: str) -> Path | None:
    """``<model_dir>/<name>/<newest version>``, or ``None`` when the model has no version."""
    versions = version_dirs(Path(model_dir) / validate_name(name))
    return versions[max(versions)] if versions else None


# ---- the model card (model_card.json) ------------------------------------------------------
# Keys every card has; ``name`` and ``version`` are filled in by the repository writer.
CARD_KEYS: Final = (
    "name",
    "version",
    "created",
    "task",
    "data",
    "model",
    "training",
    "metrics",
    "baselines",
    "versions",
    "signatures",
)

# ---- signatures and tensor names -----------------------------------------------------------
DEFAULT_SIGNATURE: Final = "serving_default"


class Stock:
    """The stock predictor: raw prices in, forecast prices out."""

    NAME: Final = "stock"  # the default model name (the service's task routes use it)
    # signatures
    SERVE: Final = DEFAULT_SIGNATURE
    PADDED: Final = "padded"
    # tensors
    PRICES: Final = "prices"
    LENGTHS: Final = "lengths"
    FORECAST: Final = "forecast"
    # card keys beyond CARD_KEYS
    CARD_KEYS: Final = ("horizon", "sample")


class Text:
    """The text predictor: next tokens and generated continuations of a raw string."""

    NAME: Final = "text"
    # signatures
    SERVE: Final = DEFAULT_SIGNATURE
    NEXT: Final = "next"
    GENERATE: Final = "generate"
    # tensors
    TEXT: Final = "text"
    K: Final = "k"
    MAX_TOKENS: Final = "max_tokens"
    TEMPERATURE: Final = "temperature"
    TOP_K: Final = "top_k"
    SEED: Final = "seed"
    TOKENS: Final = "tokens"
    PROBABILITIES: Final = "probabilities"
    CONTINUATION: Final = "continuation"
    # how many next tokens serving_default returns
    TOP_N: Final = 5
    # card keys beyond CARD_KEYS
    CARD_KEYS: Final = ("level", "max_prefix_tokens", "max_generate_tokens", "examples")


def stock_signatures() -> dict[str, Any]:
    """The ``signatures`` section of a stock card (a fresh dict: callers may change it)."""
    s = Stock
    forecast = "float32 [batch, horizon], price units"
    return {
        s.SERVE: {
            "inputs": {s.PRICES: "float32 [batch, time], time >= 1, price units"},
            "outputs": {s.FORECAST: forecast},
        },
        s.PADDED: {
            "inputs": {
                s.PRICES: "float32 [batch, time], right-padded",
                s.LENGTHS: "int32 [batch], 1 <= length <= time",
            },
            "outputs": {s.FORECAST: forecast},
        },
    }


def text_signatures() -> dict[str, Any]:
    """The ``signatures`` section of a text card (a fresh dict: callers may change it)."""
    t = Text
    return {
        t.SERVE: {
            "inputs": {t.TEXT: "string [batch]"},
            "outputs": {
                t.TOKENS: f"string [batch, {t.TOP_N}]",
                t.PROBABILITIES: f"float32 [batch, {t.TOP_N}]",
            },
        },
        t.NEXT: {
            "inputs": {t.TEXT: "string [batch]", t.K: "int32 []"},
            "outputs": {t.TOKENS: "string [batch, k]", t.PROBABILITIES: "float32 [batch, k]"},
        },
        t.GENERATE: {
            "inputs": {
                t.TEXT: "string [batch]",
                t.MAX_TOKENS: "int32 []",
                t.TEMPERATURE: "float32 [] (<= 0: greedy)",
                t.TOP_K: "int32 [] (0 = off)",
                t.SEED: "int32 [batch] (one per row: a row's draw depends only on its own seed)",
            },
            "outputs": {t.CONTINUATION: "string [batch]"},
        },
    }


__all__ = [
    "CARD_FILE",
    "CARD_KEYS",
    "DEFAULT_SIGNATURE",
    "NAME_PATTERN",
    "NAME_RULE",
    "SAVED_MODEL_FILE",
    "TMP_PATTERN",
    "TMP_PREFIX",
    "Stock",
    "Text",
    "is_valid_name",
    "latest_version_dir",
    "parse_version",
    "stock_signatures",
    "text_signatures",
    "validate_name",
    "version_dirs",
]
