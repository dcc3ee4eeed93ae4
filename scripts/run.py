#!/usr/bin/env python
"""Run benchmark x method x model configurations (Hydra app).

    python scripts/run.py model=smollm2_135m method=asl benchmark=infinitebench_embedded \
        'benchmark.tasks=[infinitebench/passkey]' benchmark.num_samples=2 method.kv_budget=256 seed=0
    python scripts/run.py -m experiment=table2_embedded            # all methods (basic launcher)
    python scripts/run.py -m experiment=tau_sweep hydra/launcher=submitit_slurm model=llama31_8b_ul

Each run writes results_dir/<model>/<benchmark>/<method>-<hash>/ and resumes it when re-run.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from asl.harness.cli import fail, precheck_or_exit
from asl.harness.validation import one_line
from asl.paths import CONFIG_DIR


@hydra.main(config_path=str(CONFIG_DIR), config_name="config", version_base=None)
def main(cfg: DictConfig) -> None:
    """One run (one job of a multirun)."""
    from hydra.core.hydra_config import HydraConfig

    from asl.harness.config import cli_override_keys
    from asl.harness.experiment import run

    cli_keys = cli_override_keys(HydraConfig.get().overrides.task)
    try:
        run_dir = run(cfg, cli_keys=cli_keys)
    except (ValueError, OSError) as exc:  # HarnessError, BenchmarkError, method errors, missing files
        fail(one_line(exc), "run.py")
    print(f"run dir: {run_dir}", flush=True)


if __name__ == "__main__":
    precheck_or_exit(sys.argv[1:], "run.py")
    main()
