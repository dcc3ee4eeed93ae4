"""Sweep figures: tau sensitivity (paper Table 9 as a figure) and accuracy vs KV budget."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from asl.plotting.aggregate import (
    cell_ratio,
    default_budget,
    default_tau,
    fixed_value,
    hold,
    task_mean_accuracy,
)
from asl.plotting.paper import paper_table9
from asl.plotting.style import (
    COLUMN_W,
    PAGE_W,
    TOKENS_FORMATTER,
    method_color,
    method_label,
    method_style,
    save_figure,
    sort_methods,
)

log = logging.getLogger("asl.plotting")

TAU_METHODS = ("asl", "asl_fullbefore")
CELL = ["task", "context_length"]


def _tau_points(bench: pd.DataFrame, method: str, ref: pd.DataFrame) -> pd.DataFrame:
    """tau -> accuracy (task mean) and TTFT ratio to FullKV over shared (task, length) cells."""
    rows = []
    sub = bench[bench["method"] == method]
    for tau, grp in sub.groupby("tau"):
        ratio = cell_ratio(grp, ref, "ttft_s", CELL) if not ref.empty else None
        rows.append({"tau": tau, "accuracy": task_mean_accuracy(grp), "ttft_ratio": ratio})
    return pd.DataFrame(rows, columns=["tau", "accuracy", "ttft_ratio"])


def plot_tau(summary: pd.DataFrame, model: str, out_dir: Path) -> list[Path]:
    """Accuracy and TTFT ratio vs tau for ASL with SnapKV before and Full before, per benchmark."""
    df = summary[summary["method"].isin(TAU_METHODS)].dropna(subset=["tau"]) if not summary.empty else summary
    written: list[Path] = []
    benches = [] if df.empty else [b for b, g in df.groupby("benchmark") if g["tau"].nunique() >= 2]
    if not benches:
        log.info("skip: tau sensitivity (%s): no benchmark with ASL runs at >= 2 tau values", model)
        return []
    for bench in sorted(benches):
        bdf = summary[summary["benchmark"] == bench]
        budget = fixed_value(
            bdf.loc[bdf["method"].isin(TAU_METHODS), "kv_budget"], default_budget(), "tau kv_budget"
        )
        bdf = hold(bdf, "kv_budget", budget)
        ref = bdf[bdf["method"] == "fullkv"]
        fig, (ax_acc, ax_t) = plt.subplots(1, 2, figsize=(PAGE_W * 0.75, 2.3), layout="constrained")
        for method in TAU_METHODS:
            pts = _tau_points(bdf, method, ref)
            if pts.empty:
                continue
            style = method_style(method)
            ax_acc.plot(pts["tau"], pts["accuracy"], **style)
            if pts["ttft_ratio"].notna().any():
                ax_t.plot(pts["tau"], pts["ttft_ratio"], **style)
            paper = paper_table9(model).get(method)
            if paper and "ruler" in str(bench).lower():
                kw = {"color": method_color(method), "marker": "x", "linestyle": ":", "linewidth": 0.8}
                ax_acc.plot(
                    paper["tau"], paper["accuracy"], label=f"{method_label(method)}, paper (128K)", **kw
                )
                ax_t.plot(paper["tau"], paper["ttft_ratio"], **kw)
        if not ref.empty:
            ax_acc.axhline(
                task_mean_accuracy(ref),
                color=method_color("fullkv"),
                linestyle=":",
                linewidth=0.9,
                label="FullKV",
            )
            ax_t.axhline(1.0, color=method_color("fullkv"), linestyle=":", linewidth=0.9)
        else:
            ax_t.text(
                0.5,
                0.5,
                "no FullKV run:\nour ratio not drawn",
                transform=ax_t.transAxes,
                ha="center",
                va="center",
                fontsize=7,
            )
            log.info("tau sensitivity (%s/%s): no FullKV reference, TTFT ratio not drawn", model, bench)
        ax_acc.set(xlabel=r"Threshold $\tau$", ylabel="Accuracy (%)")
        ax_t.set(xlabel=r"Threshold $\tau$", ylabel="TTFT / FullKV TTFT")
        for ax in (ax_acc, ax_t):
            ax.grid(True)
        ax_t.set_ylim(bottom=0)
        budget_txt = f"KV budget {budget:g}" if budget is not None else ""
        fig.suptitle(f"$\\tau$ sensitivity, {bench} ({budget_txt})")
        handles, labels = ax_acc.get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4), frameon=False)
        written += save_figure(fig, out_dir, f"tau_sensitivity_{bench}")
    return written


def plot_budget(summary: pd.DataFrame, model: str, out_dir: Path) -> list[Path]:
    """Accuracy (task mean) vs KV budget per method, one figure per benchmark with a budget sweep."""
    if summary.empty:
        log.info("skip: accuracy vs KV budget (%s): no accuracy table", model)
        return []
    written: list[Path] = []
    df = hold(summary, "tau", fixed_value(summary["tau"], default_tau(), "budget tau"))
    for bench, bdf in sorted(df.groupby("benchmark"), key=lambda kv: str(kv[0])):
        swept = bdf.dropna(subset=["kv_budget"]).groupby("method")["kv_budget"].nunique()
        methods = sort_methods(swept[swept >= 2].index)
        if not methods:
            continue
        fig, ax = plt.subplots(figsize=(COLUMN_W, 2.7), layout="constrained")
        for method in methods:
            sub = bdf[bdf["method"] == method]
            pts = sorted((b, task_mean_accuracy(g)) for b, g in sub.groupby("kv_budget"))
            ax.plot([p[0] for p in pts], [p[1] for p in pts], **method_style(method))
        budgets = sorted(bdf["kv_budget"].dropna().unique())
        ref = bdf[bdf["method"] == "fullkv"]
        if not ref.empty:
            ax.axhline(
                task_mean_accuracy(ref),
                color=method_color("fullkv"),
                linestyle=":",
                linewidth=0.9,
                label="FullKV",
            )
        ax.set_xscale("log", base=2)
        ax.set_xticks(budgets)
        ax.xaxis.set_major_formatter(TOKENS_FORMATTER)
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        ax.set(xlabel="KV budget (tokens)", ylabel="Accuracy (%)", title=f"Accuracy vs KV budget, {bench}")
        ax.grid(True)
        fig.legend(loc="outside lower center", frameon=False, ncol=3)
        written += save_figure(fig, out_dir, f"accuracy_vs_budget_{bench}")
    if not written:
        log.info("skip: accuracy vs KV budget (%s): no method has >= 2 KV budgets", model)
    return written
