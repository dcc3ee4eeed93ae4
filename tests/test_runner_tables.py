"""Tables and Table 2 from fixture run directories alone (metrics.json; no model, no runner)."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from statistics import fmean

import pytest

from asl.results.paper import paper_table2, table2_columns
from asl.results.reader import load_runs
from asl.results.schema import SampleRecord
from asl.results.table2 import build_table2, table2_csv, write_table2
from asl.results.tables import pivot, summary_rows
from asl.results.writers import tables_markdown, write_tables
from tests.results_fixtures import demo_config, write_run

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "runs"
MODEL = "llama31_8b_ul"
DEMO_RECORDS = [SampleRecord(id="0", task="passkey", context_length=4096, score=1.0)]


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """A private copy of the fixture tree."""
    dst = tmp_path / "results"
    shutil.copytree(FIXTURES, dst, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return dst


def labels_of(md: str, section: str) -> list[str]:
    """The Method column of the first Markdown table after the heading containing ``section``."""
    lines = md.split(section, 1)[1].split("\n\n")[1].splitlines()
    return [line.split("|")[1].strip() for line in lines[2:]]


def test_summary_csv_and_tables_md(runs: Path) -> None:
    csv_path, md_path, md = write_tables(runs / "table2", "fullkv")
    rows = list(csv.DictReader(csv_path.open()))
    assert {"label", "variant", "method", "task", "context_length", "n", "accuracy", "ttft_s", "tpot_s",
            "tasks_run", "tasks_total", "run_hash", "method_config"} <= set(rows[0])  # fmt: skip
    llama = [r for r in rows if r["model"] == MODEL]
    assert len(llama) == 6 * 2 - 1  # 6 methods x 2 tasks, one task skipped
    by = {(r["label"], r["task"]): r for r in llama}
    assert by[("ASL", "passkey")]["accuracy"] == "100.0" and by[("Full KV", "kv_retrieval")]["n"] == "2"
    assert json.loads(by[("FastKV", "passkey")]["method_config"])["tsp_layer"] == 15
    # labels and order come from each run's method (Display.order), the Demo class included
    assert labels_of(md, f"{MODEL} / infinitebench: accuracy") == [
        "Full KV", "SnapKV", "FastKV", "ASL", "Demo", "ASL (Full before)",
    ]  # fmt: skip
    assert "| Method | Retr.PassKey | Retr.KV | Avg. | SE | n | n_eff | Tasks |" in md
    # accuracy with its Wilson interval, SE, n and n_eff (2 of 2 -> [34.2, 100.0]); a skipped task is a dash
    assert (
        "| ASL (Full before) | 100.0 [34.2, 100.0] | – | 100.0 [34.2, 100.0] | 0.0 | 2 | 2 | 1 of 2 tasks |"
        in md
    )
    assert (
        "### llama31_8b_ul / infinitebench: TTFT ratio to Full KV (same invocation)" in md
        and "| SnapKV | 0.50 | 0.50 | 0.50 |" in md
    )
    assert "| SnapKV − Full KV | each method vs baseline | -25.0 [" in md and "within noise" in md  # paired
    assert "| ASL | 2 of 2 @ 12.0 | 2 of 2 @ 12.0 | 4 of 4 @ 12.0 |" in md  # selection fired, k of n
    assert "## smollm2_135m / infinitebench_embedded: accuracy (%), Table 2 layout" in md
    assert md_path.read_text().strip() == md.strip()


def test_ruler_by_context_length_with_skipped_task(runs: Path) -> None:
    _, _, md = write_tables(runs / "ruler", "fullkv")
    assert "accuracy (%), mean over tasks by context length" in md
    assert "| Method | 512 | 1024 | Avg. | SE | n | n_eff | Tasks |" in md
    assert (
        "| ASL | 50.0 [9.5, 90.5] | 0.0 [0.0, 65.8] | 25.0 [" in md and "| 1 of 2 tasks |" in md
    )  # qa_1 skipped
    assert "| Full KV | 100.0 [34.2, 100.0] | 50.0 [9.5, 90.5] | 75.0 [" in md


def test_labels_come_from_recorded_config_not_dir_names(runs: Path, capsys: pytest.CaptureFixture) -> None:
    base = runs / "table2" / MODEL / "infinitebench"
    asl, snap = next(base.glob("asl-*")), next(base.glob("snapkv-*"))
    asl.rename(base / "zzz")  # directory names and order carry no meaning
    snap.rename(base / "aaa")
    metrics = json.loads((base / "aaa" / "metrics.json").read_text())
    metrics["method"]["kv_budget"] = 1024  # the recorded config decides what the row is
    (base / "aaa" / "metrics.json").write_text(json.dumps(metrics))
    rows = {(r.label, r.task): r for r in summary_rows(load_runs(runs / "table2")) if r.model == MODEL}
    assert rows[("ASL", "passkey")].accuracy == 100.0 and rows[("SnapKV", "passkey")].kv_budget == 1024
    metrics["method"]["_target_"] = "baselines.fastkv.FastKV"  # a config that is not a valid FastKV
    (base / "aaa" / "metrics.json").write_text(json.dumps(metrics))
    capsys.readouterr()
    assert "SnapKV" not in {r.label for r in summary_rows(load_runs(runs / "table2"))}
    assert "aaa: skipped (snapkv: unknown parameter(s)" in capsys.readouterr().err


def test_run_under_two_experiments_counts_once(runs: Path) -> None:
    rows = [r for r in summary_rows(load_runs(runs)) if r.model == MODEL and r.benchmark == "infinitebench"]
    p = pivot(rows, "task")
    assert p.labels == ["Full KV", "SnapKV", "FastKV", "ASL τ=0.3", "ASL τ=0.5", "Demo", "ASL (Full before)"]
    assert [r.cell.n for r in p.rows["ASL τ=0.3"]] == [2, 2]  # not 4: the tau sweep's copy is the same run


def test_parameters_that_vary_are_appended_generically(runs: Path) -> None:
    root = runs / "table2"
    write_run(root, MODEL, "infinitebench", "infinitebench", demo_config(2048, stride=4), DEMO_RECORDS)
    write_run(
        root, MODEL, "infinitebench", "infinitebench", demo_config(2048, stride=4), DEMO_RECORDS, seed=1
    )
    rows = [r for r in summary_rows(load_runs(root)) if r.model == MODEL]
    assert pivot(rows, "task").labels[4:7] == [
        "Demo seed=0 stride=1",
        "Demo seed=0 stride=4",
        "Demo seed=1 stride=4",
    ]


def test_table2_beside_the_paper(runs: Path) -> None:
    from asl.results.timing import TIMING_FILE, TimingRatio, timing_csv

    rows = summary_rows(load_runs(runs / "table2"))
    untimed = (write_table2(rows, MODEL, runs / "untimed")[1]).read_text()
    assert "TTFT ratios omitted: no interleaved timing" in untimed and "TTFT / Full |" not in untimed
    ratios = {r.method: (1.0 if r.method == "fullkv" else 0.5) for r in rows}  # an interleaved measurement
    timing = [
        TimingRatio(m, m, 4, x, x - 0.1, x + 0.1, 1.0, 0.9, 1.1, "a test bench") for m, x in ratios.items()
    ]
    (runs / "out").mkdir()
    (runs / "out" / TIMING_FILE).write_text(timing_csv(timing))
    paths = write_table2(rows, MODEL, runs / "out")
    assert [p.name for p in paths] == ["table2.csv", "table2.md", "table2.tex"]
    md, tex = (runs / "out" / "table2.md").read_text(), (runs / "out" / "table2.tex").read_text()
    # Full KV: ours 50 / 50 against the paper's 100 / 16.2, and its 10-task Avg. recomputed over these two
    assert (
        "| KV = Full | Full KV | 50.0 [9.5, 90.5] / 100.0 (-50.0) | **50.0** [9.5, 90.5] / 16.2 (+33.8) | "
        "50.0 [21.3, 78.7] / 58.1 (-8.1) | 35.4 | 2 | 4 | 1.00 |" in md
    )
    assert (
        "| KV = 2048 | Demo | 50.0 [9.5, 90.5] | 0.0 [0.0, 65.8] | 25.0 [4.7, 63.6] | 25.0 | 2 | 4 | 0.50 |"
        in md
    )
    # ASL (Full before) skipped Retr.KV: the paper's average is taken over the task it ran
    assert (
        "| ASL (Full before) | **100.0** [34.2, 100.0] / 100.0 (+0.0) | – / 15.4 (–) | "
        "**100.0** [34.2, 100.0] / 100.0 (+0.0) | 0.0 | 2 | 2 | 0.50 | 1 of 2 tasks |" in md
    )
    assert "### Paired differences of the Avg." in md
    assert "TTFT / Full: from a test bench (`timing.csv`), not from the accuracy runs." in md
    assert r"\textbf{100.0} {\tiny[34.2, 100.0]} {\tiny(100.0, +0.0)}" in tex and r"ASL (Full before)" in tex
    sources = [line.split(",")[4] for line in table2_csv(build_table2(rows, MODEL)).splitlines()[1:]]
    assert sources.count("ours") == 6 and sources.count("paper") == 5 and sources.count("diff") == 5
    assert sources.count("ours_ci95_lo") == 6 and sources.count("ours_ci95_hi") == 6
    small = (write_table2(rows, "smollm2_135m", runs / "small")[1]).read_text()
    assert "No paper numbers for smollm2_135m." in small and not re.search(r" / \d", small)
    assert write_table2(rows, "qwen25_7b", runs / "none") == []


def run_script(name: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "scripts" / name), *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the Demo method's class lives in tests/
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)


def test_make_tables_cli(runs: Path) -> None:
    proc = run_script("make_tables.py", f"results_dir={runs / 'ruler'}")
    assert proc.returncode == 0, proc.stderr
    assert "| ASL | 50.0 [9.5, 90.5] | 0.0 [0.0, 65.8] | 25.0 [" in proc.stdout
    assert (runs / "ruler" / "summary.csv").is_file() and (runs / "ruler" / "tables.md").is_file()


@pytest.mark.parametrize(
    ("script", "args", "message"),
    [
        ("make_tables.py", ["results_dir={empty}"], "no readable run"),
        ("make_tables.py", ["colour=red"], "unknown key 'colour': the config has no 'colour'; its keys: "),
        ("reproduce_table2.py", ["model=nope"], "unknown model 'nope'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, script: str, args: list[str], message: str) -> None:
    proc = run_script(script, *(a.format(empty=tmp_path) for a in args))
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "summary.csv").exists()


def test_tables_markdown_needs_no_files(runs: Path) -> None:
    """The Markdown is a pure function of the rows (write_tables only adds the files)."""
    rows = summary_rows(load_runs(runs / "ruler"))
    assert tables_markdown(rows, "fullkv") == write_tables(runs / "ruler", "fullkv")[2]


def test_paper_rows_are_keyed_by_the_methods_display_labels() -> None:
    """Table 2 matches the paper by label; the paper's Avg. (used when all 10 tasks ran) is its task mean."""
    for model in ("llama31_8b_ul", "qwen25_7b"):
        paper = paper_table2(model)
        assert {"Full KV", "ASL", "ASL_2pass", "FastKV (Full before)", "ASL (Full before)"} <= set(paper)
        for row in paper.values():
            assert abs(fmean(row[t] for t in table2_columns()) - row["avg"]) < 0.06


def test_swept_method_keys_are_csv_columns(runs: Path) -> None:
    """A budget or stride sweep groups in pandas by its own column (it used to sit in method_config's JSON)."""
    root = runs / "table2"
    write_run(root, MODEL, "infinitebench", "infinitebench", demo_config(1024, stride=4), DEMO_RECORDS)
    csv_path, _, md = write_tables(root, "fullkv")
    rows = list(csv.DictReader(csv_path.open()))
    assert {"kv_budget", "stride"} <= set(rows[0])
    demo = {(r["kv_budget"], r["stride"]) for r in rows if r["method"] == "demo"}
    assert demo == {("2048", "1"), ("1024", "4")}
    assert all(r["kv_budget"] == "" for r in rows if r["method"] == "fullkv")  # no budget: empty
    assert "exploratory (nearest rival, chosen by the data)" in md and "p (Holm)" in md
