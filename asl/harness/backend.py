"""The engine and benchmark entry points the runner calls, and an in-process model cache."""

from __future__ import annotations

import dataclasses
import gc
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asl.models.registry import ModelSpec


@dataclass
class Backend:
    """The engine and benchmark entry points the runner calls (replaceable by fakes in tests)."""

    load_model: Callable[..., tuple[Any, Any]]
    generate: Callable[..., Any]
    load_examples: Callable[..., list]
    build_prompt_ids: Callable[..., tuple[list[int], dict]]
    score: Callable[[Any, str], float]
    stop_token_ids: Callable[[Any, Any], list[int]]
    #: data provenance, subset draws and task coverage for run_meta.json (eval.suite.describe_run)
    describe_run: Callable[..., dict[str, Any]] = lambda bench, examples, skipped: {}
    #: the data checks that need no tokenizer, run before the model loads (eval.suite.check_data)
    check_data: Callable[[dict[str, Any]], None] = lambda bench: None
    #: several methods on one prompt with one shared prefill (asl.generate_many); None: each alone
    generate_many: Callable[..., list[Any]] | None = None


def default_backend() -> Backend:
    """The real engine (``asl``) and benchmark package (``eval``)."""
    from asl import generate, generate_many, load_model
    from asl.models import stop_token_ids
    from eval.prompts import build_prompt_ids
    from eval.scoring import score
    from eval.suite import check_data, describe_run, load_examples

    return Backend(load_model, generate, load_examples, build_prompt_ids, score, stop_token_ids, describe_run,
                   check_data, generate_many)  # fmt: skip


_MODEL_CACHE: dict[tuple, tuple[Any, Any]] = {}


def load_cached(backend: Backend, spec: ModelSpec, device: Any, dtype: Any) -> tuple[Any, Any]:
    """Keep the last model loaded so the jobs of an in-process multirun share it."""
    key = (id(backend.load_model), json.dumps(dataclasses.asdict(spec), sort_keys=True), device, dtype)
    if key not in _MODEL_CACHE:
        _MODEL_CACHE.clear()
        gc.collect()
        try:  # keep stderr for the run's own progress bar and messages
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:
            pass
        _MODEL_CACHE[key] = backend.load_model(spec, device=device, dtype=dtype)
    return _MODEL_CACHE[key]
