"""Sweep figures: tau sensitivity (paper Table 9 as a figure) and accuracy vs KV budget.

A method is drawn when its runs on a benchmark take at least two values of the swept hyper-parameter;
every other hyper-parameter that varies is held at its most common value (named in the title).
Accuracies are the paper's task means of the runs' summary rows (:mod:`asl.results.tables`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean

import matplotlib.pyplot as plt

from asl.methods.base import Display
from asl.plotting.inputs import hold_rows
from asl.plotting.style import COLUMN_W, PAGE_W, TOKENS_FORMATTER, in_order, line_style, save_figure
from asl.results.paper import paper_table9
from asl.results.tables import Row, coverage_text, groups, ratio_rows, task_mean
from asl.results.variants import held_text, setting_values, value_key

log = logging.getLogger("asl.plotting")


@dataclass
class Sweep:
    """The methods swept over ``key`` on one benchmark, and the baseline's rows at the held setting."""

    benchmark: str
    family: str
    key: str
    series: dict[str, list[tuple[float, list[Row]]]]  # label -> (value, rows at that value), ascending
    displays: dict[str, Display]
    baseline: list[Row]
    held: dict[str, list]

    def title(self, what: str) -> str:
        """``what, benchmark (C = 256)`` and the task coverage when a run skipped tasks."""
        rows = [r for points in self.series.values() for _, rs in points for r in rs]
        notes = [held_text(setting_values((r.config for r in rows), self.held, exclude=(self.key,)))]
        short = min(((r.tasks_run, r.tasks_total) for r in rows), key=lambda c: c[0] - c[1])
        if short[0] < short[1]:
            notes.append(coverage_text(*short))
        text = ", ".join(n for n in notes if n)
        return f"{what}, {self.benchmark}" + (f" ({text})" if text else "")


def sweeps(rows: list[Row], key: str, baseline: str) -> list[Sweep]:
    """Per benchmark, the methods whose rows take at least two values of ``key``, the other hyper-parameters
    held at their most common value over ``rows`` (one model's)."""
    out = []
    kept_rows, held = hold_rows(rows, free=(key,))
    for (_, bench), kept in groups(kept_rows).items():
        series: dict[str, dict[float, list[Row]]] = {}
        for r in kept:
            if isinstance(r.config.get(key), (int, float)):
                series.setdefault(r.label, {}).setdefault(r.config[key], []).append(r)
        swept = {
            label: sorted(pts.items(), key=lambda kv: value_key(kv[0]))
            for label, pts in series.items()
            if len(pts) >= 2
        }
        if swept:
            displays = {r.label: r.display for r in kept}
            base = [r for r in kept if r.method == baseline]
            out.append(Sweep(bench, kept[0].family, key, swept, displays, base, held))
    return out


def mean_ratio(rows: list[Row], base: list[Row], field: str, baseline: str) -> float | None:
    """Mean over shared cells of ``field`` relative to the baseline's rows."""
    sub, ratios = ratio_rows(rows + base, field, baseline)
    values = [ratios[id(r)] for r in sub]
    return fmean(values) if values else None


def _reference(ax, sweep: Sweep, y: float | None) -> None:
    if sweep.baseline and y is not None:
        d = sweep.baseline[0].display
        ax.axhline(y, color=d.color, linestyle=":", linewidth=0.9, label=d.label)


def plot_tau(rows: list[Row], model: str, out_dir: Path, baseline: str) -> list[Path]:
    """Accuracy and TTFT ratio vs tau for every method swept over tau, per benchmark; the paper's Table 9
    beside them on RULER."""
    written: list[Path] = []
    for sw in sweeps(rows, "tau", baseline):
        fig, (ax_acc, ax_t) = plt.subplots(1, 2, figsize=(PAGE_W * 0.75, 2.3), layout="constrained")
        paper = paper_table9(model) if sw.family == "ruler" else {}
        for d in in_order(sw.displays[label] for label in sw.series):
            points = sw.series[d.label]
            style = line_style(d)
            ax_acc.plot([v for v, _ in points], [task_mean(rs) for _, rs in points], **style)
            ratios = [(v, mean_ratio(rs, sw.baseline, "ttft_s", baseline)) for v, rs in points]
            ratios = [(v, r) for v, r in ratios if r is not None]
            if ratios:
                ax_t.plot([v for v, _ in ratios], [r for _, r in ratios], **style)
            if d.label in paper:
                ref = paper[d.label]
                kw = {"color": d.color, "marker": "x", "linestyle": ":", "linewidth": 0.8}
                ax_acc.plot(ref["tau"], ref["accuracy"], label=f"{d.label}, paper (128K)", **kw)
                ax_t.plot(ref["tau"], ref["ttft_ratio"], **kw)
        _reference(ax_acc, sw, task_mean(sw.baseline))
        if sw.baseline:
            ax_t.axhline(1.0, color=sw.baseline[0].display.color, linestyle=":", linewidth=0.9)
        else:
            ax_t.text(0.5, 0.5, f"no {baseline} run:\nour ratio not drawn", transform=ax_t.transAxes,
                      ha="center", va="center", fontsize=7)  # fmt: skip
            log.info(
                "tau sensitivity (%s/%s): no %s reference, TTFT ratio not drawn",
                model,
                sw.benchmark,
                baseline,
            )
        ax_acc.set(xlabel=r"Threshold $\tau$", ylabel="Accuracy (%)")
        ref_label = sw.baseline[0].label if sw.baseline else baseline
        ax_t.set(xlabel=r"Threshold $\tau$", ylabel=f"TTFT / {ref_label} TTFT")
        for ax in (ax_acc, ax_t):
            ax.grid(True)
        ax_t.set_ylim(bottom=0)
        fig.suptitle(sw.title(r"$\tau$ sensitivity"))
        handles, labels = ax_acc.get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4), frameon=False)
        written += save_figure(fig, out_dir, f"tau_sensitivity_{sw.benchmark}")
    if not written:
        log.info("skip: tau sensitivity (%s): no benchmark with a method at >= 2 tau values", model)
    return written


def plot_budget(rows: list[Row], model: str, out_dir: Path, baseline: str) -> list[Path]:
    """Accuracy (task mean) vs KV budget per method, one figure per benchmark with a budget sweep."""
    written: list[Path] = []
    for sw in sweeps(rows, "kv_budget", baseline):
        fig, ax = plt.subplots(figsize=(COLUMN_W, 2.7), layout="constrained")
        budgets: set[float] = set()
        for d in in_order(sw.displays[label] for label in sw.series):
            points = sw.series[d.label]
            budgets |= {v for v, _ in points}
            ax.plot([v for v, _ in points], [task_mean(rs) for _, rs in points], **line_style(d))
        _reference(ax, sw, task_mean(sw.baseline))
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(budgets))
        ax.xaxis.set_major_formatter(TOKENS_FORMATTER)
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        ax.set(xlabel="KV budget (tokens)", ylabel="Accuracy (%)", title=sw.title("Accuracy vs KV budget"))
        ax.grid(True)
        fig.legend(loc="outside lower center", frameon=False, ncol=3)
        written += save_figure(fig, out_dir, f"accuracy_vs_budget_{sw.benchmark}")
    if not written:
        log.info("skip: accuracy vs KV budget (%s): no method has >= 2 KV budgets", model)
    return written
