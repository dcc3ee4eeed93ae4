"""scripts/plot.py on the small synthetic results tree in tests/fixtures/plots/results (CPU, no model)."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from asl.plotting import PlotError, main, run
from asl.plotting.aggregate import summarize_samples
from asl.plotting.loading import load_efficiency, load_samples, load_summary, read_jsonl
from asl.plotting.paper import RUNNER_TABLE2, _bundled, _normalise_table2, paper_table2
from asl.plotting.table2 import write_table2

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "plots" / "results"
MODEL = "llama31_8b_ul"
FIGURES = [
    "niah_heatmap_fullkv",
    "niah_heatmap_snapkv",
    "niah_heatmap_gemfilter",
    "niah_heatmap_fastkv",
    "niah_heatmap_asl",
    "niah_heatmap_asl_2pass",
    "niah_heatmap_all",
    "tau_sensitivity_ruler",
    "selection_layer_hist_infinitebench",
    "selection_layer_hist_niah",
    "selection_layer_hist_ruler",
    "rel_variance_infinitebench",
    "rel_variance_niah",
    "rel_variance_ruler",
    "efficiency_vs_context",
    "accuracy_vs_budget_ruler",
]
EXPECTED = sorted([f"{f}.{ext}" for f in FIGURES for ext in ("png", "pdf")] + ["table2.md", "table2.tex"])


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A private copy of the fixture tree (the script writes figures under it)."""
    dst = tmp_path_factory.mktemp("plots") / "results"
    shutil.copytree(FIXTURE, dst)
    return dst


@pytest.fixture(scope="module")
def first_run(results: Path) -> dict[str, bytes]:
    assert main([f"results_dir={results}"]) == 0
    return _files(results / "figures")


def test_every_figure_is_written(first_run: dict[str, bytes]) -> None:
    assert sorted(first_run) == [f"{MODEL}/{name}" for name in EXPECTED]
    for name, data in first_run.items():
        assert len(data) > 1000, name
        if name.endswith(".png"):
            assert data.startswith(b"\x89PNG")
        elif name.endswith(".pdf"):
            assert data.startswith(b"%PDF")


def test_rerun_is_idempotent(results: Path, first_run: dict[str, bytes]) -> None:
    written = run(results, model=MODEL)
    assert sorted(str(p.relative_to(results / "figures")) for p in written) == sorted(first_run)
    second = _files(results / "figures")
    assert second.keys() == first_run.keys()
    changed = [k for k in first_run if first_run[k] != second[k]]
    assert not changed, f"re-run changed {changed}"


def test_table2_has_ours_paper_and_bold(first_run: dict[str, bytes]) -> None:
    md = first_run[f"{MODEL}/table2.md"].decode()
    tex = first_run[f"{MODEL}/table2.tex"].decode()
    assert "| Setting | Method | En.Sum |" in md and "Retr.KV | Avg. |" in md
    assert "(16.2)" in md and "(15.4)" in md  # the paper's Retr.KV for Full KV and ASL Full-before
    assert "**" in md and "Full before → 2048 after" in md
    assert r"\textbf{" in tex and r"\begin{tabular}" in tex and r"{\scriptsize(38.7)}" in tex
    methods = [
        line.split("|")[2].strip()
        for line in md.splitlines()
        if line.startswith("| KV") or "Full before" in line
    ]
    assert methods[:3] == ["FullKV", "SnapKV", "FastKV"] and len(methods) == 8


def test_summary_csv_and_run_dirs_agree(results: Path, tmp_path: Path) -> None:
    from_csv = load_summary(results)
    computed = summarize_samples(load_samples(results))
    keys = ["method", "benchmark", "task", "context_length", "kv_budget", "tau"]
    merged = from_csv.merge(computed, on=keys, suffixes=("_csv", "_runs"))
    assert len(merged) == len(from_csv) == len(computed)
    assert (merged["accuracy_csv"] - merged["accuracy_runs"]).abs().max() < 1e-3
    a, b = tmp_path / "a", tmp_path / "b"
    write_table2(from_csv, MODEL, a)
    write_table2(computed, MODEL, b)
    assert (a / "table2.md").read_text() == (b / "table2.md").read_text()


