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
from asl.results.tables import ratio_rows, summary_rows
from asl.results.writers import write_tables
from tests.runner_fakes import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "runs"


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    dst = tmp_path / "results"
    shutil.copytree(FIXTURES, dst, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return dst


def _edit_records(run_dir: Path, ttft_scale: float = 1.0, **changes) -> None:
    """Set ``changes`` on every record of a run and scale its TTFTs (the summary is recomputed on read)."""
    path = run_dir / "predictions.jsonl"
    lines = [json.loads(x) | changes for x in path.read_text().splitlines()]
    if ttft_scale != 1.0:
        lines = [x | {"ttft_s": x["ttft_s"] * ttft_scale} for x in lines]
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


def test_shared_runs_keep_the_timings_of_every_invocation(runs: Path) -> None:
    """A configuration shared by two experiments (Table 2's Full KV and ASL tau = 0.3, run again by the
    tau sweep) counts once for accuracy, but each experiment's runs still get TTFT ratios against the
    Full KV timed in their own invocation."""
    table2 = runs / "table2" / "llama31_8b_ul" / "infinitebench"
    sweep = runs / "tau_sweep" / "llama31_8b_ul" / "infinitebench"
    full = next(table2.glob("fullkv-*"))
    shutil.copytree(full, sweep / full.name)
    _edit_records(
        sweep / full.name, ttft_scale=2.0, invocation_id="sweep"
    )  # the sweep's machine was twice as slow
    shared, own = sweep / "asl-7dbf2752df", next(p for p in sweep.glob("asl-*") if p.name != "asl-7dbf2752df")
    _edit_records(shared, ttft_scale=3.0, invocation_id="sweep")  # its ratio there: 1.5x Table 2's
    _edit_records(own, ttft_scale=2.0, invocation_id="sweep")

    rows = summary_rows(load_runs(runs))
    dirs: dict[str, set[str]] = {}
    for r in rows:
        dirs.setdefault(r.run_hash, set()).add(r.run_dir)
    assert all(len(d) == 1 for d in dirs.values())  # a shared configuration counts once
    task = rows[0].task
    cell = {
        Path(r.run_dir).name: r for r in rows if r.task == task and r.context_length == rows[0].context_length
    }
    full_row, shared_row, own_row = cell["fullkv-8cada7b725"], cell["asl-7dbf2752df"], cell[own.name]
    assert "table2" in full_row.run_dir and "table2" in shared_row.run_dir and "tau_sweep" in own_row.run_dir
    sub, ratios = ratio_rows(rows, "ttft_s", "fullkv")
    # the shared run: the mean of its ratio in Table 2's invocation (r) and in the sweep's (3/2 r)
    in_table2 = shared_row.cell.ttft_s / full_row.cell.ttft_s
    assert ratios[id(shared_row)] == pytest.approx((in_table2 + 1.5 * in_table2) / 2)
    # the sweep-only run pairs with the sweep's own Full KV (twice as slow), not with Table 2's
    assert own_row in sub and ratios[id(own_row)] == pytest.approx(
        own_row.cell.ttft_s / (2 * full_row.cell.ttft_s)
    )
