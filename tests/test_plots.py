"""Figures and Table 2 from the synthetic results tree in tests/fixtures/plots/results (CPU, no model)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from asl.plotting import PlotError, draw_figures
from asl.plotting.inputs import efficiency_frame, layer_markers, load_inputs
from asl.plotting.selection import adaptive_samples
from asl.plotting.sweeps import sweeps
from tests.results_fixtures import DemoMethod

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "plots" / "results"
MODEL = "llama31_8b_ul"
FIGURES = [
    *(f"niah_heatmap_{m}" for m in ("fullkv", "snapkv", "gemfilter", "fastkv", "asl", "asl_2pass", "all")),
    "tau_sensitivity_ruler",
    *(
        f"{f}_{b}"
        for f in ("selection_layer_hist", "rel_variance")
        for b in ("infinitebench", "niah", "ruler")
    ),
    "efficiency_vs_context",
    "accuracy_vs_budget_ruler",
]
EXPECTED = sorted(
    [f"{f}.{ext}" for f in FIGURES for ext in ("png", "pdf")] + [f"table2.{e}" for e in ("csv", "md", "tex")]
)
DEMO = DemoMethod(name="demo", kv_budget=1, stride=1).display()


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A private copy of the fixture tree (the figures are written under it)."""
    dst = tmp_path_factory.mktemp("plots") / "results"
    shutil.copytree(FIXTURE, dst)
    return dst


@pytest.fixture(scope="module")
def first_run(results: Path) -> dict[str, bytes]:
    draw_figures(results)
    return _files(results / "figures")


@pytest.fixture(scope="module")
def inputs(results: Path):
    return load_inputs(results).of_model(MODEL)


def test_every_figure_is_written(first_run: dict[str, bytes]) -> None:
    assert sorted(first_run) == [f"{MODEL}/{name}" for name in EXPECTED]
    for name, data in first_run.items():
        assert len(data) > 500, name
        if name.endswith(".png"):
            assert data.startswith(b"\x89PNG")
        elif name.endswith(".pdf"):
            assert data.startswith(b"%PDF")


def test_rerun_is_idempotent(results: Path, first_run: dict[str, bytes]) -> None:
    written = draw_figures(results, model=MODEL)
    assert sorted(str(p.relative_to(results / "figures")) for p in written) == sorted(first_run)
    second = _files(results / "figures")
    changed = [k for k in first_run if first_run[k] != second[k]]
    assert second.keys() == first_run.keys() and not changed, f"re-run changed {changed}"


def test_table2_beside_the_paper_with_the_demo_method(first_run: dict[str, bytes]) -> None:
    md = first_run[f"{MODEL}/table2.md"].decode()
    tex = first_run[f"{MODEL}/table2.tex"].decode()
    assert "| Setting | Method | En.Sum |" in md and "Retr.KV | Avg. |" in md
    assert " / 16.2 (" in md and " / 15.4 (" in md  # the paper's Retr.KV of Full KV and ASL (Full before)
    assert "**" in md and r"\textbf{" in tex and r"\begin{tabular}" in tex and r"\tiny(38.7, " in tex
    assert "| Avg. | SE | n | n_eff |" in md and "### Paired differences of the Avg." in md
    assert "TTFT / Full |" not in md and "TTFT ratios omitted: no interleaved timing" in md  # no timing.csv
    methods = [line.split("|")[2].strip() for line in md.splitlines() if line.startswith("| KV")]
    assert methods == ["Full KV", "SnapKV", "FastKV", "ASL", "GemFilter", "ASL_2pass", "Demo",
                       "FastKV (Full before)", "ASL (Full before)"]  # fmt: skip


def test_a_run_in_two_experiment_folders_counts_once(inputs) -> None:
    """The ASL run at tau 0.3 / budget 2048 sits under sweeps/tau and sweeps/budget: n = 2 lengths x 4."""
    ruler = next(a for a in adaptive_samples(inputs.runs) if a.benchmark == "ruler")
    assert ruler.display.label == "ASL"
    assert ruler.held == {"kv_budget": [2048], "tau": [0.3]}
    assert ruler.samples.groupby("task").size().to_dict() == {"niah_single_1": 8, "qa_1": 8}
    assert {a.samples["run_hash"].nunique() for a in adaptive_samples(inputs.runs)} == {1}


def test_sweeps_hold_the_other_parameters_and_say_so(inputs) -> None:
    (tau,) = sweeps(inputs.rows, "tau", "fullkv")
    assert sorted(tau.series) == ["ASL", "ASL (Full before)"]
    assert [v for v, _ in tau.series["ASL"]] == [0.2, 0.3, 0.4, 0.5, 0.6]
    assert tau.held == {"kv_budget": [2048]} and "C = 2048" in tau.title("tau")
    assert [r.label for r in tau.baseline] == ["Full KV"] * 4
    (budget,) = sweeps(inputs.rows, "kv_budget", "fullkv")
    assert sorted(budget.series) == ["ASL", "Demo", "FastKV", "GemFilter", "SnapKV"]
    assert [v for v, _ in budget.series["ASL"]] == [512, 1024, 2048, 4096]
    assert budget.held == {"tau": [0.3]} and budget.displays["Demo"] == DEMO  # a class no table names


def test_sweep_titles_say_when_a_run_skipped_tasks(inputs) -> None:
    rows = [
        dataclasses.replace(r, tasks_total=r.tasks_run + 1) if r.label == "ASL" else r for r in inputs.rows
    ]
    (tau,) = sweeps(rows, "tau", "fullkv")
    assert tau.title("tau") == "tau, ruler (C = 2048, 2 of 3 tasks, n = 4 per task)"