def test_inputs_contract(results: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="asl.plotting"):
        rows = read_jsonl(results / "niah" / "snapkv" / "predictions.jsonl")
    assert len(rows) == 25 and "unparsable" in caplog.text  # the torn last line is skipped
    samples = load_samples(results)
    assert set(samples["method"]) == {
        "fullkv",
        "snapkv",
        "gemfilter",
        "fastkv",
        "fastkv_fullbefore",
        "asl",
        "asl_fullbefore",
        "asl_2pass",
    }
    asl = samples[(samples["method"] == "asl") & (samples["benchmark"] == "infinitebench")]
    assert asl["selection_layer"].isna().any() and asl["selection_layer"].notna().any()
    assert all(isinstance(k, int) for rv in asl["rel_variance"] for k in rv)
    eff = load_efficiency(results)
    assert {"asl_fullbefore", "fastkv_fullbefore"} <= set(eff["method"])


def test_partial_inputs_skip_with_a_note(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """summary.csv + efficiency.csv only: the sample-level figures are skipped with one log line each."""
    shutil.copytree(FIXTURE / "efficiency", tmp_path / "efficiency")
    shutil.copy(FIXTURE / "summary.csv", tmp_path / "summary.csv")
    with caplog.at_level(logging.INFO, logger="asl.plotting"):
        written = run(tmp_path, out_dir=tmp_path / "out")
    figures = ("efficiency_vs_context", "tau_sensitivity_ruler", "accuracy_vs_budget_ruler")
    expected = [f"{f}.{e}" for f in figures for e in ("png", "pdf")] + ["table2.md", "table2.tex"]
    assert sorted(p.name for p in written) == sorted(expected)
    skips = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skip:")]
    assert len(skips) == 3 and all("\n" not in s for s in skips)
    assert any("niah" in s for s in skips) and any("rank-variance" in s for s in skips)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["results_dir=/nonexistent/results"], "does not exist"),
        (["results_dir"], "bad argument"),
        (["colour=red"], "bad argument"),
        ([], "results_dir is required"),
    ],
)
def test_bad_arguments(argv: list[str], message: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="asl.plotting"):
        assert main(argv) == 2
    assert message in caplog.text


def test_nothing_found_and_unknown_model(tmp_path: Path, results: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(PlotError, match="nothing to plot"):
        run(tmp_path / "empty")
    with pytest.raises(PlotError, match="no results for model=qwen25_7b"):
        run(results, out_dir=tmp_path / "out", model="qwen25_7b")


def test_cli_empty_results_dir_one_line_nonzero(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "plot.py"), f"results_dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "nothing to plot" in lines[0]
    assert not (tmp_path / "figures").exists()


def test_paper_numbers_bundled_match_runner_file() -> None:
    bundled = _normalise_table2(_bundled())
    assert bundled[MODEL]["asl_fullbefore"]["kv_retrieval"] == 15.4
    if RUNNER_TABLE2.exists():
        for model in ("llama31_8b_ul", "qwen25_7b"):
            assert paper_table2(model)[0] == bundled[model]
    frame = pd.DataFrame(bundled["qwen25_7b"]).T
    assert abs(frame.drop(columns="avg").mean(axis=1) - frame["avg"]).max() < 0.06


def test_summary_from_make_tables_is_understood(results: Path, tmp_path: Path) -> None:
    """Compatibility with the real make_tables writer, when it is importable."""
    tables = pytest.importorskip("asl.harness.tables")
    copy = tmp_path / "results"
    shutil.copytree(results, copy, ignore=shutil.ignore_patterns("figures", "summary.csv"))
    tables.write_tables(copy)
    from_tool = load_summary(copy)
    assert not from_tool.empty
    a, b = tmp_path / "a", tmp_path / "b"
    write_table2(from_tool, MODEL, a)
    write_table2(summarize_samples(load_samples(copy)), MODEL, b)
    assert (a / "table2.md").read_text() == (b / "table2.md").read_text()
