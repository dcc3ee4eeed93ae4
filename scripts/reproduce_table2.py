#!/usr/bin/env python
"""Reproduce the paper's Table 2 (InfiniteBench, every method) on one model and print it (Hydra app).

    python scripts/reproduce_table2.py                          # embedded SmolLM2-135M on CPU
    python scripts/reproduce_table2.py model=llama31_8b_ul      # paper setting on a GPU, beside the paper

CPU models (source embedded/tiny) use experiment=table2_embedded (calibrated embedded suite, budget 256),
the others experiment=table2 (infinitebench_paper, budget 2048); `experiment=...` picks one explicitly.
The overrides pass through to `scripts/run.py -m`. Writes results_dir/summary.csv and tables.md, and
results_dir/<model>/table2.{csv,md,tex} (results_dir = results/table2 from the experiment).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from asl.harness.cli import fail, precheck_or_exit
from asl.paths import CONFIG_DIR, REPO_ROOT

PROG = "reproduce_table2.py"
CPU_SOURCES = ("embedded", "tiny")


@hydra.main(config_path=str(CONFIG_DIR), config_name="config", version_base=None)
def main(cfg: DictConfig) -> None:
    """Run the Table 2 multirun, then build, write and print the table."""
    from hydra import compose
    from hydra.core.hydra_config import HydraConfig

    from asl.results.reader import load_runs
    from asl.results.table2 import write_table2
    from asl.results.tables import summary_rows, write_tables

    args = list(HydraConfig.get().overrides.task)
    if not any(a.startswith("experiment=") for a in args):
        experiment = "table2_embedded" if cfg.model.get("source") in CPU_SOURCES else "table2"
        args = [f"experiment={experiment}", *args]
    run_cfg = compose("config", overrides=args)
    model, results_dir = str(run_cfg.model.name), Path(run_cfg.results_dir)
    print(f"Table 2 on {model}: {args[0]} -> {results_dir}", flush=True)
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "run.py"), "-m", *args], cwd=REPO_ROOT)
    if proc.returncode != 0:
        sys.exit(proc.returncode)
    try:
        write_tables(results_dir, str(run_cfg.tables.ratio_baseline))
        paths = write_table2(summary_rows(load_runs(results_dir)), model, results_dir / model)
    except (ValueError, OSError) as exc:
        fail(str(exc).splitlines()[0], PROG)
    if not paths:
        fail(f"no InfiniteBench results of {model} under {results_dir}", PROG)
    print(next(p for p in paths if p.suffix == ".md").read_text())
    print("wrote " + ", ".join(str(p) for p in paths))


if __name__ == "__main__":
    precheck_or_exit(sys.argv[1:], PROG)
    main()
