"""Selection-layer histograms and relative rank-variance trajectories of an adaptive method (paper Figure 6).

The adaptive method is the one whose records carry relative rank variances (ASL; the one with the lowest
display order when several do), held at its most common setting; the other methods' layer
hyper-parameters (FastKV's TSP layer, GemFilter's filter layer, L_min) are marked from the recorded configs.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from asl.methods.base import Display
from asl.plotting.inputs import LayerMarker, hold_runs, layer_markers, record_frame
from asl.plotting.style import COLUMN_W, PAGE_W, save_figure
from asl.results.reader import RunResult
from asl.results.tables import column_name, task_order
from asl.results.variants import held_text, setting_values

log = logging.getLogger("asl.plotting")

NEVER_COLOR = "#8C8C8C"
MARKER_STYLES = ("--", ":", "-.", (0, (5, 1, 1, 1)))


@dataclass
class Adaptive:
    """The adaptive method's samples on one benchmark, the setting they are held at and the layer markers."""

    benchmark: str
    display: Display
    samples: pd.DataFrame
    held: dict[str, list]
    configs: list[dict]  # the recorded method configs of those samples' runs
    markers: list[LayerMarker]
    num_layers: int


def adaptive_samples(runs: list[RunResult]) -> list[Adaptive]:
    """Per benchmark: the samples of the adaptive method with the lowest display order, held at the most
    common setting of ``runs`` (one model's)."""
    recorded = [r for r in runs if any(rec.rel_variance for rec in r.records())]
    markers = layer_markers(runs)
    kept, held = hold_runs(runs)
    out = []
    for bench in sorted({r.summary.benchmark for r in recorded}):
        display = min(
            (r.display for r in recorded if r.summary.benchmark == bench), key=lambda d: (d.order, d.label)
        )
        mine = [r for r in kept if r.summary.benchmark == bench and r.display.label == display.label]
        samples = record_frame(mine)
        seen = [*samples["selection_layer"].dropna(), *(k for rv in samples["rel_variance"] for k in rv)]
        num_layers = (
            int(samples["num_layers"].dropna().max()) if samples["num_layers"].notna().any() else None
        )
        num_layers = num_layers or int(max(seen)) + 1
        configs = [r.summary.method for r in mine]
        out.append(Adaptive(bench, display, samples, held, configs, markers, num_layers))
    return out


def _title(what: str, a: Adaptive) -> str:
    setting = held_text(setting_values(a.configs, a.held))
    return f"{a.display.label} {what}, {a.benchmark}" + (f" ({setting})" if setting else "")


def _grid(n: int) -> tuple[int, int, float]:
    """Rows, columns and figure width for ``n`` small multiples (at most 5 per row)."""
    nrows = math.ceil(n / 5)
    ncols = math.ceil(n / nrows)
    width = COLUMN_W if ncols == 1 else (COLUMN_W * 1.6 if ncols == 2 else PAGE_W)
    return nrows, ncols, width


def _panels(n: int):
    """A figure of ``n`` small multiples sharing both axes (unused cells hidden)."""
    nrows, ncols, width = _grid(n)
    height = 1.5 * nrows + (1.3 if ncols == 1 else 0.7)  # room for the title and the legend
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False, sharex=True, sharey=True,
                             layout="constrained")  # fmt: skip
    for j in range(n, nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    return fig, axes, ncols


def _label_outer(axes, n: int, xlabel: str, ylabel: str) -> None:
    """x label under the lowest axes of each column, y label on the first column."""
    ncols = len(axes[0])
    for i in range(n):
        ax = axes[i // ncols][i % ncols]
        if i + ncols >= n:
            ax.set_xlabel(xlabel)
            ax.xaxis.set_tick_params(labelbottom=True)
        if i % ncols == 0:
            ax.set_ylabel(ylabel)


def _layer_ticks(num_layers: int) -> list[int]:
    step = 4 if num_layers > 16 else 2
    return list(range(0, num_layers, step))


def _mark_layers(ax, markers: list[LayerMarker]) -> None:
    for i, m in enumerate(markers):
        ax.axvline(
            m.layer, color=m.display.color, linestyle=MARKER_STYLES[i % len(MARKER_STYLES)], linewidth=0.9
        )


def _marker_handles(markers: list[LayerMarker]) -> list:
    return [
        Line2D([], [], color=m.display.color, ls=MARKER_STYLES[i % len(MARKER_STYLES)],
               label=f"{m.display.label} {m.key} ({m.layer})")
        for i, m in enumerate(markers)
    ]  # fmt: skip


def _legend(fig, handles: list, ncols: int) -> None:
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 3 if ncols > 2 else 2),
               frameon=False)  # fmt: skip


