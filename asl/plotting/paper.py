"""The paper's published numbers (Table 2, Table 9), for side-by-side comparison."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from asl.plotting.loading import REPO_ROOT, variant_name

log = logging.getLogger("asl.plotting")

BUNDLED = Path(__file__).with_name("paper_results.yaml")
RUNNER_TABLE2 = REPO_ROOT / "configs" / "paper" / "table2.yaml"

# Names the paper (or a runner-written file) may use for the harness' model and method names.
MODEL_ALIASES = {
    "llama": "llama31_8b_ul",
    "llama-3.1-8b-ul": "llama31_8b_ul",
    "llama31_8b_ul": "llama31_8b_ul",
    "qwen": "qwen25_7b",
    "qwen2.5-7b": "qwen25_7b",
    "qwen25_7b": "qwen25_7b",
}
METHOD_ALIASES = {
    "full kv": "fullkv",
    "full_kv": "fullkv",
    "fullkv": "fullkv",
    "snapkv": "snapkv",
    "fastkv": "fastkv",
    "asl": "asl",
    "gemfilter": "gemfilter",
    "asl_2pass": "asl_2pass",
    "fastkv_fullbefore": "fastkv_fullbefore",
    "asl_fullbefore": "asl_fullbefore",
}


@lru_cache(maxsize=1)
def _bundled() -> dict:
    return yaml.safe_load(BUNDLED.read_text()) or {}


def _normalise_table2(raw: Any) -> dict[str, dict[str, dict[str, float]]]:
    """Accept {model: {method: {task: value}}}, optionally under a 'table2' or 'models' key."""
    if isinstance(raw, dict):
        for key in ("table2", "models"):
            if isinstance(raw.get(key), dict):
                raw = raw[key]
    if not isinstance(raw, dict):
        raise ValueError("not a mapping")
    out: dict[str, dict[str, dict[str, float]]] = {}
    for model, methods in raw.items():
        if not isinstance(methods, dict):
            raise ValueError(f"model {model!r} is not a mapping")
        m_key = MODEL_ALIASES.get(str(model).lower(), str(model))
        for method, cells in methods.items():
            if not isinstance(cells, dict):
                raise ValueError(f"method {method!r} is not a mapping")
            kv_before = cells.get("kv_before")
            name = METHOD_ALIASES.get(str(method).lower(), str(method))
            name = variant_name(name, kv_before)
            vals = {str(t): float(v) for t, v in cells.items() if isinstance(v, int | float) and t != "kv_budget"}
            out.setdefault(m_key, {})[name] = vals
    return out


def paper_table2(model: str) -> tuple[dict[str, dict[str, float]], str]:
    """Paper Table 2 cells for ``model`` (method -> task -> percent) and where they came from."""
    if RUNNER_TABLE2.exists():
        try:
            table = _normalise_table2(yaml.safe_load(RUNNER_TABLE2.read_text()))
            return table.get(model, {}), str(RUNNER_TABLE2.relative_to(REPO_ROOT))
        except (yaml.YAMLError, ValueError, TypeError) as exc:
            log.warning("cannot read %s (%s); using the bundled transcription", RUNNER_TABLE2, exc)
    table = _normalise_table2(_bundled().get("table2", {}))
    return table.get(model, {}), "asl/plotting/paper_results.yaml"


def paper_table9(model: str) -> dict[str, dict[str, list[float]]]:
    """Paper Table 9 (RULER 128K) for ``model``: variant -> {tau, accuracy, ttft_ratio}."""
    return (_bundled().get("table9") or {}).get(model, {})
