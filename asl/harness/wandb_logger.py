"""Weights & Biases logging (offline by default, files inside the run directory).

One W&B run per run directory: its id is kept in ``run_meta.json`` so a resumed run continues the same W&B
run. Per sample, the numbers go to the history under ``sample/`` (kept out of the summary); at the end
the summary holds the run's aggregates only (``overall/accuracy``, ``task/<task>/accuracy_lo``...), and
two tables (every sample; the per-task summary) and the run's figures are logged.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from asl.results.report import run_table_rows
from asl.results.schema import CellSummary, RunSummary, SampleRecord

SAMPLE_NUMBERS = ("score", "ttft_s", "tpot_s", "prompt_tokens", "generated_tokens", "peak_memory_bytes",
                  "kv_cache_bytes", "selection_layer")  # fmt: skip
SAMPLE_COLUMNS = ["id", "task", "context_length", "depth", "prediction", "answers", "score", "selection_layer",
                  "selection_fired", "rho_trace", "ttft_s", "tpot_s", "error"]  # fmt: skip
CELL_KEYS = ("n", "n_errors", "accuracy", "accuracy_lo", "accuracy_hi", "selection_fired", "selection_n",
             "selection_layer_mean", "ttft_s", "tpot_s", "peak_memory_gb", "kv_cache_gb", "prompt_tokens")  # fmt: skip


def new_run_id() -> str:
    """A fresh W&B run id (8 lowercase hex characters)."""
    return uuid.uuid4().hex[:8]


def run_name(method: str, model: str, benchmark: str, run_hash: str) -> str:
    """``asl-smollm2_135m-infinitebench_embedded-7aa943d847``."""
    return f"{method}-{model}-{benchmark}-{run_hash}"


def sample_row(rec: SampleRecord) -> list[Any]:
    """One row of the per-sample table (``SAMPLE_COLUMNS``)."""
    trace = " ".join(f"{k}:{v:.3g}" for k, v in sorted(rec.rel_variance.items(), key=lambda kv: int(kv[0])))
    return [rec.id, rec.task, rec.context_length, rec.meta.get("depth"), rec.prediction,
            " | ".join(map(str, rec.answers)), rec.score, rec.selection_layer, rec.selection_fired, trace,
            rec.ttft_s, rec.tpot_s, rec.error]  # fmt: skip


def _cell(cell: CellSummary) -> dict[str, Any]:
    return {k: getattr(cell, k) for k in CELL_KEYS if getattr(cell, k) is not None}


def summary_metrics(summary: RunSummary) -> dict[str, Any]:
    """The W&B summary of a run: its aggregates under clean keys, nothing per sample."""
    out: dict[str, Any] = {f"overall/{k}": v for k, v in _cell(summary.overall).items()}
    for cell in summary.tasks:
        out.update({f"task/{cell.task}/{k}": v for k, v in _cell(cell).items()})
    for key in ("task_mean", "task_mean_lo", "task_mean_hi"):
        if getattr(summary, key) is not None:
            out[key] = getattr(summary, key)
    out.update(complete=summary.complete, n_expected=summary.n_expected, revision=summary.revision)
    return out


def logger_for(settings: Any, config: dict[str, Any], method: str, model: str, benchmark: str, run_dir: Path,
               experiment: str | None, run_id: str) -> WandbLogger:  # fmt: skip
    """A run's logger: named method-model-benchmark-hash, grouped by experiment (else model/benchmark)."""
    name = run_name(method, model, benchmark, run_dir.name.rsplit("-", 1)[-1])
    group = experiment or f"{model}/{benchmark}"
    tags = [model, method, benchmark, *([experiment] if experiment else [])]
    return WandbLogger(settings, run_dir, name, group, {**config, "run_dir": str(run_dir)}, tags, run_id)


class WandbLogger:
    """Config at start, one history row per sample, summary + tables + figures at the end."""

    def __init__(
        self,
        settings: Any,
        run_dir: Path,
        name: str,
        group: str,
        config: dict[str, Any],
        tags: list[str],
        run_id: str | None = None,
    ) -> None:
        self.mode = str(settings.mode)
        self.figures = bool(settings.get("figures", True))
        self.run = None
        if self.mode == "disabled":
            return
        os.environ.setdefault("WANDB_SILENT", "true")
        import wandb

        run_dir.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(
            project=settings.project,
            entity=settings.get("entity"),
            id=run_id,
            resume="allow",
            name=name,
            group=group,
            tags=tags,
            dir=str(run_dir),
            mode=self.mode,
            config=config,
            settings=wandb.Settings(console="off", x_disable_stats=True, silent=True),
        )
        self.run.define_metric("sample/*", summary="none")

    def log_sample(self, step: int, record: SampleRecord) -> None:
        """The sample's numbers (score, timings, memory, selection) as one history row."""
        if self.run is None:
            return
        row = {f"sample/{k}": getattr(record, k) for k in SAMPLE_NUMBERS if getattr(record, k) is not None}
        if record.selection_fired is not None:
            row["sample/selection_fired"] = int(record.selection_fired)
        self.run.log(row, step=step)

    def log_results(self, summary: RunSummary, records: Iterable[SampleRecord], run_dir: Path) -> None:
        """Summary metrics, the per-sample and per-task tables and the run's figures."""
        if self.run is None:
            return
        try:
            self._log_results(summary, list(records), run_dir)
        except Exception as exc:  # noqa: BLE001 - W&B trouble must never fail a finished run
            print(f"warning: W&B results not logged: {type(exc).__name__}: {exc}", file=sys.stderr)

    def _log_results(self, summary: RunSummary, records: list[SampleRecord], run_dir: Path) -> None:
        import wandb

        self.run.summary.update(summary_metrics(summary))
        rows = run_table_rows(summary)
        tables = {
            "samples": wandb.Table(columns=SAMPLE_COLUMNS, data=[sample_row(r) for r in records]),
            "summary_table": wandb.Table(columns=list(rows[0]), data=[list(r.values()) for r in rows]),
        }
        self.run.log(tables)
        if self.figures:
            self._log_figures(run_dir)

    def _log_figures(self, run_dir: Path) -> None:
        import wandb

        from asl.plotting.figures import run_figures

        quiet = [logging.getLogger(name) for name in ("asl.plotting", "fontTools", "matplotlib")]
        levels = [log.level for log in quiet]
        for log in quiet:
            log.setLevel(logging.WARNING)  # the run's console is for the run, not the figure files
        try:
            with tempfile.TemporaryDirectory() as tmp:
                pngs = [p for p in run_figures(run_dir, Path(tmp)) if p.suffix == ".png"]
                if pngs:
                    self.run.log({f"figures/{p.stem}": wandb.Image(str(p)) for p in pngs})
        finally:
            for log, level in zip(quiet, levels, strict=True):
                log.setLevel(level)

    def finish(self, exit_code: int = 0) -> None:
        """Close the run (and the wandb service)."""
        if self.run is not None:
            import wandb

            self.run.finish(exit_code=exit_code)
            self.run = None
            wandb.teardown()  # waits for the service to flush the run files (offline runs are read right after)
