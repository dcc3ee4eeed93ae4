"""NIAH heat maps (benchmarks.md §3.4): depth x context length, mean score per cell."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from asl.plotting.aggregate import default_budget, default_tau, fixed_value, hold
from asl.plotting.style import (
    COLUMN_W,
    NIAH_CMAP,
    PAGE_W,
    method_label,
    save_figure,
    sort_methods,
    tokens_label,
)

log = logging.getLogger("asl.plotting")


def niah_samples(samples: pd.DataFrame) -> pd.DataFrame:
    """NIAH rows with a depth, a length and a score, at the default budget and tau."""
    if samples.empty:
        return samples
    fam = samples["family"].astype(str).str.lower()
    df = samples[(fam == "niah") | samples["benchmark"].astype(str).str.lower().str.contains("niah")]
    df = df.assign(length=df["length"].fillna(df["context_length"]))
    df = df.dropna(subset=["depth", "length", "score"])
    if df.empty:
        return df
    df = hold(df, "kv_budget", fixed_value(df["kv_budget"], default_budget(), "NIAH kv_budget"))
    return hold(df, "tau", fixed_value(df["tau"], default_tau(), "NIAH tau"))


def pivot(df: pd.DataFrame) -> pd.DataFrame:
    """Mean score pivot: depth (rows, ascending from the top) x length (columns)."""
    return df.pivot_table(index="depth", columns="length", values="score", aggfunc="mean").sort_index()


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


def _title(method: str, table: pd.DataFrame) -> str:
    return f"{method_label(method)}: avg {np.nanmean(table.to_numpy(dtype=float)):.2f}"


def plot_niah(samples: pd.DataFrame, model: str, out_dir: Path) -> list[Path]:
    """One heat map per method and one panel of all methods side by side."""
    df = niah_samples(samples)
    if df.empty:
        log.info("skip: niah heat maps (%s): no NIAH predictions with depth/length", model)
        return []
    written: list[Path] = []
    tables = {m: pivot(df[df["method"] == m]) for m in sort_methods(df["method"].unique())}
    for method, table in tables.items():
        fig, ax = plt.subplots(figsize=(COLUMN_W, 2.6), layout="constrained")
        mesh = draw_heatmap(ax, table, _title(method, table))
        cbar = fig.colorbar(mesh, ax=ax, fraction=0.06, pad=0.02)
        cbar.set_label("Score")
        written += save_figure(fig, out_dir, f"niah_heatmap_{method}")
    written += _panel(tables, out_dir)
    return written


def _panel(tables: dict[str, pd.DataFrame], out_dir: Path) -> list[Path]:
    """All methods side by side with a shared colour bar."""
    n = len(tables)
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
    for i, (method, table) in enumerate(tables.items()):
        ax = axes[i // ncols][i % ncols]
        last_row = i + ncols >= n
        title = f"{method_label(method)}: {np.nanmean(table.to_numpy(dtype=float)):.2f}"
        mesh = draw_heatmap(ax, table, title, xlabels=last_row, ylabels=i % ncols == 0, title_size=7)
    for j in range(n, nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    cbar = fig.colorbar(mesh, ax=axes, fraction=0.03, pad=0.01, aspect=30, shrink=0.9)
    cbar.set_label("Score")
    fig.suptitle("NIAH, mean score per cell (panel titles: average)")
    return save_figure(fig, out_dir, "niah_heatmap_all")
