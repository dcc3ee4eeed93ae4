"""Sweep figures: tau sensitivity (paper Table 9 as a figure) and accuracy vs KV budget.

A method is drawn when its runs on a benchmark take at least two values of the swept hyper-parameter;
every other hyper-parameter that varies is held at its most common value (named in the title with n), and
the seed at its first value (a point is one seed's samples: the tau sweep chooses on seed 1, tests on 0).
Accuracies are the paper's task means of the runs with their 95% intervals (error bars; the baseline's as
a band); TTFT ratios only between runs timed in one invocation (:func:`asl.results.tables.ratio_rows`).
The paper's Table 9 is overlaid on the tau figure (the model's own rows, else Llama-3.1-8B's, labelled).
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
from asl.results.accuracy import rows_estimate
from asl.results.paper import paper_table9
from asl.results.stats import Estimate
from asl.results.tables import Row, coverage_text, groups, ratio_rows
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
    seeds: list[int]  # every seed the runs took; the figure draws the first (one seed's samples per point)

    def title(self, what: str) -> str:
        """``what, benchmark (C = 256)`` and the task coverage when a run skipped tasks."""
        rows = [r for points in self.series.values() for _, rs in points for r in rs]
        notes = [held_text(setting_values((r.config for r in rows), self.held, exclude=(self.key,)))]
        short = min(((r.tasks_run, r.tasks_total) for r in rows), key=lambda c: c[0] - c[1])
        if short[0] < short[1]:
            notes.append(coverage_text(*short))
        counts = sorted({r.cell.n_scored for r in rows})
        if counts:
            notes.append(f"n = {counts[0]}" + (f"–{counts[-1]}" if len(counts) > 1 else "") + " per task")
        if len(self.seeds) > 1:
            notes.append(f"seed {self.seeds[0]} of {len(self.seeds)}")
        text = ", ".join(n for n in notes if n)
        return f"{what}, {self.benchmark}" + (f" ({text})" if text else "")


def sweeps(rows: list[Row], key: str, baseline: str) -> list[Sweep]:
    """Per benchmark, the methods whose rows take at least two values of ``key``, the other hyper-parameters
    held at their most common value over ``rows`` (one model's)."""
    out = []
    kept_rows, held = hold_rows(rows, free=(key,))
    for (_, bench), every_seed in groups(kept_rows).items():
        # the first seed among the runs that take a value of ``key`` (a seed without them draws nothing)
        seeds = sorted({r.seed for r in every_seed if isinstance(r.config.get(key), (int, float))})
        kept = [r for r in every_seed if r.seed == seeds[0]] if seeds else []
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
            out.append(Sweep(bench, kept[0].family, key, swept, displays, base, held, seeds))
    return out


def mean_ratio(rows: list[Row], base: list[Row], field: str, baseline: str) -> float | None:
    """Mean over shared cells of ``field`` relative to the baseline's rows."""
    sub, ratios = ratio_rows(rows + base, field, baseline)
    values = [ratios[id(r)] for r in sub]
    return fmean(values) if values else None


def _reference(ax, sweep: Sweep, est: Estimate | None) -> None:
    """The baseline's task mean as a dotted line with its interval as a band."""
    if sweep.baseline and est is not None:
        d = sweep.baseline[0].display
        ax.axhline(est.value, color=d.color, linestyle=":", linewidth=0.9, label=f"{d.label} (95% band)")
        ax.axhspan(est.lo, est.hi, color=d.color, alpha=0.12, linewidth=0)


def _accuracy(ax, points: list[tuple[float, list[Row]]], style: dict) -> None:
    """Task means with 95% error bars."""
    ests = [(v, rows_estimate(rs)) for v, rs in points]
    ests = [(v, e) for v, e in ests if e is not None]
    if not ests:
        return
    xs, ys = [v for v, _ in ests], [e.value for _, e in ests]
    err = [[e.value - e.lo for _, e in ests], [e.hi - e.value for _, e in ests]]
    ax.errorbar(xs, ys, yerr=err, capsize=2, elinewidth=0.6, **style)


def paper_tau(model: str) -> tuple[str, dict]:
    """The paper's Table 9 rows to overlay: the model's own, else Llama-3.1-8B-UltraLong's."""
    own = paper_table9(model)
    return (model, own) if own else ("llama31_8b_ul", paper_table9("llama31_8b_ul"))


def plot_tau(rows: list[Row], model: str, out_dir: Path, baseline: str) -> list[Path]:
    """Accuracy and TTFT ratio vs tau for every method swept over tau, per benchmark; the paper's Table 9
    beside them on RULER."""
    written: list[Path] = []
    for sw in sweeps(rows, "tau", baseline):
        fig, (ax_acc, ax_t) = plt.subplots(1, 2, figsize=(PAGE_W * 0.75, 2.3), layout="constrained")
        source, paper = paper_tau(model)
        timed = False
        for d in in_order(sw.displays[label] for label in sw.series):
            points = sw.series[d.label]
            style = line_style(d)
            _accuracy(ax_acc, points, style)
            ratios = [(v, mean_ratio(rs, sw.baseline, "ttft_s", baseline)) for v, rs in points]
            ratios = [(v, r) for v, r in ratios if r is not None]
            if ratios:
                timed = True
                ax_t.plot([v for v, _ in ratios], [r for _, r in ratios], **style)
            if d.label in paper:
                ref = paper[d.label]
                kw = {"color": d.color, "marker": "x", "linestyle": ":", "linewidth": 0.8}
                label = f"{d.label}, paper Table 9"
                ax_acc.plot(ref["tau"], ref["accuracy"], label=label, **kw)
                ax_t.plot(ref["tau"], ref["ttft_ratio"], **kw)
        _reference(ax_acc, sw, rows_estimate(sw.baseline))
        if sw.baseline:
            ax_t.axhline(1.0, color=sw.baseline[0].display.color, linestyle=":", linewidth=0.9)
        if not timed:
            ax_t.text(0.5, 0.5, f"no {baseline} run timed in the same invocation\n(shared-prefill runs "
                      "are untimed):\nour ratio not drawn",
                      transform=ax_t.transAxes, ha="center", va="center", fontsize=7)  # fmt: skip
            log.info("tau sensitivity (%s/%s): no same-invocation %s run, our TTFT ratio not drawn",
                     model, sw.benchmark, baseline)  # fmt: skip
        ax_acc.set(xlabel=r"Threshold $\tau$", ylabel="Accuracy (%)")
        ref_label = sw.baseline[0].label if sw.baseline else baseline
        ax_t.set(xlabel=r"Threshold $\tau$", ylabel=f"TTFT / {ref_label} TTFT")
        for ax in (ax_acc, ax_t):
            ax.grid(True)
        ax_t.set_ylim(bottom=0)
        source_note = (
            f"\npaper Table 9: {source}, RULER 128K" if any(label in paper for label in sw.series) else ""
        )
        fig.suptitle(sw.title(r"$\tau$ sensitivity") + source_note)
        handles, labels = ax_acc.get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 3), frameon=False)
        written += save_figure(fig, out_dir, f"tau_sensitivity_{sw.benchmark}")
    if not written:
        log.info("skip: tau sensitivity (%s): no benchmark with a method at >= 2 tau values", model)
    return written


def plot_budget(rows: list[Row], model: str, out_dir: Path, baseline: str) -> list[Path]:
    """Accuracy (task mean) vs KV budget per method, one figure per benchmark with a budget sweep."""
    written: list[Path] = []
    for sw in sweeps(rows, "kv_budget", baseline):
        # many methods: a wider figure, so neither the legend below nor the title is clipped
        wide = len(sw.series) > 4
        fig, ax = plt.subplots(figsize=(PAGE_W * 0.7 if wide else COLUMN_W, 2.7), layout="constrained")
        budgets: set[float] = set()
        for d in in_order(sw.displays[label] for label in sw.series):
            points = sw.series[d.label]
            budgets |= {v for v, _ in points}
            _accuracy(ax, points, line_style(d))
        _reference(ax, sw, rows_estimate(sw.baseline))
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
