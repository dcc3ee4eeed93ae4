"""NIAH heat maps (benchmarks.md §3.4): depth x context length, mean score per cell."""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from asl.methods.base import Display
from asl.plotting.inputs import hold_runs, record_frame
from asl.plotting.style import COLUMN_W, NIAH_CMAP, PAGE_W, in_order, save_figure, tokens_label
from asl.results.reader import RunResult
from asl.results.variants import held_text, setting_values

log = logging.getLogger("asl.plotting")


@dataclass
class Heatmap:
    """One method's NIAH grid: its display, the file name part and the depth x length table."""

    display: Display
    slug: str
    table: pd.DataFrame


def niah_samples(runs: list[RunResult]) -> tuple[pd.DataFrame, str]:
    """Scored NIAH samples with a depth and a length, each method at its most common setting (as text)."""
    kept, held = hold_runs(runs)
    kept = [r for r in kept if r.summary.family == "niah"]
    setting = held_text(setting_values((r.summary.method for r in kept), held))
    df = record_frame(kept)
    if df.empty:
        return df, setting
    return df.dropna(subset=["depth", "length", "score"]), setting


def slugs(runs: list[RunResult]) -> dict[str, str]:
    """Label -> file-name part: the recorded config name, or the label itself where two labels share one."""
    names = {r.display.label: str(r.summary.method.get("name") or r.display.label) for r in runs}
    shared = {n for n in names.values() if list(names.values()).count(n) > 1}
    return {
        label: re.sub(r"\W+", "_", label).strip("_").lower() if n in shared else n
        for label, n in names.items()
    }


def pivot(df: pd.DataFrame) -> pd.DataFrame:
    """Mean score pivot: depth (rows, ascending from the top) x length (columns)."""
    return df.pivot_table(index="depth", columns="length", values="score", aggfunc="mean").sort_index()


def per_cell(df: pd.DataFrame) -> str:
    """``n = 1 per cell`` (or ``n = 1–3 per cell``): how many samples each method's heat-map cell averages."""
    counts = df.groupby(["label", "depth", "length"])["score"].count()
    lo, hi = (int(counts.min()), int(counts.max())) if len(counts) else (0, 0)
    return f"n = {lo} per cell" if lo == hi else f"n = {lo}–{hi} per cell"


def draw_heatmap(
    ax: Axes,
    table: pd.DataFrame,
    title: str,
    xlabels: bool = True,
    ylabels: bool = True,
    title_size: float = 8,
):
    """Draw one heat map on ``ax``; returns the mappable (for a colour bar)."""
    data = np.ma.masked_invalid(table.to_numpy(dtype=float))
    mesh = ax.pcolormesh(data, cmap=NIAH_CMAP, vmin=0.0, vmax=1.0)
    ax.set_xlim(0, data.shape[1])
    ax.set_ylim(data.shape[0], 0)  # depth 0 at the top, as in the KV papers
    ax.set_xticks(np.arange(data.shape[1]) + 0.5, minor=False)
    ax.set_yticks(np.arange(data.shape[0]) + 0.5, minor=False)
    ax.set_xticks(np.arange(data.shape[1] + 1), minor=True)
    ax.set_yticks(np.arange(data.shape[0] + 1), minor=True)
    ax.grid(which="minor", color="white", linestyle="--", linewidth=0.3)
    ax.tick_params(which="minor", length=0)
    ax.tick_params(which="major", length=2)
    xstep = max(1, math.ceil(data.shape[1] / 12))
    ystep = max(1, math.ceil(data.shape[0] / 11))
    ax.set_xticklabels(
        [tokens_label(v) if i % xstep == 0 and xlabels else "" for i, v in enumerate(table.columns)],
        rotation=90,
    )
    ax.set_yticklabels([f"{v:.0f}" if i % ystep == 0 and ylabels else "" for i, v in enumerate(table.index)])
    if xlabels:
        ax.set_xlabel("Context Length")
    if ylabels:
        ax.set_ylabel("Depth Percent (%)")
    ax.set_title(title, fontsize=title_size)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return mesh


def plot_niah(runs: list[RunResult], model: str, out_dir: Path) -> list[Path]:
    """One heat map per method and one panel of all methods side by side."""
    df, setting = niah_samples(runs)
    if df.empty:
        log.info("skip: niah heat maps (%s): no NIAH predictions with depth/length", model)
        return []
    names = slugs([r for r in runs if r.summary.family == "niah"])
    displays = {r.display.label: r.display for r in runs}
    maps = [Heatmap(d, names[d.label], pivot(df[df["label"] == d.label]))
            for d in in_order(displays[label] for label in df["label"].unique())]  # fmt: skip
    caption = ", ".join(x for x in (setting, per_cell(df)) if x)
    written: list[Path] = []
    for m in maps:
        fig, ax = plt.subplots(figsize=(COLUMN_W, 2.6), layout="constrained")
        title = f"{m.display.label}: avg {_average(m.table):.2f}\n{caption}"
        mesh = draw_heatmap(ax, m.table, title)
        cbar = fig.colorbar(mesh, ax=ax, fraction=0.06, pad=0.02)
        cbar.set_label("Score")
        written += save_figure(fig, out_dir, f"niah_heatmap_{m.slug}")
    written += _panel(maps, caption, out_dir)
    return written


def _average(table: pd.DataFrame) -> float:
    return float(np.nanmean(table.to_numpy(dtype=float)))


def _panel(maps: list[Heatmap], setting: str, out_dir: Path) -> list[Path]:
    """All methods side by side with a shared colour bar."""
    n = len(maps)
    ncols = n if n <= 4 else min((4, 3), key=lambda c: (c * math.ceil(n / c) - n, -c))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(PAGE_W, 2.0 * nrows + 0.3),
        squeeze=False,
        layout="constrained",
    )
    mesh = None
    for i, m in enumerate(maps):
        ax = axes[i // ncols][i % ncols]
        last_row = i + ncols >= n
        title = f"{m.display.label}: {_average(m.table):.2f}"
        mesh = draw_heatmap(ax, m.table, title, xlabels=last_row, ylabels=i % ncols == 0, title_size=7)
    for j in range(n, nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    cbar = fig.colorbar(mesh, ax=axes, fraction=0.03, pad=0.01, aspect=30, shrink=0.9)
    cbar.set_label("Score")
    fig.suptitle(f"NIAH, mean score per cell (panel titles: average; {setting})")
    return save_figure(fig, out_dir, "niah_heatmap_all")
