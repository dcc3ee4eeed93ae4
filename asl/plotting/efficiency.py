"""Efficiency vs context length (TTFT, TPOT, peak and KV memory), absolute and as ratio to FullKV."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import LogFormatter

from asl.plotting.aggregate import default_budget, fixed_value, hold
from asl.plotting.style import PAGE_W, TOKENS_FORMATTER, method_color, method_style, save_figure, sort_methods

log = logging.getLogger("asl.plotting")


class PlainLogFormatter(LogFormatter):
    """Log-axis tick labels as plain decimals (0.2, 0.6, 40) instead of scientific notation."""

    def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
        return f"{x:g}"


# (column in efficiency.csv, scale to display unit, panel title, unit, provided ratio column)
METRICS = (
    ("ttft_s", 1.0, "TTFT", "s", "ttft_ratio_vs_fullkv"),
    ("tpot_s", 1e3, "TPOT", "ms", "tpot_ratio_vs_fullkv"),
    ("peak_memory_bytes", 1e-9, "Peak memory", "GB", None),
    ("kv_cache_bytes", 1e-9, "KV cache", "GB", "kv_ratio_vs_fullkv"),
)


def _prepare(eff: pd.DataFrame, model: str) -> pd.DataFrame:
    """Rows of one model and device at the default budget, averaged per (method, context length)."""
    df = eff[eff["model"] == model].copy()
    if "device" in df.columns and df["device"].nunique() > 1:
        device = df["device"].mode().iloc[0]
        log.info("efficiency (%s): several devices, plotting %s", model, device)
        df = df[df["device"] == device]
    if "kv_budget" in df.columns:
        df = hold(
            df,
            "kv_budget",
            fixed_value(
                df.loc[df["method"] != "fullkv", "kv_budget"], default_budget(), "efficiency kv_budget"
            ),
        )
    cols = [m[0] for m in METRICS] + [m[4] for m in METRICS if m[4]]
    for col in cols:
        df[col] = pd.to_numeric(df[col], errors="coerce") if col in df.columns else np.nan
    df["context_length"] = pd.to_numeric(df["context_length"], errors="coerce")
    return df.groupby(["method", "context_length"])[cols].mean().reset_index()


def _ratio(df: pd.DataFrame, col: str, provided: str | None) -> pd.Series:
    """col / FullKV's col at the same context length; the CSV's own ratio column where that is missing."""
    ref = df[df["method"] == "fullkv"].set_index("context_length")[col]
    out = df[col] / df["context_length"].map(ref)
    if provided:
        out = out.fillna(df[provided])
    return out


def plot_efficiency(eff: pd.DataFrame, model: str, out_dir: Path) -> list[Path]:
    """A 2 x 4 panel: absolute values (top, log scale) and ratios to FullKV (bottom) per method."""
    if eff.empty or not (eff["model"] == model).any():
        log.info("skip: efficiency vs context length (%s): no efficiency.csv rows", model)
        return []
    df = _prepare(eff, model)
    metrics = [m for m in METRICS if df[m[0]].notna().any()]
    if not metrics:
        log.info("skip: efficiency vs context length (%s): no timing or memory values", model)
        return []
    fig, axes = plt.subplots(
        2, len(metrics), figsize=(PAGE_W, 3.9), squeeze=False, sharex=True, layout="constrained"
    )
    lengths = sorted(df["context_length"].dropna().unique())
    for j, (col, scale, title, unit, provided) in enumerate(metrics):
        ratio = _ratio(df, col, provided)
        for method in sort_methods(df["method"].unique()):
            mask = (df["method"] == method).to_numpy()
            style = method_style(method)
            x = df.loc[mask, "context_length"]
            axes[0][j].plot(x, df.loc[mask, col] * scale, **style)
            if method != "fullkv" and ratio[mask].notna().any():
                axes[1][j].plot(x, ratio[mask], **style)
        axes[0][j].set_yscale("log")
        for which, axis_fmt in (
            ("major", axes[0][j].yaxis.set_major_formatter),
            ("minor", axes[0][j].yaxis.set_minor_formatter),
        ):
            axis_fmt(
                PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(1.2, 0.6))
                if which == "minor"
                else PlainLogFormatter()
            )
        axes[0][j].set_title(f"{title} ({unit})")
        axes[1][j].axhline(1.0, color=method_color("fullkv"), linestyle=":", linewidth=0.9)
        vals = ratio[df["method"] != "fullkv"].to_numpy(dtype=float)
        top = float(np.nanmax(vals)) if np.isfinite(vals).any() else 1.0
        if not np.isfinite(vals).any():
            axes[1][j].text(
                0.5, 0.5, "no FullKV row", transform=axes[1][j].transAxes, ha="center", fontsize=7
            )
            log.info("efficiency (%s): no FullKV row, %s ratio not drawn", model, title)
        axes[1][j].set_ylim(0, max(1.1, top * 1.08))
        axes[1][j].set_title(f"{title} / FullKV")
        for ax in (axes[0][j], axes[1][j]):
            ax.set_xscale("log", base=2)
            ax.set_xticks(lengths)
            ax.xaxis.set_major_formatter(TOKENS_FORMATTER)
            ax.xaxis.set_minor_formatter(plt.NullFormatter())
            ax.tick_params(axis="x", labelrotation=90)
            ax.grid(True)
    axes[0][0].set_ylabel("Absolute (log scale)")
    axes[1][0].set_ylabel("Ratio to FullKV")
    for ax in axes[1]:
        ax.set_xlabel("Context length")
    device = eff.loc[eff["model"] == model, "device"].mode() if "device" in eff.columns else pd.Series()
    fig.suptitle(f"Efficiency vs context length, {model}" + (f" ({device.iloc[0]})" if len(device) else ""))
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4), frameon=False)
    return save_figure(fig, out_dir, "efficiency_vs_context")
