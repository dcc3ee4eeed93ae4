#!/usr/bin/env python
"""Rebuild the tables of the runs under results_dir, without the model (Hydra app).

    python scripts/make_tables.py results_dir=results/table2
    python scripts/make_tables.py experiment=tau_sweep     # that experiment's comparison families

Writes results_dir/summary.csv and results_dir/tables.md from the runs and prints the Markdown: accuracy
with its 95% interval and n per row, paired differences in the comparison families the experiment declares
(tables.families, Holm-adjusted; configs/config.yaml's default: each method vs tables.ratio_baseline) and
to each method's nearest rival (exploratory), selection fire rates, and TTFT/TPOT ratios between runs timed in the same
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
    from asl.harness.config import to_plain
    from asl.results.multiplicity import parse_families
    from asl.results.writers import write_tables

    try:
        families = parse_families(to_plain(cfg.tables.get("families")))
        select = to_plain(cfg.tables.get("select"))
        csv_path, md_path, md = write_tables(
            cfg.results_dir, str(cfg.tables.ratio_baseline), families, select
        )
    except (ValueError, OSError) as exc:
        fail(str(exc).splitlines()[0], PROG)
    print(md)
    print(f"wrote {csv_path} and {md_path}")


if __name__ == "__main__":
    precheck_or_exit(sys.argv[1:], PROG)
    main()
