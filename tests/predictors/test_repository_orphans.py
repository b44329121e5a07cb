"""Temporary directories that killed exports left are removed (issue 13)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from keras_rnn.predictors.repository import list_versions, remove_orphans, write_version


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return int(done.stdout)


def fake_export(path) -> None:
    path.mkdir()
    (path / "saved_model.pb").write_bytes(b"pb")


def test_orphans_of_killed_exports_go_live_ones_stay(tmp_path):
    base = tmp_path / "stock"
    base.mkdir()
    killed = base / f".tmp-1-{dead_pid()}-abcd1234"  # its process is gone
    legacy = base / ".tmp-1-qwertyui"  # no pid recorded, two hours old
    recent_legacy = base / ".tmp-1-zxcvbnmq"  # no pid, just written: maybe running
    live = base / f".tmp-2-{os.getppid()}-efgh5678"  # a running process's export
    for path in (killed, legacy, recent_legacy, live):
        (path / "export").mkdir(parents=True)
    two_hours_ago = time.time() - 7200
    os.utime(legacy, (two_hours_ago, two_hours_ago))

    final = write_version(tmp_path, "stock", fake_export)
    assert final == base / "1" and list_versions(tmp_path, "stock") == [1]
    assert sorted(p.name for p in base.iterdir()) == sorted(["1", recent_legacy.name, live.name])
    assert remove_orphans(tmp_path, "stock") == []


def test_an_earlier_process_with_our_pid_left_an_orphan(tmp_path):
    """A container's entry point has the same pid (1) every run: a temporary directory named
    with our pid but older than this process is an earlier run's, killed half-way."""
    base = tmp_path / "stock"
    earlier = base / f".tmp-1-{os.getpid()}-abcd1234"
    (earlier / "export").mkdir(parents=True)
    an_hour_ago = time.time() - 3600
    os.utime(earlier, (an_hour_ago, an_hour_ago))
    assert remove_orphans(tmp_path, "stock") == [earlier]
    ours = base / f".tmp-2-{os.getpid()}-efgh5678"  # made now: this process's own export
    (ours / "export").mkdir(parents=True)
    assert remove_orphans(tmp_path, "stock") == [] and ours.is_dir()
