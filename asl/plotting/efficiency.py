"""Efficiency vs context length (TTFT, TPOT, peak and KV memory), absolute and as ratio to the baseline
(``tables.ratio_baseline``, Full KV); methods styled by the ``method_config`` of their efficiency.csv rows.

Timings carry the bench's 95% intervals (``*_ci95_lo_s``/``*_ci95_hi_s``) as error bars; the paper's
Tables 4-5 ratios (``paper_ttft_llama``..., matched by the bench at the same N / k) are overlaid as crosses;
CPU peak memory is labelled as what it is, the growth of the process RSS during a request."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import LogFormatter

from asl.plotting.style import PAGE_W, TOKENS_FORMATTER, in_order, line_style, save_figure
from asl.results.variants import held_text, hold_most_common, setting_values

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
INTERVALS = {"ttft_s": ("ttft_ci95_lo_s", "ttft_ci95_hi_s"), "tpot_s": ("tpot_ci95_lo_s", "tpot_ci95_hi_s")}
PAPER = {"ttft_s": ("paper_ttft_llama", "paper_ttft_qwen"), "tpot_s": ("paper_tpot_llama", "paper_tpot_qwen")}
PROCESS_GROWTH = "Peak memory: process RSS growth"


def _prepare(eff: pd.DataFrame, model: str) -> tuple[pd.DataFrame, str]:
    """Rows of one model and device, each method at its most common setting, averaged per (method,
    context length); also that setting as text."""
    df = eff[eff["model"] == model].copy()
    if "device" in df.columns and df["device"].nunique() > 1:
        device = df["device"].mode().iloc[0]
        log.info("efficiency (%s): several devices, plotting %s", model, device)
        df = df[df["device"] == device]
    labels, params = list(df["label"]), list(df["params"])
    kept, held = hold_most_common(range(len(df)), labels.__getitem__, params.__getitem__)
    df = df.iloc[kept].copy()
    setting = held_text(setting_values(df["params"], held))
    extra = [c for pair in (*INTERVALS.values(), *PAPER.values()) for c in pair]
    cols = [m[0] for m in METRICS] + [m[4] for m in METRICS if m[4]] + extra
    for col in cols:
        df[col] = pd.to_numeric(df[col], errors="coerce") if col in df.columns else np.nan
    df["context_length"] = pd.to_numeric(df["context_length"], errors="coerce")
    means = df.groupby(["label", "context_length"])[cols].mean().reset_index()
    first = df.drop_duplicates("label").set_index("label")
    means["display"] = means["label"].map(first["display"])
    means["name"] = means["label"].map(first["name"])
    kinds = df["peak_memory_kind"].dropna().astype(str) if "peak_memory_kind" in df.columns else pd.Series()
    means.attrs["process_growth"] = bool(kinds.str.startswith("cpu_rss").any())
    return means, setting


def _absolute(ax, rows: pd.DataFrame, col: str, scale: float, style: dict) -> None:
    """Values per context length, with the bench's 95% interval as error bars where it has one."""
    x, y = rows["context_length"], rows[col] * scale
    lo, hi = INTERVALS.get(col, (None, None))
    if lo and rows[lo].notna().any():
        err = [(y - rows[lo] * scale).clip(lower=0).fillna(0), (rows[hi] * scale - y).clip(lower=0).fillna(0)]
        ax.errorbar(x, y, yerr=err, capsize=2, elinewidth=0.6, **style)
    else:
        ax.plot(x, y, **style)


PAPER_MARKERS = {"x": "paper Tables 4-5, Llama (same N / k)", "+": "paper Tables 4-5, Qwen (same N / k)"}


def _paper(ax, rows: pd.DataFrame, col: str, color: str) -> set[str]:
    """The paper's ratios (Llama cross, Qwen plus) at our lengths; the markers drawn."""
    drawn = set()
    for name, marker in zip(PAPER.get(col, ()), PAPER_MARKERS, strict=False):
        if name in rows and rows[name].notna().any():
            ax.plot(
                rows["context_length"], rows[name], linestyle="none", marker=marker, color=color, markersize=4
            )
            drawn.add(marker)
    return drawn


