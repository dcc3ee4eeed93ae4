#!/usr/bin/env python
"""TTFT / TPOT / memory / KV-size benchmark of the pruning methods (methods.md §10), a Hydra app.

Defaults live in configs/bench.yaml (per model: a profile of lengths, budgets, warm-ups, repeats and decode
steps); overrides change them. Outputs go to results/efficiency/<model>[-random]/.

    scripts/bench_efficiency.py                                  # embedded SmolLM2 on CPU, 1k-7.5k
    scripts/bench_efficiency.py model=llama31_8b_ul              # random-weight Llama-3.1-8B (GPU)
    scripts/bench_efficiency.py model=tiny_llama                 # seconds (the tests)
    scripts/bench_efficiency.py rebuild=results/efficiency/smollm2_135m   # reports from runs.jsonl
    scripts/bench_efficiency.py predict=true model=llama31_8b_ul  # cost/memory model at 128K-1M on an H200
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from asl.allocator import configure_cuda_allocator
from asl.harness.cli import fail, precheck_or_exit
from asl.harness.validation import one_line
from asl.paths import CONFIG_DIR

PROG = "bench_efficiency.py"


@hydra.main(config_path=str(CONFIG_DIR), config_name="bench", version_base=None)
def main(cfg: DictConfig) -> None:
    """Run the benchmark described by the composed config (or rebuild a report)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", force=True)
    try:
        if cfg.rebuild:
            from asl.efficiency.rebuild import rebuild

            out = Path(cfg.rebuild)
            if not (out / "runs.jsonl").is_file():
                fail(f"rebuild={out}: no runs.jsonl there", PROG)
            rebuild(out)
            print((out / "efficiency.md").read_text())
            return
        from asl.efficiency.bench import run
        from asl.efficiency.settings import settings_from_config

        settings = settings_from_config(OmegaConf.to_container(cfg, resolve=True))
        if cfg.predict:
            from asl.efficiency.predict import predict_only

            out = predict_only(settings)
            print((out / "predict.md").read_text())
            print(f"wrote {out}/predict.md, predict.csv")
            return
        rows, out = run(settings)
    except (ValueError, OSError) as exc:
        fail(one_line(exc), PROG)
    print((out / "efficiency.md").read_text())
    print(f"wrote {out}/efficiency.csv, efficiency.md, meta.json ({len(rows)} rows)")


if __name__ == "__main__":
    configure_cuda_allocator()  # before CUDA initialises (asl/allocator.py)
    precheck_or_exit(sys.argv[1:], PROG, config_name="bench")
    main()
