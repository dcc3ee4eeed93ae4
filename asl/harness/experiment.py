"""One run: validate, load, then generate and score each sample with resume, logging and a run summary.

The method is built once, from the Hydra-composed method node, and resolved once against the composed
model node; that same object feeds the run identity (hash), the recorded config and the engine.
"""

from __future__ import annotations

import json
import random
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from asl.harness.backend import Backend, default_backend, load_cached
from asl.harness.config import config_hash, identity, resolve_run_method, run_dir_for, to_plain
from asl.harness.meta import invocation_id, now_iso, run_meta
from asl.harness.reuse import reuse_into
from asl.harness.rundir import choose_run_dir, revision_of
from asl.harness.shards import load_done, merge_shards, parse_shard, run_lock, shard_of
from asl.harness.validation import HarnessError, check_paths, one_line, validate_run
from asl.harness.wandb_logger import WandbLogger, logger_for, new_run_id
from asl.results.schema import RunSummary, SampleRecord, sample_key, summarize_run
from asl.results.shardfiles import prediction_files, read_run_records
from asl.results.stats import check_scores
from asl.results.store import PredictionStore, atomic_write_json, atomic_write_text
from eval.scoring import excluded_by_reference

SUMMARY_INTERVAL_S = 10.0  # metrics.json is rewritten at most this often during a run (and at its end)
#: what the engine reports it ran (GenerationResult fields), copied into run_meta.json as ``engine``
ENGINE_FIELDS = ("attention_kernel", "decode_mode", "decode_graph", "mlp_chunk")
WARMUP_NEW_TOKENS = 2  # the untimed warm-up request: prefill and one decode step
FALLBACK_TEXT = "Milton's Areopagitica"
EXCLUDED = "excluded: empty prediction (benchmark.reference_scoring averages RULER over non-empty ones)"
MIN_FILL = 0.98  # a prompt under this share of its target length is flagged (and warned about once)


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


def substitutions(bench: dict[str, Any], examples: list[Any]) -> list[str]:
    """What the run uses in place of what its setup calls for, one line each (today: the bundled haystack
    standing in when ``benchmark.haystack`` is not set)."""
    if bench.get("haystack") is not None:
        return []
    wanted = sorted({str(m["haystack_fallback_for"]) for ex in examples
                     if (m := _field(ex, "meta") or {}).get("haystack_fallback_for")})  # fmt: skip
    return [f"haystack: benchmark.haystack is not set, so the bundled text ({FALLBACK_TEXT}) stands in for {w} "
            "(set benchmark.haystack=essay:PATH or pg19:PATH)" for w in wanted]  # fmt: skip


