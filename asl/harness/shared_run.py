"""Several runs that differ only in their method, executed over the same samples with one shared prefill.

Each sample's prompt is built once and ``generate_many`` runs the full-token layers once for every method
that still needs the sample (``asl.engine.generate``); each run then records its own result in its own
run directory, under its own lock, with the same identity, schema and resume behaviour as when it runs
alone (``Experiment``): shared and separate runs are interchangeable. A shared sample has no TTFT, TPOT or
peak memory of one method (``SampleRecord.shared_prefill`` says how many methods shared it); per-method
timings come from a timing measurement (``make bench-efficiency``, ``make bench-sharing``).
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from asl.harness.backend import Backend
from asl.harness.experiment import Experiment, _seed_everything, _warn
from asl.harness.shards import run_lock
from asl.harness.validation import one_line
from asl.results.schema import SampleRecord


def distinct_runs(experiments: list[Experiment]) -> list[Experiment]:
    """The prepared experiments with distinct run directories (a method whose swept key does not apply,
    Full KV under a tau sweep, is one run however often it is listed)."""
    seen: dict[Path, Experiment] = {}
    for exp in experiments:
        seen.setdefault(exp.run_dir, exp)
    return list(seen.values())


class SharedRun:
    """Prepared experiments over the same samples (same model, benchmark and seed), run together."""

    def __init__(self, experiments: list[Experiment]) -> None:
        self.members = experiments
        self.runs = distinct_runs(experiments)

    def execute(self) -> list[Path]:
        """Run every sample some run still needs; each member's run directory, in the members' order (a
        repeated configuration repeats its directory)."""
        pending = [e for e in self.runs if not e.finished()]
        for exp in self.runs:
            if exp not in pending:
                print(f"complete: {exp.run_dir}, nothing to recompute", file=sys.stderr)
        if not pending:
            return [e.run_dir for e in self.members]
        if len(pending) == 1 or not self._shareable(pending):
            for exp in pending:
                exp.execute()
        else:
            self._execute(pending)
        return [e.run_dir for e in self.members]

    @staticmethod
    def _shareable(runs: list[Experiment]) -> bool:
        """Same model object and the same samples in the same order (else each runs alone, with a warning)."""
        lead = runs[0]
        keys = [lead._key(x) for x in lead.examples]
        same = all(e.model is lead.model and [e._key(x) for x in e.examples] == keys for e in runs[1:])
        if not same:
            _warn("shared prefill: these runs differ in model or samples; each runs on its own")
        return same and lead.backend.generate_many is not None

    def _execute(self, pending: list[Experiment]) -> None:
        with ExitStack() as stack:
            for exp in pending:
                stack.enter_context(run_lock(exp.run_dir, exp.shard, wait=exp._run_flag("wait_for_lock")))
            todos = [exp.begin() for exp in pending]
            active = [
                (e, {e._key(x) for x in todo})
                for e, todo in zip(pending, todos, strict=True)
                if todo is not None
            ]
            if not active:
                return
            status = "interrupted"
            try:
                self._loop(active)
                self._log(active)
                status = "complete"
            finally:
                for exp, _ in active:
                    exp.close(status)

    def _loop(self, active: list[tuple[Experiment, set[str]]]) -> None:
        from tqdm import tqdm

        lead = active[0][0]
        order = [x for x in lead.examples if any(lead._key(x) in keys for _, keys in active)]
        names = ", ".join(e.method.name for e, _ in active)
        print(f"shared prefill: {len(active)} runs ({names}) over {len(order)} samples", file=sys.stderr)
        bar = tqdm(total=len(order), desc=f"{len(active)} methods {lead.bench.get('name')}",
                   disable=not lead.cfg.run.get("progress", True), file=sys.stderr, dynamic_ncols=True)  # fmt: skip
        for example in order:
            members = [e for e, keys in active if lead._key(example) in keys]
            for exp, rec in zip(members, shared_sample(members, example), strict=True):
                exp.add_record(rec)
            bar.update(1)
        bar.close()

    @staticmethod
    def _log(active: list[tuple[Experiment, set[str]]]) -> None:
        """metrics.json of each run, then its W&B run (one at a time: its samples, then its results)."""
        for exp, keys in active:
            summary = exp._write_summary()
            logger = exp._logger(exp.meta["wandb_id"])
            start = len(exp.records) - len(keys)
            new = [r for r in exp.records.values() if r.key in keys]
            for step, rec in enumerate(new, start=start):
                logger.log_sample(step, rec)
            logger.log_results(summary, list(exp.records.values()), exp.run_dir)
            logger.finish(0)


def shared_sample(members: list[Experiment], example: Any) -> list[SampleRecord]:
    """One record per member for ``example``, from one ``generate_many`` call; when the shared call fails,
    each member runs the sample alone (and records its own error, as a separate run would)."""
    lead = members[0]
    records = [e._new_record(example) for e in members]
    try:
        ids, info = lead._prompt(example)
        for exp, rec in zip(members, records, strict=True):
            exp._warned_short = exp._warned_short or lead._warned_short  # one short-prompt warning per job
            exp._set_prompt(rec, example, ids, info)
            exp._warn_budget(ids, example)
        _seed_everything(lead.seed)
        results = lead.backend.generate_many(lead.model, lead.tokenizer, ids, [e.method for e in members],
                                             **lead._generate_kwargs(records[0]))  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - the separate runs below record each method's own outcome
        _warn(f"shared prefill of {records[0].task}/{records[0].id} failed ({type(exc).__name__}: "
              f"{one_line(exc)}); its {len(members)} methods run one at a time")  # fmt: skip
        return [exp._sample(example) for exp in members]
    for exp, rec, res in zip(members, records, results, strict=True):
        try:
            exp._complete_record(rec, example, res)
        except Exception as exc:  # noqa: BLE001 - a failing sample is recorded and the run goes on
            exp._record_failure(rec, exc)
    return records


def run_shared(
    cfgs: list[DictConfig],
    cli_keys: list[set[str]],
    backend: Backend | None = None,
    experiment: str | None = None,
) -> list[Path]:
    """Validate every member (all before any runs), then execute them together; each member's run
    directory, in order."""
    experiments = [
        Experiment(cfg, backend, keys, experiment) for cfg, keys in zip(cfgs, cli_keys, strict=True)
    ]
    for index, exp in enumerate(experiments):
        exp.prepare(experiments[0] if index else None)  # the samples are generated once
    return SharedRun(experiments).execute()
