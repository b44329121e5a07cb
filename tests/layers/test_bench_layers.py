"""The layer benchmark runs end to end (tiny sizes) and edits only its docs section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_write_section_replaces_only_its_own(tmp_path: Path) -> None:
    from bench import write_section

    doc = tmp_path / "benchmarks.md"
    write_section("Layers", "old layers", doc)
    write_section("Trainer", "trainer figures", doc)
    write_section("Layers", "new layers", doc)
    text = doc.read_text()
    assert text.startswith("# Benchmarks")
    assert "new layers" in text and "old layers" not in text
    assert "## Trainer\n\ntrainer figures" in text
    assert text.index("## Layers") < text.index("## Trainer")


def test_bench_runs_tiny(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import layers

    out = tmp_path / "layers.json"
    args = "--cells lstm --lengths 3 --batch 2 --features 2 --units 3 --rounds 1 --steps 1"
    assert layers.main([*args.split(), "--no-xla", "--no-docs", "--output", str(out)]) == 0
    report = json.loads(out.read_text())
    modes = {(r["cell"], r["mode"]) for r in report["results"]}
    assert modes == {("lstm", "train"), ("lstm", "infer")}
    assert all(r["ours_ms"] > 0 and r["keras_ms"] > 0 for r in report["results"])
    # What kind of host the ratios come from: its matmul speed, threads and load.
    assert report["machine"]["matmul_gflops"] > 0
    assert len(report["machine"]["load_average_end"]) == 3
    assert "GFLOP/s" in layers.docs_body(report)
    assert "| LSTM | 3 | train step |" in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--units", "--threads"])
def test_bench_rejects_bad_flags(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import layers

    with pytest.raises(SystemExit) as info:
        layers.parse_args([flag, "0"])
    assert info.value.code == 2
    assert flag in capsys.readouterr().err
