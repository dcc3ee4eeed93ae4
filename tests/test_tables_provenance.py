"""What tables say about where their numbers come from: timing ratios only within one invocation, runs
from uncommitted code flagged, nothing rewritten when nothing changed."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from asl.results.reader import load_runs
from asl.results.table2 import write_table2
from asl.results.tables import summary_rows
from asl.results.writers import write_tables
from tests.runner_fakes import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "runs"


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    dst = tmp_path / "results"
    shutil.copytree(FIXTURES, dst, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return dst


def _edit_records(run_dir: Path, **changes) -> None:
    path = run_dir / "predictions.jsonl"
    lines = [json.loads(x) | changes for x in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    (run_dir / "metrics.json").write_text(json.dumps({**metrics, "schema_version": 2}))  # recomputed on read


def test_timing_ratios_need_one_invocation(runs: Path) -> None:
    full = next((runs / "ruler").rglob("fullkv-*"))
    _edit_records(full, invocation_id="another-invocation")
    md = write_tables(runs / "ruler", "fullkv")[2]
    assert "TTFT ratio" not in md and "TTFT/TPOT ratios omitted" in md and "make bench-efficiency" in md


def test_runs_from_uncommitted_code_are_flagged(runs: Path) -> None:
    asl = next((runs / "table2" / "llama31_8b_ul").rglob("asl-*"))
    (asl / "run_meta.json").write_text(json.dumps({"git": {"commit": "abc", "dirty": True}}))
    md = write_tables(runs / "table2", "fullkv")[2]
    assert (
        f"**Warning: 1 of 6 runs were produced from a working tree with uncommitted code changes** ({asl.name.split('-')[1]})"
        in md
    )
    table2 = write_table2(summary_rows(load_runs(runs / "table2")), "llama31_8b_ul", runs / "out")[
        1
    ].read_text()
    assert "uncommitted code changes" in table2


def test_regenerating_unchanged_tables_rewrites_nothing(runs: Path) -> None:
    paths = list(write_tables(runs / "table2", "fullkv")[:2])
    paths += write_table2(summary_rows(load_runs(runs / "table2")), "llama31_8b_ul", runs / "out")
    stamps = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths}
    write_tables(runs / "table2", "fullkv")
    write_table2(summary_rows(load_runs(runs / "table2")), "llama31_8b_ul", runs / "out")
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths} == stamps


def test_reproduce_table2_knows_the_committed_results(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "reproduce_table2", ROOT / "scripts" / "reproduce_table2.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.committed(ROOT / "results" / "table2") and module.committed(ROOT / "results")
    assert not module.committed(tmp_path / "results") and not module.committed(ROOT / "resultsx")
