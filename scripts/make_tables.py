#!/usr/bin/env python
"""Rebuild tables from the run directories under results_dir, without the model.

    python scripts/make_tables.py results_dir=results/table2/smollm2_135m

Writes results_dir/summary.csv and results_dir/tables.md and prints the Markdown.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from asl.harness.cli import CONFIG_DIR, fail, precheck_or_exit  # noqa: E402


@hydra.main(config_path=str(CONFIG_DIR), config_name="config", version_base=None)
def main(cfg: DictConfig) -> None:
    """Write summary.csv and tables.md."""
    from asl.harness.tables import find_runs, write_tables

    results_dir = Path(cfg.results_dir)
    if not find_runs(results_dir):
        fail(f"no run directories under {results_dir}", "make_tables.py")
    csv_path, md_path, md = write_tables(results_dir, str(cfg.tables.ratio_baseline))
    print(md)
    print(f"wrote {csv_path} and {md_path}")


if __name__ == "__main__":
    precheck_or_exit(sys.argv[1:], "make_tables.py")
    main()
