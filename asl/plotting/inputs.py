"""What the figures read: runs through :mod:`asl.results.reader` (their summary rows and records) and
``efficiency.csv`` files; how a sweep is held at its most common setting; the layers to mark.

Nothing is aggregated here beyond flattening records into frames: per-cell numbers come from the runs'
``metrics.json`` (:mod:`asl.results.tables`). No model is ever loaded.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from asl.methods.base import Display
from asl.methods.registry import method_from_config
from asl.results.reader import RunResult, load_runs
from asl.results.tables import Row, summary_rows, unique_settings
from asl.results.variants import hold_most_common, method_params

log = logging.getLogger("asl.plotting")

#: efficiency.csv rows of the monitoring-overhead reference (FastKV forced to ASL's layer): not a method
FORCED_PREFIX = "fastkv_forced["


@dataclass
class PlotInputs:
    """Everything the figures of one results tree read."""

    runs: list[RunResult]  # one per configuration, each with a method that could be rebuilt
    rows: list[Row]  # their summary rows (metrics.json cells)
    efficiency: pd.DataFrame  # efficiency.csv rows with their method's display

    def empty(self) -> bool:
        """True when nothing at all was found."""
        return not self.runs and self.efficiency.empty

    def models(self) -> list[str]:
        """Every model with runs or efficiency rows."""
        names = {r.summary.model for r in self.runs}
        if not self.efficiency.empty:
            names |= set(self.efficiency["model"].astype(str))
        return sorted(names)

    def of_model(self, model: str) -> PlotInputs:
        """The inputs of one model."""
        eff = self.efficiency
        return PlotInputs(
            [r for r in self.runs if r.summary.model == model],
            [r for r in self.rows if r.model == model],
            eff[eff["model"].astype(str) == model] if not eff.empty else eff,
        )


def displayable(runs: Iterable[RunResult]) -> list[RunResult]:
    """Runs whose method can be rebuilt from the recorded config (the others are skipped with a warning)."""
    out = []
    for run in runs:
        try:
            run.display  # noqa: B018 - rebuild once, here
        except (ValueError, TypeError) as exc:
            log.warning("%s: skipped (%s)", run.run_dir, str(exc).splitlines()[0])
            continue
        out.append(run)
    return out


def load_inputs(results_dir: Path) -> PlotInputs:
    """Runs (de-duplicated by hash, then by configuration) and efficiency rows under ``results_dir``."""
    runs = unique_settings(displayable(load_runs(results_dir)))
    return PlotInputs(runs, summary_rows(runs), efficiency_frame(results_dir))


def run_params(run: RunResult) -> dict[str, Any]:
    """The recorded hyper-parameters of a run."""
    return method_params(run.summary.method)


def hold_runs(runs: list[RunResult], free: Collection[str] = ()) -> tuple[list[RunResult], dict[str, list]]:
    """Runs of each method on each benchmark at the most common value (counted over all ``runs``, e.g. a
    model's) of every hyper-parameter that varies (except ``free``, the swept one)."""
    return hold_most_common(runs, lambda r: (r.summary.benchmark, r.display.label), run_params, free)


def hold_rows(rows: list[Row], free: Collection[str] = ()) -> tuple[list[Row], dict[str, list]]:
    """Summary rows of the runs :func:`hold_runs` keeps (counted per run, not per row)."""
    first = list({r.run_hash: r for r in reversed(rows)}.values())
    kept, held = hold_most_common(
        first, lambda r: (r.benchmark, r.label), lambda r: method_params(r.config), free
    )
    hashes = {r.run_hash for r in kept}
    return [r for r in rows if r.run_hash in hashes], held


def record_frame(runs: Iterable[RunResult]) -> pd.DataFrame:
    """One row per recorded sample: the run's method label and benchmark, and what the sample recorded."""
    out = []
    for run in runs:
        s, display = run.summary, run.display
        for rec in run.records():
            out.append(
                {
                    "run_hash": s.run_hash,
                    "label": display.label,
                    "benchmark": s.benchmark,
                    "family": s.family,
                    "task": rec.task,
                    "context_length": rec.context_length,
                    "depth": rec.meta.get("depth"),
                    "length": rec.meta.get("length", rec.context_length),
                    "score": None if rec.error else rec.score,
                    "selection_layer": rec.selection_layer,
                    "selection_fired": rec.selection_fired,
                    "rel_variance": {int(k): float(v) for k, v in rec.rel_variance.items()},
                    "num_layers": len(rec.kv_lengths) or None,
                }
            )
    return pd.DataFrame(out)


@dataclass(frozen=True)
class LayerMarker:
    """A layer hyper-parameter recorded by some runs (FastKV's TSP layer, GemFilter's filter layer, L_min)."""

    key: str
    layer: int
    display: Display  # of the first method (by display order) that records it


def layer_markers(runs: Iterable[RunResult]) -> list[LayerMarker]:
    """Each method's layer keys at their most common recorded value, one marker per (key, layer)."""
    values: dict[tuple[str, str], Counter] = {}
    displays: dict[str, Display] = {}
    for run in runs:
        method, display = run.method, run.display
        displays[display.label] = display
        for key in method.layer_keys:
            value = getattr(method, key)
            if isinstance(value, int) and not isinstance(value, bool):
                values.setdefault((display.label, key), Counter())[value] += 1
    first: dict[tuple[str, int], Display] = {}
    for (label, key), counts in values.items():
        layer = counts.most_common(1)[0][0]
        old = first.get((key, layer))
        if old is None or (displays[label].order, label) < (old.order, old.label):
            first[(key, layer)] = displays[label]
    return [
        LayerMarker(key, layer, d)
        for (key, layer), d in sorted(first.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]


def _read_csv(path: Path) -> pd.DataFrame | None:
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        log.warning("unreadable %s (%s); skipped", path, str(exc).splitlines()[0])
        return None


def _display_of(config: Any, cache: dict[str, Display | None]) -> Display | None:
    if not isinstance(config, str) or not config.strip():  # an empty CSV cell reads as NaN
        return None
    if config not in cache:
        try:
            cache[config] = method_from_config(json.loads(config)).display()
        except (ValueError, TypeError) as exc:
            log.warning("efficiency.csv: method_config skipped (%s)", str(exc).splitlines()[0])
            cache[config] = None
    return cache[config]


def efficiency_frame(results_dir: Path) -> pd.DataFrame:
    """Every ``efficiency.csv`` under ``results_dir`` with each row's method display (from its
    ``method_config`` column); forced-layer reference rows and rows without a usable config are left out."""
    frames = [f for f in map(_read_csv, sorted(results_dir.rglob("efficiency.csv"))) if f is not None]
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True)
    if not {"model", "method", "context_length", "method_config"} <= set(df.columns):
        log.warning("efficiency.csv lacks model/method/context_length/method_config columns; not plotted")
        return pd.DataFrame()
    forced = df["method"].astype(str).str.startswith(FORCED_PREFIX)
    if forced.any():
        log.info("efficiency.csv: %d forced-layer reference row(s) not plotted", int(forced.sum()))
    df = df[~forced].copy()
    cache: dict[str, Display | None] = {}
    displays = [_display_of(c, cache) for c in df["method_config"]]
    keep = [d is not None for d in displays]
    if not all(keep):
        log.warning("efficiency.csv: %d row(s) without a usable method_config not plotted", keep.count(False))
    df = df[keep].copy()
    configs = [json.loads(c) for c in df["method_config"]]
    df["label"] = [d.label for d in displays if d is not None]
    df["display"] = [d for d in displays if d is not None]
    df["name"] = [str(c.get("name", "")) for c in configs]
    df["params"] = [method_params(c) for c in configs]
    return df.reset_index(drop=True)
