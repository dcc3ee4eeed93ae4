"""Aggregation helpers: a summary table from samples, sweep slicing, ratios to FullKV."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from asl.plotting.loading import Inputs, method_default

log = logging.getLogger("asl.plotting")

GROUP_KEYS = ["model", "method", "benchmark", "task", "context_length", "kv_budget", "tau"]


def summarize_samples(samples: pd.DataFrame) -> pd.DataFrame:
    """Per-cell means of the sample rows, in the summary.csv layout (accuracy in percent, memory in GiB)."""
    if samples.empty:
        return pd.DataFrame()
    df = samples.copy()
    failed = df["error"].notna() & (df["error"].astype(str) != "")
    for col in ("score", "ttft_s", "tpot_s", "peak_memory_bytes", "kv_cache_bytes"):
        df.loc[failed, col] = np.nan  # errored samples count in n only, as in make_tables
    df["peak_memory_gb"] = df["peak_memory_bytes"] / 2**30
    df["kv_cache_gb"] = df["kv_cache_bytes"] / 2**30
    df["selection_layer_f"] = df["selection_layer"].astype("Float64").astype(float)
    df["kv_before"] = df["kv_before"].fillna("")
    keys = GROUP_KEYS + ["kv_before", "family"]
    filled = df[keys].astype(object).where(df[keys].notna(), "__na__")
    df[keys] = filled
    out = (
        df.groupby(keys, dropna=False, sort=True)
        .agg(
            n=("id", "size"),
            accuracy=("score", "mean"),
            ttft_s=("ttft_s", "mean"),
            tpot_s=("tpot_s", "mean"),
            peak_memory_gb=("peak_memory_gb", "mean"),
            kv_cache_gb=("kv_cache_gb", "mean"),
            selection_layer_mean=("selection_layer_f", "mean"),
        )
        .reset_index()
    )
    out = out.replace("__na__", np.nan)
    out["accuracy"] = out["accuracy"].astype(float) * 100.0
    for col in ("context_length", "kv_budget", "tau"):
        out[col] = pd.to_numeric(out[col], errors="coerce")
    return out


def summary_table(inputs: Inputs) -> pd.DataFrame:
    """summary.csv when present, else the same table computed from the run directories."""
    if not inputs.summary.empty:
        return inputs.summary
    return summarize_samples(inputs.samples)


def fixed_value(values: pd.Series, preferred: float | None, what: str) -> float | None:
    """The value a sweep is held at: ``preferred`` when present in ``values``, else the most common one."""
    vals = pd.to_numeric(values, errors="coerce").dropna()
    if vals.empty:
        return None
    if preferred is not None and np.isclose(vals, preferred).any():
        return float(preferred)
    mode = float(vals.mode().iloc[0])
    log.info("%s: default %s not present, holding it at %g", what, preferred, mode)
    return mode


def hold(df: pd.DataFrame, column: str, value: float | None) -> pd.DataFrame:
    """Rows whose ``column`` equals ``value`` or is missing (methods without that hyper-parameter)."""
    if value is None or column not in df.columns:
        return df
    col = pd.to_numeric(df[column], errors="coerce")
    return df[col.isna() | np.isclose(col.fillna(-1.0), value)]


def default_budget() -> float:
    """The default KV budget from configs/method/asl.yaml (2048)."""
    return float(method_default("asl", "kv_budget") or 2048)


def default_tau() -> float:
    """The default tau from configs/method/asl.yaml (0.3)."""
    return float(method_default("asl", "tau") or 0.3)


def cell_ratio(df: pd.DataFrame, ref: pd.DataFrame, value: str, keys: list[str]) -> float | None:
    """Mean over shared cells (``keys``) of df[value] / ref[value]; None when no cell is shared."""
    a = df.groupby(keys)[value].mean()
    b = ref.groupby(keys)[value].mean()
    both = pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner").dropna()
    both = both[both["b"] > 0]
    if both.empty:
        return None
    return float((both["a"] / both["b"]).mean())


def task_mean_accuracy(df: pd.DataFrame) -> float:
    """Accuracy averaged per task first, then over tasks (the paper's averaging)."""
    return float(df.groupby("task")["accuracy"].mean().mean())
