"""Section (4) of ``make gpu-check``: measured prefill peaks at 128K against the scale-check's figures.

Each allocator setting needs its own process (``PYTORCH_CUDA_ALLOC_CONF`` is read when CUDA initialises):
``python -m asl.gpucheck.peaks --model M --length N --methods a,b`` prints one ``PEAKS {json}`` line.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from asl.gpucheck.summary import Summary
from asl.paths import REPO_ROOT

SCALE_CHECK_CSV = REPO_ROOT / "results" / "scale_check" / "scale_check.csv"
TOLERANCE = 0.05
GIB = 2**30


def measure(model_name: str, length: int, methods: list[str]) -> list[dict[str, Any]]:
    """Prefill peaks (allocated, reserved) of each method on a random prompt of ``length`` (one token)."""
    import torch

    from asl import build_method, generate
    from asl.efficiency.settings import load_bench_model
    from asl.gpucheck.benches import bench_settings

    s = bench_settings(model_name, [])
    model, _ = load_bench_model(s)
    prompt = torch.randint(0, model.config.vocab_size, (length,), generator=torch.Generator().manual_seed(0))
    out = []
    for name in methods:
        res = generate(model, None, prompt.tolist(), build_method(name), max_new_tokens=1, ignore_eos=True)
        out.append(
            {"method": name, "allocated": res.prefill_peak_bytes, "reserved": res.prefill_peak_reserved_bytes}
        )
        torch.cuda.empty_cache()
    return out


def scale_check_figures(path: Path, model: str, length: int) -> dict[str, dict[str, float]]:
    """{method: {peak_bytes, predicted_bytes}} of the scale check's prefill rows (empty if absent)."""
    if not path.is_file():
        return {}
    with path.open() as fh:
        rows = [
            r
            for r in csv.DictReader(fh)
            if r.get("model") == model and str(r.get("context_length")) == str(length)
        ]
    return {
        r["method"]: {"peak_bytes": float(r["peak_bytes"]), "predicted_bytes": float(r["predicted_bytes"])}
        for r in rows
        if str(r.get("phase", "")).startswith("prefill")
    }


def compare(
    measured: list[dict[str, Any]], figures: dict[str, dict[str, float]], conf: str
) -> list[tuple[str, str]]:
    """(status, text) per method: the measured prefill peak within 5% of the scale-check's."""
    lines = []
    for m in measured:
        got = f"{m['allocated'] / GIB:.2f} GiB allocated, {m['reserved'] / GIB:.2f} GiB reserved"
        ref = figures.get(m["method"])
        if ref is None:
            lines.append(
                (
                    "INFO",
                    f"{conf}: {m['method']} {got}; no scale-check figure (results/scale_check/scale_check.csv)",
                )
            )
            continue
        ok = m["allocated"] <= ref["peak_bytes"] * (1 + TOLERANCE)
        lines.append(
            ("PASS" if ok else "FAIL",
             f"{conf}: {m['method']} {got}; scale check {ref['peak_bytes'] / GIB:.2f} GiB "
             f"(model {ref['predicted_bytes'] / GIB:.2f} GiB), ratio {m['allocated'] / ref['peak_bytes']:.3f}")
        )  # fmt: skip
    return lines


def peaks(summary: Summary, section: str, p: Any, csv_path: Path = SCALE_CHECK_CSV) -> None:
    """One process per allocator setting; every method's prefill peak against the scale check."""
    figures = scale_check_figures(csv_path, p.model, p.length)
    if not figures:
        summary.add(
            section, "INFO", f"{csv_path} absent or without {p.model} N={p.length}: peaks are reported only"
        )
    for conf in p.alloc_confs:
        env = dict(os.environ, PYTORCH_CUDA_ALLOC_CONF=conf, HF_HUB_OFFLINE="1")
        env.pop("PYTORCH_ALLOC_CONF", None)
        cmd = [sys.executable, "-m", "asl.gpucheck.peaks", "--model", p.model, "--length", str(p.length),
               "--methods", ",".join(p.methods)]  # fmt: skip
        try:
            proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                                  timeout=max(summary.left_s(), 30))  # fmt: skip
        except subprocess.TimeoutExpired:
            summary.add(section, "FAIL", f"{conf}: timed out")
            continue
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("PEAKS ")), None)
        if proc.returncode != 0 or line is None:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            summary.add(section, "FAIL", f"{conf}: exited {proc.returncode}: {tail[0]}")
            continue
        for status, text in compare(json.loads(line[6:]), figures, conf):
            summary.add(section, status, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--length", type=int, required=True)
    parser.add_argument("--methods", required=True)
    args = parser.parse_args()
    print("PEAKS " + json.dumps(measure(args.model, args.length, args.methods.split(","))), flush=True)


if __name__ == "__main__":
    main()
