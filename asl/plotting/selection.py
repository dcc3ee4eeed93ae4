"""ASL selection-layer histograms and relative rank-variance trajectories (paper Figure 6)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from asl.plotting.aggregate import default_budget, default_tau, fixed_value, hold
from asl.plotting.loading import model_spec
from asl.plotting.style import (
    COLUMN_W,
    PAGE_W,
    method_color,
    method_label,
    save_figure,
    sort_tasks,
    task_label,
)

log = logging.getLogger("asl.plotting")

ASL_PRIORITY = ("asl", "asl_fullbefore", "asl_2pass")
NEVER_COLOR = "#8C8C8C"


def _config_value(samples: pd.DataFrame, methods: tuple[str, ...], key: str) -> int | None:
    """Most common integer ``key`` in the method_config of ``methods``' predictions, or None."""
    sub = samples[samples["method"].isin(methods)]
    vals = [mc.get(key) for mc in sub["method_config"] if isinstance(mc, dict)]
    vals = [int(v) for v in vals if isinstance(v, int | float) and not isinstance(v, bool)]
    return max(set(vals), key=vals.count) if vals else None


def layer_facts(samples: pd.DataFrame, model: str) -> dict[str, int | None]:
    """num_layers, l_min, FastKV tsp_layer and GemFilter filter_layer (run configs, else model yaml)."""
    spec = model_spec(model)
    defaults = spec.get("method_defaults") or {}
    facts = {
        "tsp_layer": _config_value(samples, ("fastkv", "fastkv_fullbefore"), "tsp_layer"),
        "filter_layer": _config_value(samples, ("gemfilter",), "filter_layer"),
        "l_min": _config_value(samples, ASL_PRIORITY, "l_min"),
        "num_layers": spec.get("num_layers") or _config_value(samples, ASL_PRIORITY, "num_layers"),
    }
    for key in ("tsp_layer", "filter_layer", "l_min"):
        if facts[key] is None and defaults.get(key) is not None:
            facts[key] = int(defaults[key])
    if facts["num_layers"] is None:
        seen = [int(x) for x in samples["selection_layer"].dropna()]
        seen += [k for rv in samples["rel_variance"] for k in (rv or {})]
        facts["num_layers"] = max(seen) + 1 if seen else None
    return facts


def asl_samples(samples: pd.DataFrame) -> tuple[str | None, pd.DataFrame]:
    """The first ASL variant with predictions, held at the default tau and budget."""
    for method in ASL_PRIORITY:
        df = samples[samples["method"] == method] if not samples.empty else samples
        if not df.empty:
            df = hold(df, "tau", fixed_value(df["tau"], default_tau(), f"{method} tau"))
            df = hold(df, "kv_budget", fixed_value(df["kv_budget"], default_budget(), f"{method} kv_budget"))
            return method, df
    return None, samples.iloc[0:0]


def _grid(n: int) -> tuple[int, int, float]:
    """Rows, columns and figure width for ``n`` small multiples (at most 5 per row)."""
    nrows = math.ceil(n / 5)
    ncols = math.ceil(n / nrows)
    width = COLUMN_W if ncols == 1 else (COLUMN_W * 1.6 if ncols == 2 else PAGE_W)
    return nrows, ncols, width


def _height(nrows: int, ncols: int) -> float:
    """Figure height: 1.5 in per row plus room for the title and the legend (taller for one column)."""
    return 1.5 * nrows + (1.3 if ncols == 1 else 0.7)


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


def _mark_layers(ax, facts: dict) -> None:
    if facts.get("tsp_layer") is not None:
        ax.axvline(facts["tsp_layer"], color=method_color("fastkv"), linestyle="--", linewidth=0.9)
    if facts.get("filter_layer") is not None:
        ax.axvline(facts["filter_layer"], color=method_color("gemfilter"), linestyle=":", linewidth=1.1)
    if facts.get("l_min") is not None:
        ax.axvspan(-0.5, facts["l_min"] + 0.5, color="#DDDDDD", alpha=0.5, linewidth=0, zorder=0)


def _marker_handles(facts: dict) -> list:
    out = []
    for key, method, style, label in (
        ("tsp_layer", "fastkv", "--", "FastKV TSP layer"),
        ("filter_layer", "gemfilter", ":", "GemFilter layer"),
    ):
        if facts.get(key) is not None:
            out.append(Line2D([], [], color=method_color(method), ls=style, label=f"{label} ({facts[key]})"))
    if facts.get("l_min") is not None:
        out.append(Patch(color="#DDDDDD", label=rf"$\leq L_{{min}}$ ({facts['l_min']}): not selectable"))
    return out


