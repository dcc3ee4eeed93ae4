"""Orchestration for ``make plots``: load results once, draw every figure per model, log what is skipped."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from asl.plotting.aggregate import summary_table
from asl.plotting.efficiency import plot_efficiency
from asl.plotting.loading import Inputs, load_inputs
from asl.plotting.niah import plot_niah
from asl.plotting.selection import plot_rel_variance, plot_selection_hist
from asl.plotting.style import apply_style
from asl.plotting.sweeps import plot_budget, plot_tau
from asl.plotting.table2 import write_table2

log = logging.getLogger("asl.plotting")

USAGE = "usage: python scripts/plot.py results_dir=results [out_dir=DIR] [model=NAME]"
ALLOWED_KEYS = ("results_dir", "out_dir", "model")


class PlotError(Exception):
    """A one-line, user-facing reason why no figure can be made."""


def parse_args(argv: list[str]) -> dict[str, str]:
    """Parse Hydra-style ``key=value`` arguments (a leading '+' or '--' is tolerated)."""
    args: dict[str, str] = {}
    for arg in argv:
        key, sep, value = arg.lstrip("+-").partition("=")
        if not sep or key not in ALLOWED_KEYS or not value:
            raise PlotError(f"bad argument {arg!r}; {USAGE}")
        args[key] = value
    return args


def _models(inputs: Inputs, summary: pd.DataFrame) -> list[str]:
    names: set[str] = set()
    for df in (inputs.samples, summary, inputs.efficiency):
        if not df.empty and "model" in df.columns:
            names.update(str(m) for m in df["model"].dropna().unique())
    return sorted(names)


def _of(df: pd.DataFrame, model: str) -> pd.DataFrame:
    return df[df["model"].astype(str) == model] if not df.empty else df


def plot_model(inputs: Inputs, summary: pd.DataFrame, model: str, out_dir: Path) -> list[Path]:
    """Every figure and table for one model; a failing figure is logged and skipped, never fatal."""
    samples, summ = _of(inputs.samples, model), _of(summary, model)
    jobs: list[tuple[str, Callable[[], list[Path]]]] = [
        ("niah heat maps", lambda: plot_niah(samples, model, out_dir)),
        ("tau sensitivity", lambda: plot_tau(summ, model, out_dir)),
        ("selection-layer histogram", lambda: plot_selection_hist(samples, model, out_dir)),
        ("relative rank-variance trajectories", lambda: plot_rel_variance(samples, model, out_dir)),
        ("efficiency vs context length", lambda: plot_efficiency(inputs.efficiency, model, out_dir)),
        ("accuracy vs KV budget", lambda: plot_budget(summ, model, out_dir)),
        ("table 2", lambda: write_table2(summ, model, out_dir)),
    ]
    written: list[Path] = []
    for name, job in jobs:
        try:
            written += job()
        except Exception as exc:  # noqa: BLE001 - one broken figure must not stop the others
            log.warning("skip: %s (%s): %s: %s", name, model, type(exc).__name__, str(exc).splitlines()[:1])
    return written


def run(results_dir: Path, out_dir: Path | None = None, model: str | None = None) -> list[Path]:
    """Draw everything found under ``results_dir``; raises PlotError when there is nothing to draw."""
    if not results_dir.is_dir():
        raise PlotError(f"results_dir {results_dir} does not exist or is not a directory")
    inputs = load_inputs(results_dir)
    if inputs.empty():
        raise PlotError(
            f"nothing to plot under {results_dir}: no run directory (predictions.jsonl), summary.csv or efficiency.csv"
        )
    log.info("inputs: %s", "; ".join(inputs.sources))
    summary = summary_table(inputs)
    models = _models(inputs, summary)
    if model is not None:
        if model not in models:
            raise PlotError(
                f"no results for model={model} under {results_dir} (found: {', '.join(models) or 'none'})"
            )
        models = [model]
    apply_style()
    out_root = out_dir if out_dir is not None else results_dir / "figures"
    written: list[Path] = []
    for name in models:
        written += plot_model(inputs, summary, name, out_root / name)
    if not written:
        raise PlotError(f"inputs found under {results_dir}, but none was enough for any figure (see log)")
    log.info("%d file(s) written under %s", len(written), out_root)
    return written


def main(argv: list[str]) -> int:
    """CLI entry: returns the process exit code (0 ok, 2 bad arguments or missing inputs)."""
    logging.basicConfig(level=logging.WARNING, format="plot: %(message)s")
    log.setLevel(logging.INFO)
    try:
        args = parse_args(argv)
        if "results_dir" not in args:
            raise PlotError(f"results_dir is required; {USAGE}")
        out_dir = Path(args["out_dir"]) if "out_dir" in args else None
        run(Path(args["results_dir"]), out_dir, args.get("model"))
    except PlotError as exc:
        log.error("error: %s", exc)
        return 2
    return 0
