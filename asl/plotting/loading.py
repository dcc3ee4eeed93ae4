"""Read run directories, summary.csv and efficiency.csv into pandas frames (no model is ever loaded)."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

log = logging.getLogger("asl.plotting")

REPO_ROOT = Path(__file__).resolve().parents[2]
FULLBEFORE_BASES = ("asl", "fastkv")

SAMPLE_COLUMNS = [
    "run_dir",
    "model",
    "method",
    "method_name",
    "kv_before",
    "kv_budget",
    "tau",
    "benchmark",
    "family",
    "seed",
    "id",
    "task",
    "context_length",
    "prompt_tokens",
    "score",
    "ttft_s",
    "tpot_s",
    "peak_memory_bytes",
    "kv_cache_bytes",
    "selection_layer",
    "rel_variance",
    "depth",
    "length",
    "method_config",
    "error",
]


@dataclass
class Inputs:
    """Everything the figures read: per-sample rows, the summary table and efficiency rows."""

    samples: pd.DataFrame
    summary: pd.DataFrame
    efficiency: pd.DataFrame
    sources: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        """True when no input at all was found."""
        return self.samples.empty and self.summary.empty and self.efficiency.empty


def variant_name(method: Any, kv_before: Any) -> str:
    """Canonical method variant: asl/fastkv with kv_before=full become *_fullbefore."""
    name = str(method)
    if name in FULLBEFORE_BASES and str(kv_before) == "full":
        return f"{name}_fullbefore"
    return name


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _num(value: Any) -> float | None:
    """A float, or None for missing / non-numeric values (e.g. 'null', 'OOM')."""
    if _is_missing(value):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def read_jsonl(path: Path) -> list[dict]:
    """Parse a JSONL file, skipping (and logging) unparsable lines such as a torn last line."""
    rows: list[dict] = []
    bad = 0
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if isinstance(obj, dict):
                rows.append(obj)
    if bad:
        log.warning("skipped %d unparsable line(s) in %s", bad, path)
    return rows


def _rel_variance(raw: Any) -> dict[int, float]:
    """rel_variance with integer layer keys (JSON stores them as strings)."""
    if not isinstance(raw, dict):
        return {}
    out: dict[int, float] = {}
    for k, v in raw.items():
        val = _num(v)
        try:
            layer = int(k)
        except (TypeError, ValueError):
            continue
        if val is not None and math.isfinite(val):
            out[layer] = val
    return dict(sorted(out.items()))


def _run_rows(run_dir: Path) -> list[dict]:
    """One row per prediction of a run directory, with its resolved config attached."""
    cfg_path = run_dir / "config.yaml"
    try:
        cfg = yaml.safe_load(cfg_path.read_text()) if cfg_path.exists() else {}
    except yaml.YAMLError as exc:
        log.warning("unreadable %s (%s); run skipped", cfg_path, str(exc).splitlines()[0])
        return []
    cfg = cfg or {}
    model_cfg, method_cfg, bench_cfg = (cfg.get(k) or {} for k in ("model", "method", "benchmark"))
    method_name = method_cfg.get("name")
    if not method_name:
        log.warning("no method.name in %s; run skipped", cfg_path)
        return []
    kv_before = method_cfg.get("kv_before")
    base = {
        "run_dir": str(run_dir),
        "model": model_cfg.get("name", "unknown"),
        "method_name": method_name,
        "method": variant_name(method_name, kv_before),
        "kv_before": kv_before,
        "kv_budget": _num(method_cfg.get("kv_budget")),
        "tau": _num(method_cfg.get("tau")),
        "benchmark": bench_cfg.get("name", "unknown"),
        "family": bench_cfg.get("family", bench_cfg.get("name", "unknown")),
        "seed": cfg.get("seed"),
    }
    rows = []
    for rec in read_jsonl(run_dir / "predictions.jsonl"):
        meta = rec.get("meta") if isinstance(rec.get("meta"), dict) else {}
        sel = _num(rec.get("selection_layer"))
        row = dict(base)
        row.update(
            id=rec.get("id"),
            task=rec.get("task", "unknown"),
            context_length=_num(rec.get("context_length")),
            prompt_tokens=_num(rec.get("prompt_tokens")),
            score=_num(rec.get("score")),
            ttft_s=_num(rec.get("ttft_s")),
            tpot_s=_num(rec.get("tpot_s")),
            peak_memory_bytes=_num(rec.get("peak_memory_bytes")),
            kv_cache_bytes=_num(rec.get("kv_cache_bytes")),
            selection_layer=None if sel is None else int(sel),
            rel_variance=_rel_variance(rec.get("rel_variance")),
            depth=_num(rec.get("depth", meta.get("depth"))),
            length=_num(rec.get("length", meta.get("length"))),
            method_config=rec.get("method_config") if isinstance(rec.get("method_config"), dict) else {},
            error=rec.get("error"),
        )
        rows.append(row)
    return rows


def load_samples(results_dir: Path) -> pd.DataFrame:
    """All predictions under ``results_dir`` (recursive search for predictions.jsonl)."""
    rows: list[dict] = []
    for pred in sorted(results_dir.rglob("predictions.jsonl")):
        rows.extend(_run_rows(pred.parent))
    df = pd.DataFrame(rows, columns=SAMPLE_COLUMNS)
    if not df.empty:
        df["selection_layer"] = df["selection_layer"].astype("Int64")
    return df


def load_summary(results_dir: Path) -> pd.DataFrame:
    """results_dir/summary.csv (accuracy in percent) with a canonical ``method`` variant column, or empty."""
    path = results_dir / "summary.csv"
    if not path.exists():
        return pd.DataFrame()
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        log.warning("unreadable %s (%s); computing from run directories", path, exc)
        return pd.DataFrame()
    needed = {"model", "method", "benchmark", "task", "accuracy"}
    if not needed <= set(df.columns):
        log.warning(
            "%s lacks columns %s; computing from run directories", path, sorted(needed - set(df.columns))
        )
        return pd.DataFrame()
    if "kv_before" not in df.columns:
        df["kv_before"] = None
    df["method"] = [variant_name(m, kb) for m, kb in zip(df["method"], df["kv_before"], strict=True)]
    for col in ("context_length", "kv_budget", "tau", "accuracy", "ttft_s", "tpot_s"):
        if col in df.columns:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def load_efficiency(results_dir: Path) -> pd.DataFrame:
    """Every efficiency.csv under ``results_dir``, concatenated, with a ``method`` variant column."""
    frames = []
    for path in sorted(results_dir.rglob("efficiency.csv")):
        try:
            frames.append(pd.read_csv(path))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            log.warning("unreadable %s (%s); skipped", path, exc)
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True)
    if not {"model", "method", "context_length"} <= set(df.columns):
        log.warning("efficiency.csv lacks model/method/context_length columns; ignored")
        return pd.DataFrame()
    if "kv_before" not in df.columns:
        df["kv_before"] = None
    df["method"] = [variant_name(m, kb) for m, kb in zip(df["method"], df["kv_before"], strict=True)]
    forced = df["method"].astype(str).str.endswith("_forced")
    if forced.any():  # the monitoring-overhead reference rows (forced layer) are not a method of their own
        log.info("efficiency.csv: %d *_forced reference row(s) not plotted", int(forced.sum()))
    return df[~forced]


def load_inputs(results_dir: Path) -> Inputs:
    """Load every input found under ``results_dir``."""
    samples = load_samples(results_dir)
    summary = load_summary(results_dir)
    efficiency = load_efficiency(results_dir)
    sources = []
    if not samples.empty:
        sources.append(f"{samples['run_dir'].nunique()} run dir(s), {len(samples)} predictions")
    if not summary.empty:
        sources.append(f"summary.csv ({len(summary)} rows)")
    if not efficiency.empty:
        sources.append(f"efficiency.csv ({len(efficiency)} rows)")
    return Inputs(samples, summary, efficiency, sources)


def model_spec(model: str) -> dict:
    """configs/model/MODEL.yaml as a dict (empty when absent); read directly, nothing is loaded."""
    path = REPO_ROOT / "configs" / "model" / f"{model}.yaml"
    if not path.exists():
        return {}
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError:
        return {}


def method_default(method: str, key: str) -> Any:
    """A default from configs/method/METHOD.yaml (e.g. tau, kv_budget), or None."""
    path = REPO_ROOT / "configs" / "method" / f"{method}.yaml"
    if not path.exists():
        return None
    try:
        return (yaml.safe_load(path.read_text()) or {}).get(key)
    except yaml.YAMLError:
        return None
