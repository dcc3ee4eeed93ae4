"""One run: validate, load, then generate and score each sample with resume, logging and metrics."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from asl.harness.backend import Backend, default_backend, load_cached
from asl.harness.config import (
    effective_method,
    identity,
    method_kwargs,
    resolve_layers,
    run_dir_for,
    to_plain,
)
from asl.harness.meta import now_iso, run_meta
from asl.harness.metrics import compute_metrics
from asl.harness.store import PredictionStore, atomic_write_json, atomic_write_text, sample_key
from asl.harness.validation import HarnessError, one_line, validate_run
from asl.harness.wandb_log import WandbLogger


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed(seed % 2**32)


def _field(obj: Any, name: str, default: Any = None) -> Any:
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


def _base_record(example: Any, prediction: str, **extra: Any) -> dict[str, Any]:
    if hasattr(example, "record"):
        return example.record(prediction, **extra)
    rec = {k: v for k, v in example.to_dict().items() if k != "context"}
    rec["prediction"] = prediction
    rec.update(extra)
    return rec


def _context_length(example: Any, bench: dict[str, Any]) -> int | None:
    meta = _field(example, "meta") or {}
    length = meta.get("length", meta.get("context_length"))
    if length is None and not isinstance(bench.get("context_length"), (list, tuple)):
        length = bench.get("context_length")
    return None if length is None else int(length)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr, flush=True)


class Run:
    """A configured run; :meth:`prepare` validates everything, :meth:`execute` writes the run directory."""

    def __init__(
        self, cfg: DictConfig, backend: Backend | None = None, cli_keys: set[str] | None = None
    ) -> None:
        self.cfg = cfg
        self._backend = backend
        self.method_cfg = effective_method(cfg, cli_keys)
        self.bench = dict(to_plain(cfg.benchmark))
        self.seed = int(cfg.seed)
        self._warned_budget = False

    @property
    def backend(self) -> Backend:
        """The given backend, else the real engine and benchmarks (imported on first use)."""
        if self._backend is None:
            self._backend = default_backend()
        return self._backend

    # -- validation (nothing is written here) -------------------------------------------------
    def prepare(self) -> Path:
        """Validate config, method, model and data; return the run directory (not yet created)."""
        cfg = self.cfg
        validate_run(cfg)
        be = self.backend
        num_layers = cfg.model.get("num_layers")
        try:
            self.method = be.build_method(
                self.method_cfg["name"], num_layers=num_layers, **method_kwargs(self.method_cfg)
            )
        except (ValueError, TypeError) as exc:
            raise HarnessError(one_line(exc)) from exc
        layer_defaults = dict(to_plain(cfg.model.get("method_defaults")) or {})
        self.ident = identity(cfg, resolve_layers(self.method_cfg, layer_defaults))
        self.run_dir = run_dir_for(cfg.results_dir, self.ident)
        self.model, self.tokenizer = load_cached(be, str(cfg.model.name), cfg.get("device"), cfg.get("dtype"))
        self.examples = list(be.load_examples(self.bench, self.tokenizer, self.seed))
        if not self.examples:
            raise HarnessError(
                f"benchmark {self.bench.get('name')}: no examples for tasks {self.bench.get('tasks')}"
            )
        self.profile = self.bench.get("profile", "chat")
        self._prompt(self.examples[0])  # prompt-building errors surface before the run dir exists
        return self.run_dir

    def _prompt(self, example: Any) -> tuple[list[int], dict]:
        ids, info = self.backend.build_prompt_ids(
            example, self.tokenizer, self.profile, (_field(example, "meta") or {}).get("max_prompt_tokens")
        )
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        budget = self.method_cfg.get("kv_budget")
        if budget is not None and budget >= len(ids) and not self._warned_budget:
            self._warned_budget = True
            _warn(
                f"{self.method_cfg['name']}: kv_budget {budget} >= prompt length {len(ids)} "
                f"({_field(example, 'task')}/{_field(example, 'id')}): this equals FullKV"
            )
        return ids, info

    # -- execution -------------------------------------------------------------------------------
    def _write_config(self) -> None:
        data = OmegaConf.to_container(self.cfg, resolve=True)
        data["method"] = self.method_cfg
        data["run_identity"] = self.ident
        resolved = getattr(self.method, "resolved_for", None)
        if callable(resolved):
            try:
                data["resolved_method"] = resolved(self.model).to_dict()
            except Exception as exc:  # noqa: BLE001 - informational only
                _warn(f"could not resolve method layers up front: {one_line(exc)}")
        atomic_write_text(self.run_dir / "config.yaml", OmegaConf.to_yaml(OmegaConf.create(data)))

    def _sample(self, example: Any, logger: WandbLogger, step: int) -> dict[str, Any]:
        gen = self.cfg.get("generation") or {}
        max_new = _field(example, "max_new_tokens") or 32  # capped by benchmark.max_new_tokens in eval
        extra: dict[str, Any] = {
            "context_length": _context_length(example, self.bench),
            "prompt_tokens": None,
            "score": None,
            "error": None,
            "max_new_tokens": int(max_new),
        }
        for name in (
            "ttft_s",
            "tpot_s",
            "peak_memory_bytes",
            "peak_memory_kind",
            "kv_cache_bytes",
            "selection_layer",
        ):
            extra[name] = None
        extra["rel_variance"] = {}
        prediction = ""
        try:
            ids, info = self._prompt(example)
            extra["prompt_tokens"] = len(ids)
            extra["truncation"] = info
            _seed_everything(self.seed)
            res = self.backend.generate(
                self.model,
                self.tokenizer,
                ids,
                self.method,
                max_new_tokens=int(max_new),
                ignore_eos=bool(gen.get("ignore_eos", False)),
                stop_token_ids=self.stop_ids,
            )
            prediction = res.text
            for name in ("ttft_s", "tpot_s", "peak_memory_bytes", "peak_memory_kind", "kv_cache_bytes"):
                extra[name] = getattr(res, name, None)
            extra["selection_layer"] = getattr(res, "selection_layer", None)
            extra["rel_variance"] = {
                str(k): float(v) for k, v in (getattr(res, "rel_variance", None) or {}).items()
            }
            extra["kv_lengths"] = list(getattr(res, "kv_lengths", None) or [])
            extra["generated_tokens"] = len(getattr(res, "token_ids", None) or [])
            extra["prompt_tokens"] = getattr(res, "prompt_tokens", None) or len(ids)
            if self.resolved_method is None:
                self.resolved_method = dict(getattr(res, "method_config", None) or {})
            extra["score"] = float(self.backend.score(example, prediction))
        except Exception as exc:  # noqa: BLE001 - a failing sample is recorded and the run goes on
            extra["error"] = f"{type(exc).__name__}: {one_line(exc)}"
            _warn(f"sample {_field(example, 'task')}/{_field(example, 'id')} failed: {extra['error']}")
            torch = sys.modules.get("torch")
            if torch is not None and torch.cuda.is_available():
                torch.cuda.empty_cache()
        rec = _base_record(example, prediction, **extra)
        self.store.append(rec)
        logger.log_sample(step, rec)
        return rec

    def execute(self) -> Path:
        """Run the remaining samples, then write metrics.json and close the logger."""
        from tqdm import tqdm

        cfg = self.cfg
        run_dir = self.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        meta = run_meta(self.seed, getattr(self.model, "device", cfg.get("device")))
        meta.update(run_dir=str(run_dir), run_hash=run_dir.name.rsplit("-", 1)[-1], attempts=1)
        previous = _read_json(run_dir / "run_meta.json")
        self.resolved_method: dict[str, Any] | None = previous.get("method_config")
        if previous:
            meta.update(first_start_time=previous.get("first_start_time", previous.get("start_time")))
            meta["attempts"] = int(previous.get("attempts", 1)) + 1
        atomic_write_json(run_dir / "run_meta.json", meta)

        self.store = PredictionStore(run_dir / "predictions.jsonl")
        done = self.store.load(drop_errors=bool(cfg.run.get("retry_errors", False)))
        self.stop_ids = self.backend.stop_token_ids(self.model, self.tokenizer)
        todo = [ex for ex in self.examples if self._key(ex) not in done]
        if done:
            print(
                f"resume {run_dir}: {len(self.examples) - len(todo)} done, {len(todo)} to go", file=sys.stderr
            )
        wb_config = {
            **OmegaConf.to_container(cfg, resolve=True),
            "method": self.method_cfg,
            "run_dir": str(run_dir),
        }
        tags = [str(cfg.model.name), str(self.method_cfg["name"]), str(self.bench.get("name"))]
        logger = WandbLogger(
            cfg.logger.wandb,
            run_dir,
            run_dir.name,
            f"{cfg.model.name}/{self.bench.get('name')}",
            wb_config,
            tags,
        )
        status = "interrupted"
        try:
            bar = tqdm(
                total=len(self.examples),
                initial=len(self.examples) - len(todo),
                desc=f"{self.method_cfg['name']} {self.bench.get('name')}",
                disable=not cfg.run.get("progress", True),
                file=sys.stderr,
                dynamic_ncols=True,
            )
            for step, ex in enumerate(todo, start=len(self.examples) - len(todo)):
                self._sample(ex, logger, step)
                bar.update(1)
            bar.close()
            metrics = self._finish_metrics()
            logger.summary(metrics)
            status = "complete"
        finally:
            meta.update(end_time=now_iso(), status=status)
            if self.resolved_method:
                meta["method_config"] = self.resolved_method
            atomic_write_json(run_dir / "run_meta.json", meta)
            logger.finish(0 if status == "complete" else 1)
        return run_dir

    def _key(self, example: Any) -> str:
        rec = {"task": _field(example, "task"), "context_length": _context_length(example, self.bench)}
        rec["id"] = _field(example, "id")
        return sample_key(rec)

    def _finish_metrics(self) -> dict[str, Any]:
        records = self.store.load()
        order = {self._key(ex): i for i, ex in enumerate(self.examples)}
        ordered = sorted(records.values(), key=lambda r: order.get(sample_key(r), len(order)))
        metrics = compute_metrics(ordered)
        metrics["run"] = {
            "model": str(self.cfg.model.name),
            "benchmark": self.bench.get("name"),
            "method": self.method_cfg["name"],
            "kv_before": self.method_cfg.get("kv_before"),
            "kv_budget": self.method_cfg.get("kv_budget"),
            "tau": self.method_cfg.get("tau"),
            "seed": self.seed,
            "method_config": self.resolved_method or self.ident["method"],
            "complete": len(records) >= len(self.examples),
        }
        atomic_write_json(self.run_dir / "metrics.json", metrics)
        return metrics


def run(cfg: DictConfig, backend: Backend | None = None, cli_keys: set[str] | None = None) -> Path:
    """Validate, then execute one run; returns its directory."""
    r = Run(cfg, backend, cli_keys)
    r.prepare()
    return r.execute()
