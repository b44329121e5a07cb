"""The model repository: load, warm, watch and swap versions of TensorFlow Serving layout.

Layout (the export contract, :mod:`keras_rnn_contract`):
``<model_dir>/<name>/<version>/saved_model.pb`` (+ ``model_card.json``). Each scan:

1. lists the complete version directories of every model (hidden ``.tmp-*`` ones are skipped);
2. picks the versions to serve from the model's :class:`~serving.settings.VersionPolicy`
   (newest N by default, or pinned versions), skipping versions that already failed;
3. loads and warms up new ones (one call per signature) while the old ones keep serving;
4. publishes each version once warm, then unloads versions no longer wanted.

A version is loaded only once its files have settled: every file (sizes and mtimes, walked
recursively) unchanged for ``settle_s``, so a version copied in place (``mkdir 3 && cp -r
v/* 3/``) is not caught half-written. A version that fails to load or warm up is logged and
kept in the status as ``FAILED`` with its error (paths in it relative to the model
directory: the status is public); it never replaces a good version. It is retried when any of
its files changes, which is also where a version copied in with long pauses gets its second
chance.

Lookups raise :mod:`serving.exceptions` (``ModelNotFound``, ``VersionNotFound``,
``VersionFailed``, ``VersionNotReady``, ``ServiceNotReady``); :mod:`serving.errors` picks
the HTTP status.

Requests take a reference to one :class:`ModelVersion` and keep it for the whole call, so a
swap never fails a request in flight.

After a scan that loaded or unloaded anything, the heap is settled (:func:`settle_heap`): the
loaded models are frozen out of the garbage collector's full passes, which otherwise stop the
whole process for a few hundred milliseconds every few thousand requests.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keras_rnn_contract import CARD_FILE, DEFAULT_SIGNATURE, is_valid_name, version_dirs

from .exceptions import (
    ModelNotFound,
    ServiceNotReady,
    SignatureNotFound,
    VersionFailed,
    VersionNotFound,
    VersionNotReady,
)
from .settings import Settings, VersionPolicy
from .signatures import Signature

log = logging.getLogger("serving.registry")


@dataclass
class ModelVersion:
    name: str
    version: int
    path: Path
    state: str = "START"  # START, LOADING, AVAILABLE, FAILED, UNLOADING, END
    error: str | None = None
    fingerprint: tuple = ()
    signatures: dict[str, Signature] = field(default_factory=dict)
    card: dict[str, Any] | None = None
    loaded_at: float | None = None
    handle: Any = None  # the object from tf.saved_model.load; keeps variables alive

    @property
    def ready(self) -> bool:
        return self.state == "AVAILABLE"

    def signature(self, name: str | None) -> Signature:
        key = name or DEFAULT_SIGNATURE
        sig = self.signatures.get(key)
        if sig is None:
            known = ", ".join(sorted(self.signatures)) or "none"
            raise SignatureNotFound(
                f"Model `{self.name}` version {self.version} has no signature `{key}` (it has: {known})."
            )
        return sig


def _fingerprint(path: Path) -> tuple[tuple[tuple[str, int, int], ...], int]:
    """Every file and directory under ``path`` as ``(relative path, size, mtime_ns)``, sorted,
    and the newest mtime (ns). Any write, truncation or new file changes it."""
    entries: list[tuple[str, int, int]] = []
    newest = 0
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for entry in [root, *(os.path.join(root, f) for f in files)]:
            try:
                st = os.stat(entry)
            except OSError:  # removed while we walk: the next look sees the change
                continue
            entries.append((os.path.relpath(entry, path), st.st_size, st.st_mtime_ns))
            newest = max(newest, st.st_mtime_ns)
    return tuple(sorted(entries)), newest


_ABSOLUTE_PATH = re.compile(r"(?<![\w.~-])/(?:[^\s'\"/:,;()<>]+/)+([^\s'\"/:,;()<>]*)")


def public_error(message: str, model_dir: Path) -> str:
    """``message`` with the model directory's prefix dropped (``stock/2/saved_model.pb``) and
    any other absolute path cut to its last part: a version's status is public."""
    roots = {str(model_dir.absolute()), str(model_dir.resolve()), os.path.realpath(model_dir)}
    for root in sorted(roots, key=len, reverse=True):
        message = message.replace(root.rstrip(os.sep) + os.sep, "")
    return _ABSOLUTE_PATH.sub(lambda m: ".../" + m.group(1), message)