def plot_selection_hist(runs: list[RunResult], model: str, out_dir: Path) -> list[Path]:
    """Histogram of the selection layer per task, per benchmark, with 'never selected' as a bar."""
    written: list[Path] = []
    for a in adaptive_samples(runs):
        tasks = task_order(a.samples["task"].unique())
        fig, axes, ncols = _panels(len(tasks))
        never_x = a.num_layers + 1
        ticks = _layer_ticks(a.num_layers)
        for i, task in enumerate(tasks):
            ax = axes[i // ncols][i % ncols]
            mine = a.samples[a.samples["task"] == task]
            fired = mine["selection_fired"].fillna(False).astype(bool).to_numpy()
            share = 100.0 / len(mine)
            counts = mine.loc[fired, "selection_layer"].dropna().astype(int).value_counts()
            ax.bar(counts.index, counts.to_numpy() * share, width=0.85, color=a.display.color)
            ax.bar([never_x], [(~fired).sum() * share], width=0.85, color=NEVER_COLOR, hatch="////",
                   edgecolor="white", linewidth=0)  # fmt: skip
            _mark_layers(ax, a.markers)
            ax.set_title(f"{column_name(task)} (fired {fired.sum()} of {len(mine)})", fontsize=7)
            ax.set_xlim(-0.8, never_x + 1.0)
            ax.set_xticks(ticks + [never_x])
            ax.set_xticklabels([str(t) for t in ticks] + ["never"], rotation=90)
            ax.set_ylim(0, 100)
            ax.grid(True, axis="y")
        _label_outer(axes, len(tasks), "Selection layer", "Samples (%)")
        fig.suptitle(_title("selection layer", a))
        handles = [
            Patch(color=a.display.color, label=f"{a.display.label} selection"),
            Patch(
                facecolor=NEVER_COLOR,
                hatch="////",
                edgecolor="white",
                label="never fired (incl. a two-pass fallback to the last layer)",
            ),
            *_marker_handles(a.markers),
        ]
        _legend(fig, handles, ncols)
        written += save_figure(fig, out_dir, f"selection_layer_hist_{a.benchmark}")
    if not written:
        log.info("skip: selection-layer histogram (%s): no run recorded relative rank variances", model)
    return written


def plot_rel_variance(runs: list[RunResult], model: str, out_dir: Path) -> list[Path]:
    """Relative rank variance vs layer: one thin line per sample, the median per task, tau and the markers."""
    written: list[Path] = []
    for a in adaptive_samples(runs):
        df = a.samples[a.samples["rel_variance"].map(bool)]
        if df.empty:
            continue
        tasks = task_order(df["task"].unique())
        taus = sorted({c["tau"] for c in a.configs if "tau" in c})
        fig, axes, ncols = _panels(len(tasks))
        all_vals = np.concatenate([list(rv.values()) for rv in df["rel_variance"]])
        top = max(1.1, float(np.quantile(all_vals, 0.99)) * 1.05)
        clipped = int(np.sum(all_vals > top))
        for i, task in enumerate(tasks):
            ax = axes[i // ncols][i % ncols]
            traj = list(df.loc[df["task"] == task, "rel_variance"])
            alpha = max(0.1, min(0.5, 6.0 / len(traj)))
            for rv in traj:
                ax.plot(list(rv), list(rv.values()), color=a.display.color, linewidth=0.5, alpha=alpha)
                above = [(k, v) for k, v in rv.items() if v > top]
                if above:  # clipped points are drawn on the top edge, never dropped silently
                    ax.plot([k for k, _ in above], [top] * len(above), linestyle="none", marker="^",
                            markersize=2.5, color=a.display.color, clip_on=False)  # fmt: skip
            med = pd.DataFrame(traj).median(axis=0).sort_index()
            ax.plot(med.index, med.to_numpy(), color="black", linewidth=1.3)
            for tau in taus:
                ax.axhline(tau, color="#555555", linestyle="--", linewidth=0.8)
            _mark_layers(ax, a.markers)
            ax.set_title(f"{column_name(task)} (n={len(traj)})", fontsize=7)
            ax.set_ylim(0, top)
            ax.grid(True)
        first = min(min(rv) for rv in df["rel_variance"])
        axes[0][0].set_xlim(first - 1, a.num_layers - 0.5)
        axes[0][0].xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        _label_outer(axes, len(tasks), "Layer", r"Rel. rank variance $\rho_\ell$")
        title = _title("relative rank variance", a)
        if clipped:
            title += (
                f"\n{clipped} value(s) above {top:.2f} (max {all_vals.max():.2f}) drawn as ▲ on the top edge"
            )
        fig.suptitle(title)
        handles = [
            Line2D([], [], color=a.display.color, lw=0.6, label="one sample"),
            Line2D([], [], color="black", lw=1.3, label="median"),
            *(Line2D([], [], color="#555555", ls="--", lw=0.8, label=rf"$\tau$ = {t:g}") for t in taus),
            *_marker_handles(a.markers),
        ]
        _legend(fig, handles, ncols)
        written += save_figure(fig, out_dir, f"rel_variance_{a.benchmark}")
    if not written:
        log.info("skip: relative rank-variance trajectories (%s): no run recorded them", model)
    return written
