#!/usr/bin/env python
"""Paper figures and Table 2 from results, without the model (Hydra app).

    python scripts/plot.py                                    # everything under results/
    python scripts/plot.py results_dir=results/table2 model=smollm2_135m figures_dir=/tmp/figures

Reads the runs (metrics.json, predictions.jsonl) and efficiency.csv files under results_dir and writes PNG
+ PDF figures and table2.{csv,md,tex} under figures_dir/<model>/ (default results_dir/figures); `model=`
on the command line draws that model only. Ratios are taken to tables.ratio_baseline.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from asl.harness.cli import fail, precheck_or_exit
from asl.paths import CONFIG_DIR

PROG = "plot.py"


@hydra.main(config_path=str(CONFIG_DIR), config_name="config", version_base=None)
def main(cfg: DictConfig) -> None:
    """Draw every figure found under results_dir."""
    from hydra.core.hydra_config import HydraConfig

    from asl.harness.config import cli_override_keys
    from asl.plotting import PlotError, draw_figures

    logging.getLogger().setLevel(logging.WARNING)  # Hydra's job logging is INFO: keep libraries quiet
    logging.getLogger("asl.plotting").setLevel(logging.INFO)
    model = str(cfg.model.name) if "model" in cli_override_keys(HydraConfig.get().overrides.task) else None
    figures_dir = Path(cfg.figures_dir) if cfg.get("figures_dir") else None
    try:
        draw_figures(Path(cfg.results_dir), figures_dir, model, str(cfg.tables.ratio_baseline))
    except PlotError as exc:
        fail(str(exc), PROG)


if __name__ == "__main__":
    precheck_or_exit(sys.argv[1:], PROG)
    main()