def test_sweeps_draw_one_seed_and_say_so(inputs) -> None:
    """Two seeds of every run: each point is the first seed's samples (not one seed's overwriting the
    other's cell), the baseline too, and the title names it."""
    second = [dataclasses.replace(r, seed=1, run_hash=r.run_hash + "-s1") for r in inputs.rows]
    (tau,) = sweeps(second + inputs.rows, "tau", "fullkv")
    assert {r.seed for _, rs in tau.series["ASL"] for r in rs} == {0} == {r.seed for r in tau.baseline}
    assert tau.seeds == [0, 1] and tau.title("tau").endswith("n = 4 per task, seed 0 of 2)")
    (one,) = sweeps(inputs.rows, "tau", "fullkv")
    assert "seed" not in one.title("tau")
    elsewhere = [
        dataclasses.replace(r, seed=1, run_hash=r.run_hash + "-s1", benchmark="other") for r in inputs.rows
    ]
    (ruler, other) = sweeps(inputs.rows + elsewhere, "tau", "fullkv")  # seeds are counted per benchmark
    assert (ruler.benchmark, ruler.seeds, other.benchmark, other.seeds) == ("ruler", [0], "other", [1])
    # seed 0 of a benchmark ran only unswept methods, seed 1 the sweep: the sweep is drawn, from seed 1
    unswept = [dataclasses.replace(r, benchmark="other") for r in inputs.rows if "tau" not in r.config]
    (_, other) = sweeps(inputs.rows + elsewhere + unswept, "tau", "fullkv")
    assert other.seeds == [1] and {r.seed for _, rs in other.series["ASL"] for r in rs} == {1}


def test_layer_markers_come_from_recorded_configs(results: Path, tmp_path: Path) -> None:
    marks = [(m.key, m.layer, m.display.label) for m in layer_markers(load_inputs(results).runs)]
    assert marks == [("l_min", 10, "ASL"), ("filter_layer", 13, "GemFilter"), ("tsp_layer", 15, "FastKV")]
    copy = tmp_path / "results"
    shutil.copytree(results / "infinitebench", copy)
    for path in copy.rglob("metrics.json"):
        data = json.loads(path.read_text())
        if "tsp_layer" in data["method"]:
            data["method"]["tsp_layer"] = 7
            path.write_text(json.dumps(data))
    marks = {(m.key, m.layer) for m in layer_markers(load_inputs(copy).runs)}
    assert ("tsp_layer", 7) in marks and ("tsp_layer", 15) not in marks


def test_efficiency_rows_styled_by_their_method_config(results: Path, tmp_path: Path, caplog) -> None:
    eff = efficiency_frame(results)
    assert not eff["method"].str.startswith("fastkv_forced[").any()
    assert {"Full KV", "ASL (Full before)", "Demo"} <= set(eff["label"])
    assert eff.loc[eff["label"] == "Demo", "display"].iloc[0] == DEMO
    table = pd.read_csv(results / "efficiency" / MODEL / "efficiency.csv")
    table.loc[0, "method_config"] = None  # a row the efficiency bench wrote before it recorded configs
    table.to_csv(tmp_path / "efficiency.csv", index=False)
    with caplog.at_level(logging.WARNING, logger="asl.plotting"):
        assert len(efficiency_frame(tmp_path)) == len(eff) - 1
    assert "1 row(s) without a usable method_config" in caplog.text


def test_partial_inputs_skip_with_a_note(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """efficiency.csv only: the run-level figures are skipped with one log line each."""
    shutil.copytree(FIXTURE / "efficiency", tmp_path / "efficiency")
    with caplog.at_level(logging.INFO, logger="asl.plotting"):
        written = draw_figures(tmp_path, tmp_path / "out")
    assert sorted(p.name for p in written) == ["efficiency_vs_context.pdf", "efficiency_vs_context.png"]
    skips = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skip:")]
    assert len(skips) == 5 and all("\n" not in s for s in skips)


def test_nothing_found_and_unknown_model(tmp_path: Path, results: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(PlotError, match="nothing to plot"):
        draw_figures(tmp_path / "empty")
    with pytest.raises(PlotError, match="no results for model=qwen25_7b"):
        draw_figures(results, tmp_path / "out", model="qwen25_7b")


def run_plot(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(REPO / "scripts" / "plot.py"), *args]
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # the Demo method's class lives in tests/
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=REPO, env=env)


def test_cli_model_and_figures_dir(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE / "efficiency", tmp_path / "results" / "efficiency")
    proc = run_plot(
        f"results_dir={tmp_path / 'results'}", f"model={MODEL}", f"figures_dir={tmp_path / 'figs'}"
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "figs" / MODEL / "efficiency_vs_context.png").is_file()
    assert not (tmp_path / "results" / "figures").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["results_dir={tmp}/nonexistent"], "does not exist"),
        (["results_dir={tmp}"], "nothing to plot"),
        (["colour=red"], "unknown key 'colour'"),
        (["results_dir={tmp}", "model=nope"], "unknown model 'nope'"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    proc = run_plot(*(a.format(tmp=tmp_path) for a in args))
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "figures").exists()


def test_niah_caption_counts_samples_per_method_cell(inputs) -> None:
    from asl.plotting.niah import niah_samples, per_cell

    df, setting = niah_samples(inputs.runs)
    assert per_cell(df) == "n = 1 per cell" and "C = 2048" in setting  # one round per cell and method