def load_version(mv: ModelVersion, warmup: bool = True) -> None:
    """Load a SavedModel version in place (blocking); raises on any failure."""
    import tensorflow as tf

    handle = tf.saved_model.load(str(mv.path))
    signatures = {name: Signature(name, fn) for name, fn in handle.signatures.items()}
    if not signatures:
        raise ValueError("the SavedModel has no signatures")
    card = None
    card_path = mv.path / CARD_FILE
    if card_path.is_file():
        try:
            card = json.loads(card_path.read_text())
        except (OSError, ValueError) as err:
            raise ValueError(f"{CARD_FILE} is not valid JSON: {err}") from err
    if warmup:
        for name, sig in signatures.items():
            try:
                sig.warm_up()
            except Exception as err:
                raise RuntimeError(f"warm-up call of signature `{name}` failed: {err}") from err
    mv.handle, mv.signatures, mv.card = handle, signatures, card


def settle_heap() -> None:
    """Collect once, then freeze every surviving object out of later collections.

    A loaded SavedModel is hundreds of thousands of Python objects (functions, trackables,
    their cycles), and they live as long as the version is served. CPython's generation-2
    collection walks every tracked object while holding the GIL: with one stock model loaded
    that took 150-250 ms on the reference machine, several times a minute under load, and it
    was the whole p99 latency at concurrency 64. ``gc.freeze()`` moves the survivors to the
    permanent generation, which collections skip; objects allocated later (request garbage)
    are collected as usual. ``gc.unfreeze()`` first, so the cycles of versions unloaded since
    the last settle are collected now rather than kept forever.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class Registry:
    """All models and versions the service knows; thread-safe; swaps are atomic."""

    def __init__(
        self,
        settings: Settings,
        loader: Callable[[ModelVersion, bool], None] = load_version,
        on_change: Callable[[Registry], None] | None = None,
    ):
        self.settings = settings
        self.model_dir = Path(settings.model_dir)
        self._loader = loader
        self._on_change = on_change
        self._lock = threading.Lock()
        self._scan_lock = threading.Lock()
        # name -> version -> ModelVersion. Replaced wholesale on change (copy-on-write), so
        # readers never need the lock.
        self._models: dict[str, dict[int, ModelVersion]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._changed = False  # loaded or unloaded since the last settle_heap()
        self._deferred = False  # the last scan left a version that was still being written
        self.initial_scan_done = threading.Event()

    # ---- reading ----------------------------------------------------------------------
    def names(self) -> list[str]:
        return sorted(self._models)

    def versions(self, name: str) -> dict[int, ModelVersion]:
        """Every version of ``name`` the repository knows, in any state."""
        versions = self._models.get(name)
        if versions is None:
            if not self.initial_scan_done.is_set():
                raise ServiceNotReady("Models are still loading.", self.settings.retry_after_s)
            shown = name if is_valid_name(name) else repr(name[:64])
            known = ", ".join(self.names()) or "none"
            raise ModelNotFound(f"Unknown model `{shown}` (known: {known}).")
        return versions

    def version(self, name: str, version: int) -> ModelVersion:
        """One known version of ``name`` in any state (for status routes)."""
        versions = self.versions(name)
        mv = versions.get(version)
        if mv is None:
            served = sorted(v for v, m in versions.items() if m.ready)
            raise VersionNotFound(
                f"Model `{name}` has no version {version} "
                f"(known: {sorted(versions)}; serving: {served})."
            )
        return mv

    def get(self, name: str, version: int | None = None) -> ModelVersion:
        """The version to serve: the pinned one if it is ready, else the newest ready one.

        The one lookup every route uses. Raises ``ModelNotFound``, ``VersionNotFound``,
        ``VersionFailed`` (pinned version failed to load), or ``VersionNotReady`` (loading:
        worth a retry after ``retry_after_s``).
        """
        if version is not None:
            mv = self.version(name, version)
            if mv.ready:
                return mv
            if mv.state == "FAILED":
                raise VersionFailed(f"Model `{name}` version {version} is FAILED: {mv.error}")
            raise VersionNotReady(
                f"Model `{name}` version {version} is {mv.state}.", self.settings.retry_after_s
            )
        newest: ModelVersion | None = None
        for m in self.versions(name).values():
            if m.ready and (newest is None or m.version > newest.version):
                newest = m
        if newest is None:
            raise VersionNotReady(
                f"Model `{name}` has no version ready yet.", self.settings.retry_after_s
            )
        return newest

    def ready(self) -> bool:
        """Every model found has at least one AVAILABLE version (and the first scan is done)."""
        if not self.initial_scan_done.is_set():
            return False
        return all(any(m.ready for m in vs.values()) for vs in self._models.values())

    def check_ready(self) -> None:
        """Raise ``ServiceNotReady`` unless :meth:`ready` (the one readiness check)."""
        if not self.ready():
            raise ServiceNotReady(
                "Not ready: models are loading or none could be loaded.",
                self.settings.retry_after_s,
            )

    # ---- scanning ---------------------------------------------------------------------
    def policy(self, name: str) -> VersionPolicy:
        return self.settings.models.get(name) or VersionPolicy()

    def _on_disk(self) -> dict[str, dict[int, Path]]:
        found: dict[str, dict[int, Path]] = {}
        try:
            entries = list(os.scandir(self.model_dir))
        except OSError:
            return found
        for entry in entries:
            if not entry.is_dir() or not is_valid_name(entry.name) or entry.name.startswith("."):
                continue
            versions = version_dirs(entry.path)
            if versions:
                found[entry.name] = versions
        return found

    def scan(self) -> None:
        """One pass over the repository (blocking: loads happen in the calling thread)."""
        with self._scan_lock:
            self._deferred = False
            on_disk = self._on_disk()
            for name in sorted(set(on_disk) | set(self._models)):
                self._scan_model(name, on_disk.get(name, {}))
            if self._changed:
                self._changed = False
                settle_heap()
            self.initial_scan_done.set()

    def _publish(self, name: str, versions: dict[int, ModelVersion] | None) -> None:
        with self._lock:
            models = dict(self._models)
            if versions:
                models[name] = versions
            else:
                models.pop(name, None)
            self._models = models
            self._changed = True
        if self._on_change is not None:
            self._on_change(self)

    def _set(self, name: str, mv: ModelVersion) -> None:
        current = dict(self._models.get(name, {}))
        current[mv.version] = mv
        self._publish(name, current)

    def _drop(self, name: str, version: int) -> None:
        current = dict(self._models.get(name, {}))
        current.pop(version, None)
        self._publish(name, current)

    def _scan_model(self, name: str, disk: dict[int, Path]) -> None:
        policy = self.policy(name)
        known = self._models.get(name, {})
        # Forget versions whose directory is gone (unless serving: unloaded below).
        for v, mv in list(known.items()):
            if v not in disk and not mv.ready:
                self._drop(name, v)

        def usable(v: int) -> bool:
            mv = self._models.get(name, {}).get(v)
            return not (mv and mv.state == "FAILED" and mv.fingerprint == _fingerprint(disk[v])[0])

        if policy.specific is not None:
            wanted = [v for v in sorted(policy.specific, reverse=True) if v in disk]
            for v in wanted:
                if usable(v):
                    self._ensure_loaded(name, v, disk[v])
            keep = set(wanted)
        else:
            keep = set()
            for v in sorted(disk, reverse=True):
                if len(keep) >= policy.latest:
                    break
                if not usable(v):
                    continue
                if self._ensure_loaded(name, v, disk[v]):
                    keep.add(v)
        # Unload only after the new versions are AVAILABLE; never leave a model with nothing
        # when nothing new could be loaded.
        for v, mv in list(self._models.get(name, {}).items()):
            if mv.ready and v not in keep and (keep or v not in disk):
                log.info("unloading model %s version %d", name, v)
                self._drop(name, v)

    def _ensure_loaded(self, name: str, version: int, path: Path) -> bool:
        mv = self._models.get(name, {}).get(version)
        if mv is not None and mv.ready:
            return True
        fingerprint = self._settled(path)
        if fingerprint is None:
            log.info("model %s version %d is still being written; will look again", name, version)
            self._deferred = True
            return False
        fresh = ModelVersion(
            name=name, version=version, path=path, state="LOADING", fingerprint=fingerprint
        )
        self._set(name, fresh)
        started = time.perf_counter()
        loaded = ModelVersion(name=name, version=version, path=path, fingerprint=fresh.fingerprint)
        try:
            self._loader(loaded, self.settings.warmup)
        except Exception as err:
            message = f"{type(err).__name__}: {err}".strip()
            message = message.splitlines()[0][:500] if message else type(err).__name__
            log.error(
                "model %s version %d failed to load from %s: %s", name, version, path, message
            )
            loaded.state, loaded.error = "FAILED", public_error(message, self.model_dir)
            self._set(name, loaded)
            return False
        loaded.state, loaded.loaded_at = "AVAILABLE", time.time()
        self._set(name, loaded)
        log.info(
            "model %s version %d is AVAILABLE (loaded and warmed in %.2f s)",
            name,
            version,
            time.perf_counter() - started,
        )
        return True

    def _settled(self, path: Path) -> tuple | None:
        """The version's fingerprint once its files are settled, or None if they keep changing.

        Settled: the newest mtime is ``settle_s`` old, or the fingerprint stayed the same for
        ``settle_s`` while we watched (files copied with their old mtimes, ``cp -p``). Waits
        at most ``max(10 * settle_s, 10 s)``; a version still changing then is left for the
        next scan, without a state.
        """
        settle = self.settings.settle_s
        fingerprint, newest = _fingerprint(path)
        if settle <= 0:
            return fingerprint
        give_up = time.monotonic() + max(10 * settle, 10.0)
        since = time.monotonic()
        while True:
            age = time.time() - newest / 1e9
            unchanged = time.monotonic() - since
            if age >= settle or unchanged >= settle:
                return fingerprint
            if time.monotonic() >= give_up:
                return None
            wait = min(settle - max(age, 0.0), settle - unchanged)
            if self._stop.wait(max(0.01, min(wait, settle))):
                return None
            again, newest = _fingerprint(path)
            if again != fingerprint:
                fingerprint, since = again, time.monotonic()

    # ---- watching ---------------------------------------------------------------------
    def start(self) -> None:
        """Scan now in a background thread, then every ``poll_interval_s`` until :meth:`stop`."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="model-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        interval = self.settings.poll_interval_s
        while not self._stop.is_set():
            try:
                self.scan()
            except Exception:
                log.exception("scanning %s failed; will retry", self.model_dir)
                self.initial_scan_done.set()
            if self._deferred:
                # A version was still being written: look again soon, even without watching.
                self._stop.wait(max(self.settings.settle_s, 0.1))
                continue
            if interval <= 0:
                return
            self._stop.wait(interval)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wait_ready(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready():
                return True
            time.sleep(0.02)
        return self.ready()
