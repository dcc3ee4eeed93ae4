#!/usr/bin/env python
"""Reproduce the paper's Table 2 (InfiniteBench, every method) on one model and print it (Hydra app).

    python scripts/reproduce_table2.py                          # embedded SmolLM2-135M on CPU
    python scripts/reproduce_table2.py model=llama31_8b_ul      # paper setting on a GPU, beside the paper

CPU models (source embedded/tiny) use experiment=table2_embedded (calibrated embedded suite, budget 256),
the others experiment=table2 (infinitebench_paper, budget 2048); `experiment=...` picks one explicitly.
The overrides pass through to `scripts/run.py -m`. Writes results_dir/summary.csv and tables.md, and
results_dir/<model>/table2.{csv,md,tex} (results_dir = results/table2 from the experiment): accuracy with
95% intervals and n, paired differences, and the TTFT / Full column from results_dir/<model>/timing.csv
(`make bench-sharing`: an interleaved measurement on the table's prompts), never from the accuracy runs.

Results under the repository's results/ are the committed ones: they are refused from a working tree with
uncommitted code changes (allow_dirty=true overrides, and the tables then say so in bold).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from asl.allocator import configure_cuda_allocator
from asl.harness.cli import fail, precheck_or_exit
from asl.paths import CONFIG_DIR, REPO_ROOT

PROG = "reproduce_table2.py"
CPU_SOURCES = ("embedded", "tiny")


def committed(results_dir: Path) -> bool:
    """True when ``results_dir`` lies under the repository's results/ (the committed results)."""
    return (REPO_ROOT / "results").resolve() in [results_dir.resolve(), *results_dir.resolve().parents]


@hydra.main(config_path=str(CONFIG_DIR), config_name="config", version_base=None)
def main(cfg: DictConfig) -> None:
    """Run the Table 2 multirun, then build, write and print the table."""
    from hydra import compose
    from hydra.core.hydra_config import HydraConfig

    from asl.harness.config import to_plain
    from asl.harness.meta import git_state
    from asl.results.multiplicity import parse_families
    from asl.results.reader import load_runs
    from asl.results.table2 import write_table2
    from asl.results.tables import summary_rows
    from asl.results.writers import write_tables

    args = list(HydraConfig.get().overrides.task)
    if not any(a.startswith("experiment=") for a in args):
        experiment = "table2_embedded" if cfg.model.get("source") in CPU_SOURCES else "table2"
        args = [f"experiment={experiment}", *args]
    run_cfg = compose("config", overrides=args)
    model, results_dir = str(run_cfg.model.name), Path(run_cfg.results_dir)
    if committed(results_dir) and git_state().get("dirty") and not cfg.get("allow_dirty"):
        fail("the code has uncommitted changes: commit them before writing the committed results under "
             f"{results_dir}, or pass allow_dirty=true (the tables then flag the runs)", PROG)  # fmt: skip
    print(f"Table 2 on {model}: {args[0]} -> {results_dir}", flush=True)
    run_py = [sys.executable, str(REPO_ROOT / "scripts" / "run.py"), "-m", *args]
    proc = subprocess.run(run_py, cwd=REPO_ROOT, env=os.environ)  # shares this invocation's id
    if proc.returncode != 0:
        sys.exit(proc.returncode)
    baseline = str(run_cfg.tables.ratio_baseline)
    try:
        families = parse_families(to_plain(run_cfg.tables.get("families")))
        write_tables(results_dir, baseline, families)
        paths = write_table2(
            summary_rows(load_runs(results_dir)), model, results_dir / model, baseline=baseline,
            families=families,
        )  # fmt: skip
    except (ValueError, OSError) as exc:
        fail(str(exc).splitlines()[0], PROG)
    if not paths:
        fail(f"no InfiniteBench results of {model} under {results_dir}", PROG)
    print(next(p for p in paths if p.suffix == ".md").read_text())
    print("wrote " + ", ".join(str(p) for p in paths))


if __name__ == "__main__":
    configure_cuda_allocator()  # before CUDA initialises (asl/allocator.py)
    from asl.harness.meta import invocation_id

    invocation_id()
    precheck_or_exit(sys.argv[1:], PROG)
    main()