def _ratio(df: pd.DataFrame, col: str, provided: str | None, baseline: str) -> pd.Series:
    """col / the baseline's col at the same context length; the CSV's own ratio column where that is missing."""
    ref = df[df["name"] == baseline].groupby("context_length")[col].mean()
    out = df[col] / df["context_length"].map(ref)
    if provided:
        out = out.fillna(df[provided])
    return out


def plot_efficiency(eff: pd.DataFrame, model: str, out_dir: Path, baseline: str) -> list[Path]:
    """A 2 x 4 panel: absolute values (top, log scale) and ratios to the baseline (bottom) per method."""
    if eff.empty or not (eff["model"] == model).any():
        log.info("skip: efficiency vs context length (%s): no efficiency.csv rows", model)
        return []
    df, setting = _prepare(eff, model)
    is_base = (df["name"] == baseline).to_numpy()
    base_display = df.loc[is_base, "display"].iloc[0] if is_base.any() else None
    base_label = base_display.label if base_display is not None else baseline
    metrics = [m for m in METRICS if df[m[0]].notna().any()]
    if not metrics:
        log.info("skip: efficiency vs context length (%s): no timing or memory values", model)
        return []
    fig, axes = plt.subplots(
        2, len(metrics), figsize=(PAGE_W, 3.9), squeeze=False, sharex=True, layout="constrained"
    )
    lengths = sorted(df["context_length"].dropna().unique())
    paper_drawn: set[str] = set()
    for j, (col, scale, title, unit, provided) in enumerate(metrics):
        ratio = _ratio(df, col, provided, baseline)
        for display in in_order(df["display"]):
            mask = (df["label"] == display.label).to_numpy()
            style = line_style(display)
            x = df.loc[mask, "context_length"]
            _absolute(axes[0][j], df.loc[mask], col, scale, style)
            if not (mask & is_base).any() and ratio[mask].notna().any():
                axes[1][j].plot(x, ratio[mask], **style)
                paper_drawn |= _paper(axes[1][j], df.loc[mask], col, display.color)
        if col == "peak_memory_bytes" and df.attrs.get("process_growth"):
            title = PROCESS_GROWTH
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
        if base_display is not None:
            axes[1][j].axhline(1.0, color=base_display.color, linestyle=":", linewidth=0.9)
        vals = ratio[~is_base].to_numpy(dtype=float)
        top = float(np.nanmax(vals)) if np.isfinite(vals).any() else 1.0
        if not np.isfinite(vals).any():
            axes[1][j].text(
                0.5, 0.5, f"no {base_label} row", transform=axes[1][j].transAxes, ha="center", fontsize=7
            )
            log.info("efficiency (%s): no %s row, %s ratio not drawn", model, base_label, title)
        axes[1][j].set_ylim(0, max(1.1, top * 1.08))
        axes[1][j].set_title(f"{title} / {base_label}")
        for ax in (axes[0][j], axes[1][j]):
            ax.set_xscale("log", base=2)
            ax.set_xticks(lengths)
            ax.xaxis.set_major_formatter(TOKENS_FORMATTER)
            ax.xaxis.set_minor_formatter(plt.NullFormatter())
            ax.tick_params(axis="x", labelrotation=90)
            ax.grid(True)
    axes[0][0].set_ylabel("Absolute (log scale)")
    axes[1][0].set_ylabel(f"Ratio to {base_label}")
    for ax in axes[1]:
        ax.set_xlabel("Context length")
    device = eff.loc[eff["model"] == model, "device"].mode() if "device" in eff.columns else pd.Series()
    notes = ", ".join(n for n in (device.iloc[0] if len(device) else "", setting) if n)
    fig.suptitle(f"Efficiency vs context length, {model}" + (f" ({notes})" if notes else ""))
    handles, labels = axes[0][0].get_legend_handles_labels()
    if paper_drawn:
        from matplotlib.lines import Line2D

        handles += [Line2D([], [], linestyle="none", marker=m, color="#444444", label=t)
                    for m, t in PAPER_MARKERS.items() if m in paper_drawn]  # fmt: skip
        labels = [h.get_label() for h in handles]
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4), frameon=False)
    return save_figure(fig, out_dir, "efficiency_vs_context")
