"""Weights & Biases logging (offline by default, files inside the run directory)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _numeric(rec: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in rec.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


class WandbLogger:
    """Thin wrapper: config at start, one ``log`` per sample, the metrics as the run summary."""

    def __init__(
        self, settings: Any, run_dir: Path, name: str, group: str, config: dict[str, Any], tags: list[str]
    ) -> None:
        self.mode = str(settings.mode)
        self.run = None
        if self.mode == "disabled":
            return
        os.environ.setdefault("WANDB_SILENT", "true")
        import wandb

        run_dir.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(
            project=settings.project,
            entity=settings.get("entity"),
            name=name,
            group=group,
            tags=tags,
            dir=str(run_dir),
            mode=self.mode,
            config=config,
            settings=wandb.Settings(console="off", x_disable_stats=True, silent=True),
        )

    def log_sample(self, step: int, record: dict[str, Any]) -> None:
        """Per-sample numeric fields (score, timings, memory, selection layer)."""
        if self.run is not None:
            self.run.log(_numeric(record), step=step)

    def summary(self, metrics: dict[str, Any]) -> None:
        """Flattened ``metrics.json`` as the run summary (``overall/accuracy``, ``task/passkey/n``...)."""
        if self.run is not None:
            self.run.summary.update(flatten(metrics))

    def finish(self, exit_code: int = 0) -> None:
        """Close the run (and the wandb service)."""
        if self.run is not None:
            import wandb

            self.run.finish(exit_code=exit_code)
            self.run = None
            wandb.teardown()  # waits for the service to flush the run files (offline runs are read right after)


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts to ``a/b/c`` keys, keeping scalars only."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, full + "/"))
        elif value is None or isinstance(value, (int, float, str, bool)):
            out[full] = value
    return out
