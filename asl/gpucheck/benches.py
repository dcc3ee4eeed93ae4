"""The efficiency bench of the paper models (random weights, bf16) with the floors, and the predictions."""

from __future__ import annotations

import dataclasses
import gc
import json
import math
from pathlib import Path
from typing import Any

from asl.efficiency.device import DeviceRates
from asl.efficiency.report_floors import floor_goals
from asl.gpucheck.summary import Summary

GIB = 2**30
MODEL_BUILD_S = 30.0  # random init of an 8B model on the GPU, and the device-rate measurement


def bench_settings(model: str, overrides: list[str]) -> Any:
    """configs/bench.yaml composed for ``model`` with ``overrides`` (as scripts/bench_efficiency.py does)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from asl.efficiency.settings import settings_from_config
    from asl.paths import CONFIG_DIR

    overrides = [f"model={model}", *overrides]
    if GlobalHydra.instance().is_initialized():  # inside scripts/gpu_check.py (same config directory)
        cfg = compose("bench", overrides=overrides)
    else:
        with initialize_config_dir(str(CONFIG_DIR), version_base=None):
            cfg = compose("bench", overrides=overrides)
    return settings_from_config(OmegaConf.to_container(cfg, resolve=True))


def estimate_s(s: Any, rates: DeviceRates) -> float:
    """Expected seconds of a bench run: every configuration's (warm-ups + repeats) runs at every length."""
    from asl.efficiency.predict import predict_rows, reference_inputs

    f = reference_inputs(s)
    f = dataclasses.replace(f, rates=rates)
    rows = predict_rows(s, f, list(s.lengths))
    runs = max(1, s.warmups) + s.repeats
    per_run = [p["ttft_expected_s"] + 3 * s.decode_steps * p["tpot_floor_s"] for p in rows]
    return MODEL_BUILD_S + runs * sum(per_run)


def _f(v: Any, scale: float = 1.0, digits: int = 2) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v * scale:.{digits}f}"


def bench_table(rows: list[dict]) -> list[str]:
    """The summary's bench table: times against their floors, KV and per-phase peaks (GiB)."""
    out = [
        "| N | method | TTFT s | TTFT/floor | TTFT/Full | TPOT ms | TPOT floor ms | TPOT/floor | TPOT/Full | KV GiB "
        "| prefill peak GiB | decode peak GiB | predicted GiB | graph |",
        "|" + "---|" * 14,
    ]
    for r in rows:
        out.append(
            f"| {r['context_length']} | {r['method']} | {_f(r['ttft_s'])} | {_f(r.get('ttft_over_floor'))} "
            f"| {_f(r.get('ttft_ratio_vs_fullkv'))} | {_f(r['tpot_s'], 1e3)} | {_f(r.get('tpot_floor_s'), 1e3)} "
            f"| {_f(r.get('tpot_over_floor'))} | {_f(r.get('tpot_ratio_vs_fullkv'))} | {_f(r['kv_cache_bytes'], 1 / GIB)} "
            f"| {_f(r.get('prefill_peak_bytes'), 1 / GIB)} | {_f(r.get('decode_peak_bytes'), 1 / GIB)} "
            f"| {_f(r.get('peak_predicted_bytes'), 1 / GIB)} | {r.get('decode_graph')} |"
        )
    return out


def run_bench(
    summary: Summary, section: str, entry: Any, overrides: list[str], out_dir: Path
) -> DeviceRates | None:
    """One bench entry (model + lengths); its table and issue 11's goals go into the summary."""
    from asl.efficiency.bench import run

    lengths = ",".join(str(n) for n in entry["lengths"])
    s = bench_settings(
        entry["model"], [*overrides, f"lengths=[{lengths}]", f"out_dir={out_dir / entry['model']}"]
    )
    assumed = DeviceRates.from_dict(s.reference_device)
    if not summary.fits(f"{section} {entry['model']}", estimate_s(s, assumed)):
        return None
    try:
        rows, out = run(s)
    except Exception as exc:  # noqa: BLE001 - an OOM or kernel error is a finding
        summary.add(
            section, "FAIL", f"{entry['model']} N={lengths}: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        )
        return None
    finally:
        gc.collect()
    meta = json.loads((out / "meta.json").read_text())
    kv_ok = all(r["kv_bytes_ok"] and r["kv_lengths_ok"] for r in rows)
    summary.add(
        section,
        "PASS" if kv_ok else "FAIL",
        f"{entry['model']} N={lengths}: {len(rows)} rows, KV bytes exact: {kv_ok}",
    )
    for goal, ok, detail in floor_goals(rows, meta):
        summary.add(
            section,
            "INFO",
            f"{entry['model']} goal {'met' if ok else 'MISSED' if ok is False else 'n/a'}: {goal}: {detail}",
        )
    summary.tables[f"Bench {entry['model']} ({meta['device']})"] = bench_table(rows)
    return DeviceRates.from_dict({"source": "measured", **meta["device_rates"]})


def predictions(summary: Summary, cfg: Any, rates: DeviceRates | None) -> None:
    """The predict table (TTFT / TPOT floors, KV, peaks, fits) for the paper models at the long lengths."""
    from asl.efficiency.predict import clip_lengths, predict_markdown, predict_rows, reference_inputs

    for model in cfg.predict_models:
        s = bench_settings(model, [])
        f = reference_inputs(s)
        if rates is not None:
            f = dataclasses.replace(f, rates=rates)
        lengths, notes = clip_lengths(s, list(cfg.predict_lengths))
        rows = predict_rows(s, f, lengths)
        misfits = [f"{p['method']}@{p['context_length']}" for p in rows if p["fits"] is False]
        summary.add(
            "predictions",
            "INFO",
            f"{model} on {f.rates.name} ({f.rates.source}): does not fit: {', '.join(misfits) or 'none'}",
        )
        summary.tables[f"Predicted: {model} on {f.rates.name} ({f.rates.source})"] = predict_markdown(
            rows, f, "", notes
        )[2:]
