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


SECTIONS = {
    "kernels": "(1) kernels",
    "tiny": "(2) tiny models: graph / no graph / eager",
    "decode": "(3) 8B decode profile",
    "peaks": "(4) prefill peaks vs scale check",
    "spread": "(5) device rates and TTFT spread",
    "e2e": "end to end",
}


def check(cfg: DictConfig) -> bool:
    """Run every section; returns True when nothing failed."""
    from pathlib import Path

    import torch
    import transformers

    from asl.allocator import allocator_settings
    from asl.efficiency.device import device_profile
    from asl.gpucheck import benches, tiny
    from asl.gpucheck.plan import plan_lines, time_plan
    from asl.gpucheck.summary import Summary
    from asl.methods.registry import list_methods

    out = Path(cfg.out_dir) if Path(cfg.out_dir).is_absolute() else REPO_ROOT / cfg.out_dir
    summary = Summary(float(cfg.time_budget_s))
    cuda = torch.cuda.is_available()
    summary.facts.update(torch=torch.__version__, transformers=transformers.__version__, cuda=cuda)
    summary.facts["allocator"] = allocator_settings()["alloc_conf"]
    profile = cfg.plan_profile
    if cuda:
        summary.facts["gpu"] = torch.cuda.get_device_name(0)
        profile = "h200" if "H200" in summary.facts["gpu"] else "h100"
    rates = device_profile(profile)
    plan = {p.key: p for p in time_plan(cfg, rates, len(list_methods()))}
    for line in plan_lines(list(plan.values()), rates, summary.budget_s):
        summary.add("time plan", "INFO", line.strip())
    torch.manual_seed(0)
    for model in cfg.cpu_models:
        tiny.decode_modes(summary, "CPU: eager vs static decode", model, "cpu", "float32", cfg)
    if not cuda:
        for key, title in SECTIONS.items():
            if key in plan:
                summary.add(
                    title, "SKIP", f"no CUDA: skipped (planned ~{plan[key].seconds:.0f} s on {rates.name})"
                )
        benches.predictions(summary, cfg, None)
        return _finish(summary, out)
    _cuda_sections(cfg, summary, plan, out)
    rates_seen = None
    for entry in cfg.benches:
        rates_seen = benches.run_bench(summary, "bench", entry, list(cfg.bench_overrides), out) or rates_seen
    benches.predictions(summary, cfg, rates_seen)
    return _finish(summary, out)


def _cuda_sections(cfg, summary, plan, out) -> None:
    """Sections (1)-(5) and the end-to-end run, each when its planned time fits what is left."""
    from asl.gpucheck import decode_profile, e2e, kernels, peaks, tiny

    def run(key, fn) -> None:
        title = SECTIONS[key]
        if not summary.fits(title, plan[key].seconds):
            return
        try:
            fn(title)
        except Exception as exc:  # noqa: BLE001 - a crash of one section is its FAIL line; the rest still run
            summary.add(title, "FAIL", f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}")

    run("kernels", lambda t: kernels.kernels(summary, t))

    def tiny_section(title):
        for model in cfg.tiny_models:
            for dtype in ("float32", "bfloat16"):
                tiny.decode_modes(summary, title, model, "cuda", dtype, cfg)
            tiny.forced_capture_failure(summary, title, model, cfg)
        tiny.flash_attention(summary, title, cfg.tiny_models[0], cfg)

    run("tiny", tiny_section)
    if summary.fits(SECTIONS["decode"], plan["decode"].seconds + plan["spread"].seconds):
        run(
            "decode",
            lambda t: decode_profile.decode_profile(summary, t, SECTIONS["spread"], cfg.decode_profile),
        )
    run("peaks", lambda t: peaks.peaks(summary, t, cfg.peaks))
    if "e2e" in plan:
        run("e2e", lambda t: e2e.end_to_end(summary, t, cfg, out))


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
