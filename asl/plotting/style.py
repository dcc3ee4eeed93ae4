"""Shared figure style: each method's own colour, marker and dashes (its Display), paper-column sizes,
deterministic saving."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from asl.methods.base import Display  # noqa: E402

log = logging.getLogger("asl.plotting")

COLUMN_W = 3.3  # single-column width of a two-column paper, inches
PAGE_W = 7.0  # full text width, inches

# NIAH heat-map colormap: cividis, perceptually uniform and readable with colour-vision deficiencies (the
# KV papers' red-yellow-green map is not: red and green cells look alike to many readers).
NIAH_CMAP = matplotlib.colormaps["cividis"]

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


def line_style(display: Display) -> dict:
    """Line kwargs of a method: its colour, marker and label; dashed where its display says so."""
    return {
        "color": display.color,
        "marker": display.marker,
        "linestyle": "--" if display.dashed else "-",
        "label": display.label,
    }


def in_order(displays: Iterable[Display]) -> list[Display]:
    """Distinct displays by their method's order, then label."""
    unique = {d.label: d for d in displays}
    return sorted(unique.values(), key=lambda d: (d.order, d.label))


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