def plot_selection_hist(samples: pd.DataFrame, model: str, out_dir: Path) -> list[Path]:
    """Histogram of ASL's selection layer per task, per benchmark, with 'never selected' as a bar."""
    method, df = asl_samples(samples)
    if method is None or df.empty:
        log.info("skip: selection-layer histogram (%s): no ASL predictions", model)
        return []
    facts = layer_facts(samples, model)
    written: list[Path] = []
    for bench, bdf in sorted(df.groupby("benchmark"), key=lambda kv: str(kv[0])):
        nl = facts["num_layers"] or int(bdf["selection_layer"].dropna().max() + 1)
        tasks = sort_tasks(bdf["task"].unique())
        nrows, ncols, width = _grid(len(tasks))
        fig, axes = plt.subplots(
            nrows,
            ncols,
            figsize=(width, _height(nrows, ncols)),
            squeeze=False,
            sharex=True,
            sharey=True,
            layout="constrained",
        )
        never_x = nl + 1
        for i, task in enumerate(tasks):
            ax = axes[i // ncols][i % ncols]
            tdf = bdf[bdf["task"] == task]
            layers = tdf["selection_layer"]
            counts = layers.dropna().astype(int).value_counts()
            share = 100.0 / len(tdf)
            ax.bar(counts.index, counts.to_numpy() * share, width=0.85, color=method_color(method))
            ax.bar(
                [never_x],
                [layers.isna().sum() * share],
                width=0.85,
                color=NEVER_COLOR,
                hatch="////",
                edgecolor="white",
                linewidth=0,
            )
            _mark_layers(ax, facts)
            ax.set_title(f"{task_label(task)} (n={len(tdf)})", fontsize=7)
            ax.set_xlim(-0.8, never_x + 1.0)
            ax.set_xticks(_layer_ticks(nl) + [never_x])
            ax.set_xticklabels([str(t) for t in _layer_ticks(nl)] + ["never"], rotation=90)
            ax.set_ylim(0, 100)
            ax.grid(True, axis="y")
        for j in range(len(tasks), nrows * ncols):
            axes[j // ncols][j % ncols].set_visible(False)
        _label_outer(axes, len(tasks), "Selection layer", "Samples (%)")
        fig.suptitle(f"{method_label(method)} selection layer, {bench}")
        handles = [
            Patch(color=method_color(method), label=f"{method_label(method)} selection"),
            Patch(facecolor=NEVER_COLOR, hatch="////", edgecolor="white", label="never selected"),
        ]
        handles += _marker_handles(facts)
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncol=min(len(handles), 3 if ncols > 1 else 2),
            frameon=False,
        )
        written += save_figure(fig, out_dir, f"selection_layer_hist_{bench}")
    return written


def plot_rel_variance(samples: pd.DataFrame, model: str, out_dir: Path) -> list[Path]:
    """Relative rank variance vs layer: one thin line per sample, the median per task, tau and L_min."""
    method, df = asl_samples(samples)
    if method is not None:
        df = df[df["rel_variance"].map(lambda rv: isinstance(rv, dict) and len(rv) > 0)]
    if method is None or df.empty:
        log.info("skip: relative rank-variance trajectories (%s): no ASL rel_variance", model)
        return []
    facts = layer_facts(samples, model)
    written: list[Path] = []
    color = method_color(method)
    for bench, bdf in sorted(df.groupby("benchmark"), key=lambda kv: str(kv[0])):
        tasks = sort_tasks(bdf["task"].unique())
        taus = bdf["tau"].dropna().unique()
        tau = float(taus[0]) if len(taus) else None
        nrows, ncols, width = _grid(len(tasks))
        fig, axes = plt.subplots(
            nrows,
            ncols,
            figsize=(width, _height(nrows, ncols)),
            squeeze=False,
            sharex=True,
            sharey=True,
            layout="constrained",
        )
        all_vals = np.concatenate([list(rv.values()) for rv in bdf["rel_variance"]])
        top = max(1.1, float(np.quantile(all_vals, 0.99)) * 1.05)
        if all_vals.max() > top:
            log.info(
                "rel-variance (%s/%s): y axis clipped at %.2f (max %.2f)", model, bench, top, all_vals.max()
            )
        for i, task in enumerate(tasks):
            ax = axes[i // ncols][i % ncols]
            traj = list(bdf.loc[bdf["task"] == task, "rel_variance"])
            alpha = max(0.1, min(0.5, 6.0 / len(traj)))
            for rv in traj:
                ax.plot(list(rv), list(rv.values()), color=color, linewidth=0.5, alpha=alpha)
            med = pd.DataFrame(traj).median(axis=0).sort_index()
            ax.plot(med.index, med.to_numpy(), color="black", linewidth=1.3)
            if tau is not None:
                ax.axhline(tau, color="#555555", linestyle="--", linewidth=0.8)
            if facts.get("l_min") is not None:
                ax.axvline(facts["l_min"], color="#555555", linestyle=":", linewidth=0.9)
            ax.set_title(f"{task_label(task)} (n={len(traj)})", fontsize=7)
            ax.set_ylim(0, top)
            ax.grid(True)
        lo = (facts.get("l_min") or min(min(rv) for rv in bdf["rel_variance"])) - 1
        hi = (facts["num_layers"] or max(max(rv) for rv in bdf["rel_variance"]) + 1) - 1
        axes[0][0].set_xlim(lo, hi + 0.5)
        axes[0][0].xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        for j in range(len(tasks), nrows * ncols):
            axes[j // ncols][j % ncols].set_visible(False)
        _label_outer(axes, len(tasks), "Layer", r"Rel. rank variance $\rho_\ell$")
        fig.suptitle(f"{method_label(method)} relative rank variance, {bench}")
        handles = [
            Line2D([], [], color=color, lw=0.6, label="one sample"),
            Line2D([], [], color="black", lw=1.3, label="median"),
        ]
        if tau is not None:
            handles.append(Line2D([], [], color="#555555", ls="--", lw=0.8, label=rf"$\tau$ = {tau:g}"))
        if facts.get("l_min") is not None:
            handles.append(
                Line2D([], [], color="#555555", ls=":", lw=0.9, label=rf"$L_{{min}}$ = {facts['l_min']}")
            )
        fig.legend(
            handles=handles, loc="outside lower center", ncol=len(handles) if ncols > 1 else 2, frameon=False
        )
        written += save_figure(fig, out_dir, f"rel_variance_{bench}")
    return written
