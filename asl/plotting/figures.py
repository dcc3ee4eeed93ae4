"""Every figure and Table 2 of a results tree, per model (``scripts/plot.py``, ``make plots``).

Runs are read once through :mod:`asl.results.reader` (a run reachable from two experiment folders counts
once), efficiency rows from ``efficiency.csv``; a figure that lacks its inputs is skipped with one log line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from asl.plotting.efficiency import plot_efficiency
from asl.plotting.inputs import PlotInputs, hold_rows, load_inputs
from asl.plotting.niah import plot_niah
from asl.plotting.selection import plot_rel_variance, plot_selection_hist
from asl.plotting.style import apply_style
from asl.plotting.sweeps import plot_budget, plot_tau
from asl.results.table2 import write_table2
from asl.results.tables import by_task, groups
from asl.results.variants import held_text, setting_values

log = logging.getLogger("asl.plotting")


class PlotError(Exception):
    """A one-line, user-facing reason why no figure can be made."""


def write_table2_figure(inputs: PlotInputs, model: str, out_dir: Path) -> list[Path]:
    """Table 2 of the InfiniteBench benchmarks, each method at the model's most common setting (a tau sweep
    on the same suite adds no rows; that setting is noted under the table)."""
    kept, held = hold_rows(inputs.rows)
    rows = [r for sel in groups(kept).values() if by_task(sel) for r in sel]
    setting = held_text(setting_values((r.config for r in rows), held)) if held else ""
    note = f"Methods held at their most common setting: {setting}." if setting else ""
    return write_table2(rows, model, out_dir, note)


def draw_model(inputs: PlotInputs, model: str, out_dir: Path, baseline: str) -> list[Path]:
    """Every figure and table for one model; a failing figure is logged and skipped, never fatal."""
    mine = inputs.of_model(model)
    jobs: list[tuple[str, Callable[[], list[Path]]]] = [
        ("niah heat maps", lambda: plot_niah(mine.runs, model, out_dir)),
        ("tau sensitivity", lambda: plot_tau(mine.rows, model, out_dir, baseline)),
        ("selection-layer histogram", lambda: plot_selection_hist(mine.runs, model, out_dir)),
        ("relative rank-variance trajectories", lambda: plot_rel_variance(mine.runs, model, out_dir)),
        ("efficiency vs context length", lambda: plot_efficiency(mine.efficiency, model, out_dir, baseline)),
        ("accuracy vs KV budget", lambda: plot_budget(mine.rows, model, out_dir, baseline)),
        ("table 2", lambda: write_table2_figure(mine, model, out_dir)),
    ]
    written: list[Path] = []
    for name, job in jobs:
        try:
            written += job()
        except Exception as exc:  # noqa: BLE001 - one broken figure must not stop the others
            log.warning("skip: %s (%s): %s: %s", name, model, type(exc).__name__, str(exc).splitlines()[:1])
    return written


def run_figures(run_dir: Path, out_dir: Path) -> list[Path]:
    """The figures of one run directory (selection layers, rank variance, NIAH map, as they apply), for
    its W&B run; never raises (a figure that fails is logged and skipped)."""
    from asl.results.reader import load_run

    try:
        run = load_run(run_dir)
        run.display  # noqa: B018 - the method must rebuild
    except Exception as exc:  # noqa: BLE001
        log.warning("run figures of %s skipped: %s", run_dir, str(exc).splitlines()[:1])
        return []
    apply_style()
    model = run.summary.model
    jobs = [lambda: plot_selection_hist([run], model, out_dir), lambda: plot_rel_variance([run], model, out_dir),
            lambda: plot_niah([run], model, out_dir)]  # fmt: skip
    written: list[Path] = []
    for job in jobs:
        try:
            written += job()
        except Exception as exc:  # noqa: BLE001
            log.warning("run figure skipped: %s: %s", type(exc).__name__, str(exc).splitlines()[:1])
    return written


def draw_figures(
    results_dir: Path, figures_dir: Path | None = None, model: str | None = None, baseline: str = "fullkv"
) -> list[Path]:
    """Draw everything found under ``results_dir`` into ``figures_dir/<model>/`` (default
    ``results_dir/figures``); raises PlotError when there is nothing to draw."""
    if not results_dir.is_dir():
        raise PlotError(f"results_dir {results_dir} does not exist or is not a directory")
    inputs = load_inputs(results_dir)
    if inputs.empty():
        raise PlotError(f"nothing to plot under {results_dir}: no run (metrics.json) or efficiency.csv")
    log.info("inputs: %d run(s), %d efficiency row(s)", len(inputs.runs), len(inputs.efficiency))
    models = inputs.models()
    if model is not None:
        if model not in models:
            raise PlotError(f"no results for model={model} under {results_dir} (found: {', '.join(models)})")
        models = [model]
    apply_style()
    out_root = figures_dir if figures_dir is not None else results_dir / "figures"
    written: list[Path] = []
    for name in models:
        written += draw_model(inputs, name, out_root / name, baseline)
    if not written:
        raise PlotError(f"inputs found under {results_dir}, but none was enough for any figure (see log)")
    log.info("%d file(s) written under %s", len(written), out_root)
    return written
