"""Shared figure style: one colour per method (Okabe-Ito), paper-column sizes, deterministic saving."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

log = logging.getLogger("asl.plotting")

COLUMN_W = 3.3  # single-column width of a two-column paper, inches
PAGE_W = 7.0  # full text width, inches

# Okabe-Ito colour-blind-safe palette (yellow is replaced by grey: too pale on white).
METHOD_ORDER: tuple[str, ...] = (
    "fullkv",
    "snapkv",
    "gemfilter",
    "fastkv",
    "fastkv_fullbefore",
    "asl",
    "asl_fullbefore",
    "asl_2pass",
)
METHOD_COLORS: dict[str, str] = {
    "fullkv": "#000000",
    "snapkv": "#8C8C8C",
    "gemfilter": "#009E73",
    "fastkv": "#0072B2",
    "fastkv_fullbefore": "#56B4E9",
    "asl": "#D55E00",
    "asl_fullbefore": "#E69F00",
    "asl_2pass": "#CC79A7",
}
METHOD_LABELS: dict[str, str] = {
    "fullkv": "FullKV",
    "snapkv": "SnapKV",
    "gemfilter": "GemFilter",
    "fastkv": "FastKV",
    "fastkv_fullbefore": "FastKV (Full before)",
    "asl": "ASL",
    "asl_fullbefore": "ASL (Full before)",
    "asl_2pass": "ASL_2pass",
}
METHOD_MARKERS: dict[str, str] = {
    "fullkv": "s",
    "snapkv": "v",
    "gemfilter": "D",
    "fastkv": "^",
    "fastkv_fullbefore": "^",
    "asl": "o",
    "asl_fullbefore": "o",
    "asl_2pass": "P",
}

# InfiniteBench task id -> the paper's column name (Table 2 order).
TASK_SHORT: dict[str, str] = {
    "longbook_sum_eng": "En.Sum",
    "longbook_qa_eng": "En.QA",
    "longbook_choice_eng": "En.MC",
    "longdialogue_qa_eng": "En.Dia",
    "longbook_qa_chn": "Zh.QA",
    "code_debug": "Code.Debug",
    "math_find": "Math.Find",
    "passkey": "Retr.PassKey",
    "number_string": "Retr.Num",
    "kv_retrieval": "Retr.KV",
}

# NIAH heat-map colormap shared by MInference and the KV papers (benchmarks.md §3.4).
NIAH_CMAP = LinearSegmentedColormap.from_list("niah", ["#F0496E", "#EBB839", "#0CD79F"])

RC = {
    "font.size": 7.5,
    "axes.titlesize": 8,
    "axes.labelsize": 7.5,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "figure.titlesize": 8.5,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.5,
    "savefig.dpi": 300,
    "figure.constrained_layout.h_pad": 0.03,
    "figure.constrained_layout.w_pad": 0.03,
    "pdf.fonttype": 42,
    "svg.hashsalt": "asl",
}


def apply_style() -> None:
    """Install the shared rcParams (call once before drawing)."""
    plt.rcParams.update(RC)


def method_color(method: str) -> str:
    """Colour of a method variant; unknown methods get a fixed fallback."""
    return METHOD_COLORS.get(method, "#444444")


def method_label(method: str) -> str:
    """Display name of a method variant."""
    return METHOD_LABELS.get(method, method)


def method_style(method: str) -> dict:
    """Line kwargs (colour, marker, dashes for Full-before variants) for a method variant."""
    dashed = method.endswith("_fullbefore")
    return {
        "color": method_color(method),
        "marker": METHOD_MARKERS.get(method, "x"),
        "linestyle": "--" if dashed else "-",
        "label": method_label(method),
    }


def sort_methods(methods) -> list[str]:
    """Methods in the canonical order, unknown ones last (alphabetical)."""
    known = [m for m in METHOD_ORDER if m in set(methods)]
    return known + sorted(set(methods) - set(METHOD_ORDER))


def sort_tasks(tasks) -> list[str]:
    """Tasks in the paper's Table 2 order, others alphabetical after them."""
    tasks = set(tasks)
    return [t for t in TASK_SHORT if t in tasks] + sorted(tasks - set(TASK_SHORT))


def task_label(task: str) -> str:
    """Short display name of a task (the paper's column name for InfiniteBench)."""
    return TASK_SHORT.get(task, task)


def tokens_label(n: float) -> str:
    """Token count as a compact tick label: 4096 -> '4K', 1000 -> '1K', 512 -> '512'."""
    n = float(n)
    if n >= 1024 and n % 1024 == 0:
        return f"{int(n // 1024)}K"
    if n >= 1000:
        k = n / 1024 if n % 1000 else n / 1000
        return f"{k:.0f}K" if abs(k - round(k)) < 0.05 else f"{k:.1f}K"
    return f"{int(n)}"


TOKENS_FORMATTER = FuncFormatter(lambda x, _pos: tokens_label(x) if x > 0 else "")
PLAIN_FORMATTER = FuncFormatter(lambda x, _pos: f"{x:g}")


def save_figure(fig: Figure, out_dir: Path, name: str) -> list[Path]:
    """Save ``fig`` as NAME.png and NAME.pdf (overwriting, byte-stable) and close it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.png", out_dir / f"{name}.pdf"]
    fig.savefig(paths[0], metadata={"Software": None})
    fig.set_layout_engine("none")  # keep the positions the PNG's layout pass computed; skip a second pass
    fig.savefig(paths[1], metadata={"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None})
    plt.close(fig)
    for p in paths:
        log.info("wrote %s", p)
    return paths
