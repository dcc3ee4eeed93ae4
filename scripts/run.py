#!/usr/bin/env python
"""Run benchmark x method x model configurations (Hydra app).

    python scripts/run.py model=smollm2_135m method=asl benchmark=infinitebench_embedded \
        'benchmark.tasks=[infinitebench/passkey]' benchmark.num_samples=2 method.kv_budget=256 seed=0
    python scripts/run.py -m experiment=table2_embedded            # all methods (basic launcher)
    python scripts/run.py -m experiment=tau_sweep hydra/launcher=submitit_slurm model=llama31_8b_ul
    python scripts/run.py dry_run=true                             # the plan, without loading the model
    python scripts/run.py --cfg job -m experiment=table2_embedded  # each job's config, nothing run

Each run writes results_dir/<model>/<benchmark>/<method>-<hash>/, resumes it when re-run, and prints its
per-task table (accuracy with its 95% interval, n, selection fire rate, TTFT, TPOT) at the end.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext

import hydra
from omegaconf import DictConfig

from asl.allocator import configure_cuda_allocator
from asl.harness.cli import fail, precheck_or_exit
from asl.harness.validation import one_line
from asl.paths import CONFIG_DIR

PROG = "run.py"


@hydra.main(config_path=str(CONFIG_DIR), config_name="config", version_base=None)
def main(cfg: DictConfig) -> None:
    """One run (one job of a multirun)."""
    from hydra.core.hydra_config import HydraConfig

    from asl.harness.config import cli_override_keys
    from asl.harness.jobdir import JobFolder

    hc = HydraConfig.get()
    cli_keys = cli_override_keys(hc.overrides.task)
    job = JobFolder.current()
    with job.tee() if job else nullcontext():
        if job:
            job.write_overrides(list(hc.overrides.task))
        if cfg.get("dry_run"):
            from asl.harness.group_plan import group_plan_text
            from asl.harness.plan import plan_text

            try:
                if cfg.run.get("share_group"):
                    print(group_plan_text(*member_configs(cfg, list(hc.overrides.task), hc.job.config_name)))
                else:
                    print(plan_text(cfg, cli_keys), flush=True)
            except (ValueError, OSError) as exc:
                fail(one_line(exc), PROG)
            return
        from asl.results.reader import load_run
        from asl.results.report import run_table

        experiment = hc.runtime.choices.get("experiment")
        try:
            if cfg.run.get("share_group"):
                run_dirs = list(
                    dict.fromkeys(run_group(cfg, list(hc.overrides.task), hc.job.config_name, experiment))
                )
            else:
                from asl.harness.experiment import run

                run_dirs = [run(cfg, cli_keys=cli_keys, experiment=experiment)]
        except (ValueError, OSError) as exc:  # HarnessError, BenchmarkError, method errors, missing files
            fail(one_line(exc), PROG)
        for run_dir in run_dirs:
            if job:
                job.link(run_dir, f"run-{run_dir.name}" if len(run_dirs) > 1 else None)
            print(run_table(load_run(run_dir).summary), flush=True)
            print(f"run dir: {run_dir}", flush=True)


def member_configs(cfg: DictConfig, overrides: list[str], config_name: str) -> tuple[list, list]:
    """(config, command-line keys) of each member of a shared-prefill job (``run.share_group``): what the
    member's own job would have composed."""
    from hydra import compose

    from asl.harness.config import cli_override_keys, to_plain
    from asl.harness.sharing import member_jobs

    jobs = member_jobs(overrides, to_plain(cfg.run.share_group))
    return [compose(config_name, overrides=job) for job in jobs], [cli_override_keys(job) for job in jobs]


def run_group(cfg: DictConfig, overrides: list[str], config_name: str, experiment: str | None) -> list:
    """A shared-prefill job: compose each member's own job, run them together."""
    from asl.harness.shared_run import run_shared

    cfgs, keys = member_configs(cfg, overrides, config_name)
    return run_shared(cfgs, keys, experiment=experiment)


if __name__ == "__main__":
    configure_cuda_allocator()  # before CUDA initialises (asl/allocator.py)
    from asl.harness.meta import invocation_id

    invocation_id()  # one id for this command and the jobs it starts (timings compare only within one)
    try:
        precheck_or_exit(sys.argv[1:], PROG, validate=True)
        main()
    except KeyboardInterrupt:  # the run directory is consistent: finished samples are kept, a re-run resumes
        print(f"{PROG}: interrupted (finished samples are saved; run the same command again to resume)",
              file=sys.stderr, flush=True)  # fmt: skip
        sys.exit(130)
