"""asl-bench's multirun sweeper: Hydra's basic sweeper whose jobs that differ only in their method are
grouped into one shared-prefill job each when ``share_prefill`` is true (the default).

The grouping is ``asl.harness.sharing.group_jobs``; each grouped job runs its members together
(``asl.harness.shared_run``). Every launcher (basic, submitit local/Slurm) launches the grouped jobs as it
would the separate ones, so multirun over other axes (models, benchmarks, seeds) is unchanged.
"""

from __future__ import annotations

from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

from asl.harness.sharing import group_jobs


class SharedPrefillSweeper(BasicSweeper):
    """:class:`BasicSweeper` with the method axis of each job batch grouped (``share_prefill=true``)."""

    def split_arguments(self, overrides: list[Any], max_batch_size: int | None) -> list[list[list[str]]]:  # type: ignore[override]
        jobs = BasicSweeper.split_arguments(overrides, None)[0]
        if self.config is not None and bool(self.config.get("share_prefill", False)):
            jobs = group_jobs(jobs)
        if max_batch_size is None:
            return [jobs]
        return list(BasicSweeper.split_overrides_to_chunks(jobs, max_batch_size))
