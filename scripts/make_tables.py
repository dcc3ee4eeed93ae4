#!/usr/bin/env python
"""Rebuild the tables of the runs under results_dir, without the model (Hydra app).

    python scripts/make_tables.py results_dir=results/table2

Writes results_dir/summary.csv and results_dir/tables.md from the runs and prints the Markdown: accuracy
with its 95% interval and n per row, paired differences to tables.ratio_baseline (configs/config.yaml) and
to each method's nearest rival, selection fire rates, and TTFT/TPOT ratios between runs timed in the same
invocation. Runs of different n are never merged into one cell (exit 2 naming them).
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from asl.harness.cli import fail, precheck_or_exit
from asl.paths import CONFIG_DIR

PROG = "make_tables.py"


@hydra.main(config_path=str(CONFIG_DIR), config_name="config", version_base=None)
def main(cfg: DictConfig) -> None:
    """Write summary.csv and tables.md."""
    from asl.results.writers import write_tables

    try:
        csv_path, md_path, md = write_tables(cfg.results_dir, str(cfg.tables.ratio_baseline))
    except (ValueError, OSError) as exc:
        fail(str(exc).splitlines()[0], PROG)
    print(md)
    print(f"wrote {csv_path} and {md_path}")


if __name__ == "__main__":
    precheck_or_exit(sys.argv[1:], PROG)
    main()