class Experiment:
    """A configured run; :meth:`prepare` validates everything, :meth:`execute` writes the run directory."""

    def __init__(
        self,
        cfg: DictConfig,
        backend: Backend | None = None,
        cli_keys: set[str] | None = None,
        experiment: str | None = None,
    ) -> None:
        self.cfg = cfg
        self._backend = backend
        self.cli_keys = cli_keys
        self.experiment = experiment  # the experiment config chosen (W&B group), if any
        self.bench = dict(to_plain(cfg.benchmark))
        self.seed = int(cfg.seed) if isinstance(cfg.seed, int) else cfg.seed
        self._warned_budget = False
        self._warned_short = False
        self._summary_time = 0.0
        self.skipped: list[Any] = []
        self.records: dict[str, SampleRecord] = {}
        self.engine: dict[str, Any] = {}
        self.substitutions: list[str] = []

    @property
    def backend(self) -> Backend:
        """The given backend, else the real engine and benchmarks (imported on first use)."""
        if self._backend is None:
            self._backend = default_backend()
        return self._backend

    # -- validation (nothing is written here) -------------------------------------------------
    def prepare(self, same_samples: Experiment | None = None) -> Path:
        """Validate config, method, model and data; return the run directory (not yet created).

        ``same_samples``: a prepared experiment of the same model, benchmark node and seed (a shared-prefill
        job's first member), whose examples are taken instead of generated again.
        """
        cfg = self.cfg
        validate_run(cfg)
        check_paths(cfg, self.cli_keys)
        run_cfg = cfg.get("run") or {}  # issue 21: run.shard=I/N
        self.shard = parse_shard(run_cfg.get("shard"), run_cfg.get("shards"))
        self.spec, self.method = resolve_run_method(cfg, self.cli_keys)
        self.ident = identity(cfg, self.method.to_config())
        self.run_hash = config_hash(self.ident)
        self.run_dir = choose_run_dir(run_dir_for(cfg.results_dir, self.ident), self._run_flag("force"))
        if self.spec.layer_preset:
            layers = {k: v for k, v in self.method.to_dict().items() if k in self.method.model_keys}
            print(
                f"{self.spec.name}: layer preset {self.spec.layer_preset!r} -> {self.method.name} {layers}",
                file=sys.stderr,
            )
        be = self.backend
        be.check_data(self.bench)  # missing data and absent folders stop here, before the model loads
        self.model, self.tokenizer = load_cached(be, self.spec, cfg.get("device"), cfg.get("dtype"))
        if same_samples is not None and self._same_samples(same_samples):
            self.examples, self.skipped = same_samples.examples, list(same_samples.skipped)
            self.substitutions = list(same_samples.substitutions)
        else:
            with warnings.catch_warnings(record=True) as caught:  # pool caps, skipped tasks: one line each
                warnings.simplefilter("always")
                self.examples = list(be.load_examples(self.bench, self.tokenizer, self.seed, self.skipped))
            for warning in caught:
                _warn(one_line(warning.message))
            self.substitutions = substitutions(self.bench, self.examples)
            for (
                text
            ) in self.substitutions:  # one warning each, at the start; also in run_meta.json and tables
                _warn(text)
        if not self.examples:
            raise HarnessError(
                f"benchmark {self.bench.get('name')}: no examples for tasks {self.bench.get('tasks')}"
            )
        self.profile = self.bench.get("profile", "chat")
        self._prompt(self.examples[0])  # prompt-building errors surface before the run dir exists
        return self.run_dir

    def _same_samples(self, other: Experiment) -> bool:
        """Same model object, benchmark node and seed as ``other``: the same examples."""
        return other.model is self.model and other.bench == self.bench and other.seed == self.seed

    def _prompt(self, example: Any) -> tuple[list[int], dict]:
        ids, info = self.backend.build_prompt_ids(
            example, self.tokenizer, self.profile, (_field(example, "meta") or {}).get("max_prompt_tokens")
        )
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        self._warn_budget(ids, example)
        return ids, info

    def _warn_budget(self, ids: list[int], example: Any) -> None:
        """Once per run: a KV budget at or above the prompt length prunes nothing."""
        budget = getattr(self.method, "kv_budget", None)
        if budget is not None and budget >= len(ids) and not self._warned_budget:
            self._warned_budget = True
            _warn(
                f"{self.method.name}: kv_budget {budget} >= prompt length {len(ids)} "
                f"({_field(example, 'task')}/{_field(example, 'id')}): this equals FullKV"
            )

    def _fill(self, info: dict, tokens: int, example: Any) -> dict:
        """The truncation record with how much of its target length the prompt fills; a prompt under
        :data:`MIN_FILL` of it is flagged ``short_prompt`` in the sample and warned about once per run."""
        limit = (_field(example, "meta") or {}).get("max_prompt_tokens")
        info = dict(info or {})
        if limit:
            info["fill"] = round(tokens / int(limit), 4)
            if tokens < MIN_FILL * int(limit):
                info["short_prompt"] = True
                if not self._warned_short:
                    self._warned_short = True
                    _warn(f"{_field(example, 'task')}/{_field(example, 'id')}: prompt of {tokens} tokens fills "
                          f"{tokens / int(limit):.1%} of its target {limit} (< {MIN_FILL:.0%}; flagged short_prompt "
                          "in its record's truncation)")  # fmt: skip
        return info

    def _run_flag(self, key: str) -> bool:
        return bool((self.cfg.get("run") or {}).get(key, False))

    # -- execution -------------------------------------------------------------------------------
    def _write_config(self) -> None:
        data = OmegaConf.to_container(self.cfg, resolve=True)
        data["method"] = self.method.to_config()
        data["run_identity"] = self.ident
        atomic_write_text(self.run_dir / "config.yaml", OmegaConf.to_yaml(OmegaConf.create(data)))

    def _new_record(self, example: Any) -> SampleRecord:
        """The sample's record before generation: the example's fields, without the long texts."""
        max_new = int(_field(example, "max_new_tokens") or 32)  # capped by benchmark.max_new_tokens in eval
        base = {
            k: v for k, v in example.to_dict().items() if k not in ("context", "question", "answer_prefix")
        }
        base["meta"] = {k: v for k, v in (base.get("meta") or {}).items() if k != "template"}
        rec = SampleRecord.from_json({**base, "context_length": _context_length(example, self.bench)})
        rec.max_new_tokens = max_new
        rec.invocation_id = self.invocation
        return rec

    def _set_prompt(self, rec: SampleRecord, example: Any, ids: list[int], info: dict) -> None:
        rec.prompt_tokens, rec.truncation = len(ids), self._fill(info, len(ids), example)

    def _generate_kwargs(self, rec: SampleRecord) -> dict[str, Any]:
        gen = self.cfg.get("generation") or {}
        return dict(max_new_tokens=rec.max_new_tokens, ignore_eos=bool(gen.get("ignore_eos", False)),
                    stop_token_ids=self.stop_ids)  # fmt: skip

    def _sample(self, example: Any) -> SampleRecord:
        rec = self._new_record(example)
        try:
            ids, info = self._prompt(example)
            self._set_prompt(rec, example, ids, info)
            _seed_everything(self.seed)
            res = self.backend.generate(
                self.model, self.tokenizer, ids, self.method, **self._generate_kwargs(rec)
            )
            self._complete_record(rec, example, res)
        except Exception as exc:  # noqa: BLE001 - a failing sample is recorded and the run goes on
            self._record_failure(rec, exc)
        return rec

    def _complete_record(self, rec: SampleRecord, example: Any, res: Any) -> None:
        """Fill ``rec`` from a generation result and score it (raises what the scorer raises).

        A result of a shared prefill (``res.shared_prefill`` > 1) carries no TTFT, TPOT or peak memory of
        this method: those belong to the group; the record says so in ``shared_prefill``.
        """
        shared = int(getattr(res, "shared_prefill", 0) or 0)
        rec.prediction = res.text
        self.engine.update({k: getattr(res, k) for k in ENGINE_FIELDS if hasattr(res, k)})
        rec.ttft_s, rec.tpot_s = (None, None) if shared else (res.ttft_s, res.tpot_s)
        if not shared:
            rec.peak_memory_bytes, rec.peak_memory_kind = res.peak_memory_bytes, res.peak_memory_kind
        rec.shared_prefill = shared
        rec.kv_cache_bytes, rec.kv_lengths = res.kv_cache_bytes, list(res.kv_lengths)
        rec.selection_layer = res.selection_layer
        rec.selection_fired = getattr(res, "selection_fired", None)
        rec.rel_variance = {str(k): float(v) for k, v in (res.rel_variance or {}).items()}
        rec.generated_tokens = len(res.token_ids)
        rec.prompt_tokens = res.prompt_tokens
        score = float(self.backend.score(example, rec.prediction))
        check_scores([score], f"scorer of {rec.task}")  # NaN or out of [0, 1]: the sample's error
        rec.score = score
        if excluded_by_reference(example, rec.prediction):  # benchmark.reference_scoring on RULER
            rec.score, rec.error = None, EXCLUDED

    def _record_failure(self, rec: SampleRecord, exc: BaseException) -> None:
        rec.error = f"{type(exc).__name__}: {one_line(exc)}"
        _warn(f"sample {rec.task}/{rec.id} ({self.method.name}) failed: {rec.error}")
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _warmup(self, example: Any) -> None:
        """One untimed request before the first timed sample (first-call allocations, kernel set-up); a
        failure here is left for the timed sample to record."""
        try:
            ids, _ = self._prompt(example)
            self.backend.generate(self.model, self.tokenizer, ids, self.method,
                                  max_new_tokens=WARMUP_NEW_TOKENS, ignore_eos=True, stop_token_ids=self.stop_ids)  # fmt: skip
        except Exception as exc:  # noqa: BLE001
            _warn(f"warm-up failed ({type(exc).__name__}: {one_line(exc)})")

    def finished(self) -> bool:
        """The directory holds a complete run with every sample (it is then not written again, no lock)."""
        meta = _read_json(self.run_dir / "run_meta.json")
        files = prediction_files(self.run_dir)  # issue 21: predictions.jsonl + shard files
        if meta.get("status") != "complete" or self._run_flag("retry_errors") or not files:
            return False
        done = {r.key for r in read_run_records(self.run_dir)}
        return all(self._key(ex) in done for ex in self.examples)

    def execute(self) -> Path:
        """Under the run directory's lock: run the remaining samples, keeping metrics.json current."""
        if self.finished():
            print(f"complete: {self.run_dir}, nothing to recompute", file=sys.stderr)
            return self.run_dir  # nothing is rewritten: a finished run stays byte for byte as it was
        with run_lock(self.run_dir, self.shard, wait=self._run_flag("wait_for_lock")):  # issue 21: shard lock
            return self._execute()

    def _execute(self) -> Path:
        todo = self.begin()
        if todo is None:
            return self.run_dir
        logger = self._logger(self.meta["wandb_id"])
        status = "interrupted"
        try:
            if todo and self.cfg.run.get("warmup", True):
                self._warmup(todo[0])
            self._loop(todo, logger)
            summary = self._write_summary()
            logger.log_results(summary, list(self.records.values()), self.run_dir)
            status = "complete"
        finally:
            self.close(status)
            logger.finish(0 if status == "complete" else 1)
        return self.run_dir

    def begin(self) -> list[Any] | None:
        """Under the run's lock: load the finished samples and write config.yaml and run_meta.json; the
        examples still to run, or None when the run is complete (nothing is rewritten then)."""
        cfg, run_dir = self.cfg, self.run_dir
        self.invocation = invocation_id()
        # -- issue 21 (shards, reuse): this shard's files; done = every predictions file; reuse siblings' samples
        meta_name = self.shard.meta if self.shard else "run_meta.json"
        previous = _read_json(run_dir / meta_name)
        self.store = PredictionStore(
            run_dir / (self.shard.predictions if self.shard else "predictions.jsonl")
        )
        drop = bool(cfg.run.get("retry_errors", False))
        done = load_done(run_dir, self.store.load(drop_errors=drop), drop)
        mine, reused_from = shard_of(self.examples, self.shard), []
        if not any(self._key(ex) in done for ex in mine) and not self._run_flag("force"):
            reused, reused_from = reuse_into(self.store, run_dir, self.ident, mine, self._key)
            done.update(reused)
        self.records = dict(done)
        todo = [ex for ex in mine if self._key(ex) not in done]
        # -- end issue 21
        if not todo and previous.get("status") == "complete" and (run_dir / "metrics.json").is_file():
            print(f"complete: {run_dir} ({len(done)} samples), nothing to recompute", file=sys.stderr)
            return None  # a finished run stays byte for byte as it was
        self._write_config()
        meta = run_meta(self.seed, getattr(self.model, "device", cfg.get("device")))
        meta.update(run_dir=str(run_dir), run_hash=self.run_hash, revision=revision_of(run_dir), attempts=1,
                    invocation_id=self.invocation, wandb_id=previous.get("wandb_id") or new_run_id())  # fmt: skip
        meta["benchmark"] = self.backend.describe_run(self.bench, self.examples, self.skipped)
        meta["substitutions"] = list(self.substitutions)
        if previous:
            meta.update(first_start_time=previous.get("first_start_time", previous.get("start_time")))
            meta["attempts"] = int(previous.get("attempts", 1)) + 1
        meta["invocations"] = [*previous.get("invocations", []), self.invocation]
        if reused_from or previous.get("reused_from"):  # issue 21
            meta["reused_from"] = [*previous.get("reused_from", []), *reused_from]
        self.meta, self.meta_name = meta, meta_name
        atomic_write_json(run_dir / meta_name, meta)  # the shard's own meta file when sharded
        self.stop_ids = self.backend.stop_token_ids(self.model, self.tokenizer)
        if done:
            print(f"resume {run_dir}: {len(done)} done, {len(todo)} to go", file=sys.stderr)
        return todo

    def add_record(self, rec: SampleRecord) -> None:
        """Append a finished sample to the run (predictions.jsonl; metrics.json at most every few s)."""
        self.store.append(rec)
        self.records[rec.key] = rec
        if time.monotonic() - self._summary_time > SUMMARY_INTERVAL_S:
            self._write_summary()

    def close(self, status: str) -> None:
        """End the invocation: metrics.json (when not complete: the complete path wrote it) and run_meta;
        a shard finishing last completes the run (merge of every shard's samples)."""
        if status != "complete":
            self._write_summary()
        self.meta.update(end_time=now_iso(), status=status)
        if self.engine:
            self.meta["engine"] = dict(self.engine)  # what ran: attention kernel, decode mode, MLP chunk
        atomic_write_json(self.run_dir / self.meta_name, self.meta)
        if self.shard:
            merge_shards(
                self.run_dir, [self._key(ex) for ex in self.examples], self.meta, self._merged_summary
            )

    def _logger(self, run_id: str) -> WandbLogger:
        """The run's W&B logger (resumes ``run_id``)."""
        config = {**OmegaConf.to_container(self.cfg, resolve=True), "method": self.method.to_config()}
        return logger_for(self.cfg.logger.wandb, config, self.method.name, self.spec.name,
                          str(self.bench.get("name")), self.run_dir, self.experiment, run_id)  # fmt: skip

    def _loop(self, todo: list[Any], logger: WandbLogger) -> None:
        from tqdm import tqdm

        first = len(self.examples) - len(todo)
        bar = tqdm(total=len(self.examples), initial=first, desc=f"{self.method.name} {self.bench.get('name')}",
                   disable=not self.cfg.run.get("progress", True), file=sys.stderr, dynamic_ncols=True)  # fmt: skip
        for step, ex in enumerate(todo, start=first):
            rec = self._sample(ex)
            self.add_record(rec)
            logger.log_sample(step, rec)
            bar.update(1)
        bar.close()

    def _key(self, example: Any) -> str:
        return sample_key(
            _field(example, "task"), _context_length(example, self.bench), _field(example, "id")
        )

    def _merged_summary(self, records: dict[str, SampleRecord]) -> RunSummary:
        """metrics.json from the union of every shard's records (issue 21, under the merge lock)."""
        self.records = dict(records)
        return self._write_summary()

    def _write_summary(self) -> RunSummary:
        """metrics.json from the records so far, in example order (the file tables and figures read)."""
        self._summary_time = time.monotonic()
        order = {self._key(ex): i for i, ex in enumerate(self.examples)}
        ordered = sorted(self.records.values(), key=lambda r: order.get(r.key, len(order)))
        ident = {
            "model": self.spec.name,
            "benchmark": self.bench.get("name"),
            "family": self.bench.get("family"),
            "method": self.method.to_config(),
            "method_label": self.method.label,
            "seed": self.seed,
            "run_hash": self.run_hash,
            "revision": revision_of(self.run_dir),
            "settings": self.ident["model_settings"],
        }
        skipped = [s.to_dict() for s in self.skipped]
        summary = summarize_run(ident, ordered, len(self.examples), skipped)
        atomic_write_json(self.run_dir / "metrics.json", summary.to_json())
        return summary


def run(
    cfg: DictConfig,
    backend: Backend | None = None,
    cli_keys: set[str] | None = None,
    experiment: str | None = None,
) -> Path:
    """Validate, then execute one run; returns its directory."""
    experiment = Experiment(cfg, backend, cli_keys, experiment)
    experiment.prepare()
    return experiment.execute()
