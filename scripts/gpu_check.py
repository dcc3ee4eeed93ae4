#!/usr/bin/env python
"""`make gpu-check`: the paper-scale GPU path in one prepared run (Hydra app, configs/gpu_check.yaml).

    scripts/gpu_check.py                                   # results/gpu_check/summary.md
    scripts/gpu_check.py tokenizer_dir=.carry/smollm2_135m # a GPU machine with nothing downloaded
    scripts/gpu_check.py time_budget_s=300 'benches=[]'    # shorter

Without CUDA the CUDA sections print "no CUDA: skipped" and the CPU part still runs (under a minute).
Exit status 1 when any check FAILed (a SKIP is not a failure).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")
from asl.allocator import configure_cuda_allocator  # noqa: E402

configure_cuda_allocator()  # the one allocator setting (asl/allocator.py), before CUDA initialises

import hydra  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from asl.harness.cli import fail, precheck_or_exit  # noqa: E402
from asl.harness.validation import one_line  # noqa: E402
from asl.paths import CONFIG_DIR, REPO_ROOT  # noqa: E402

PROG = "gpu_check.py"


def check(cfg: DictConfig) -> bool:
    """Run every section; returns True when nothing failed."""
    from pathlib import Path

    import torch
    import transformers

    from asl.gpucheck import benches, e2e, tiny
    from asl.gpucheck.summary import Summary

    out = Path(cfg.out_dir) if Path(cfg.out_dir).is_absolute() else REPO_ROOT / cfg.out_dir
    summary = Summary(float(cfg.time_budget_s))
    cuda = torch.cuda.is_available()
    summary.facts.update(torch=torch.__version__, transformers=transformers.__version__, cuda=cuda)
    if cuda:
        summary.facts["gpu"] = torch.cuda.get_device_name(0)
    torch.manual_seed(0)
    for model in cfg.cpu_models:
        tiny.decode_modes(summary, "CPU: eager vs static decode", model, "cpu", "float32", cfg)
    if not cuda:
        summary.add(
            "CUDA", "SKIP", "no CUDA: skipped (tiny models on CUDA, FlashAttention-2, end-to-end run, bench)"
        )
        benches.predictions(summary, cfg, None)
        return _finish(summary, out)
    for model in cfg.tiny_models:
        for dtype in ("float32", "bfloat16"):
            tiny.decode_modes(summary, "CUDA: tiny models", model, "cuda", dtype, cfg)
    tiny.flash_attention(summary, "CUDA: FlashAttention-2", cfg.tiny_models[0], cfg)
    if summary.fits("CUDA: end to end", 60):
        e2e.end_to_end(summary, "CUDA: end to end", cfg, out)
    rates = None
    for entry in cfg.benches:
        rates = benches.run_bench(summary, "CUDA: bench", entry, list(cfg.bench_overrides), out) or rates
    benches.predictions(summary, cfg, rates)
    return _finish(summary, out)


def _finish(summary, out) -> bool:
    path = summary.write(out)
    print(path.read_text())
    print(f"wrote {path} and summary.json")
    return not summary.failed


@hydra.main(config_path=str(CONFIG_DIR), config_name="gpu_check", version_base=None)
def main(cfg: DictConfig) -> None:
    """The whole check."""
    try:
        ok = check(OmegaConf.create(OmegaConf.to_container(cfg, resolve=True)))
    except (ValueError, OSError) as exc:
        fail(one_line(exc), PROG)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    precheck_or_exit(sys.argv[1:], PROG, config_name="gpu_check")
    main()
