"""The engine and benchmark entry points the runner calls, and an in-process model cache."""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Backend:
    """The engine and benchmark entry points the runner calls (replaceable by fakes in tests)."""

    load_model: Callable[..., tuple[Any, Any]]
    build_method: Callable[..., Any]
    generate: Callable[..., Any]
    load_examples: Callable[..., list]
    build_prompt_ids: Callable[..., tuple[list[int], dict]]
    score: Callable[[Any, str], float]
    stop_token_ids: Callable[[Any, Any], list[int]]


def default_backend() -> Backend:
    """The real engine (``asl``) and benchmark package (``eval``)."""
    from asl import build_method, generate, load_model
    from asl.models import stop_token_ids
    from eval.prompts import build_prompt_ids
    from eval.scoring import score
    from eval.suite import load_examples

    return Backend(load_model, build_method, generate, load_examples, build_prompt_ids, score, stop_token_ids)


_MODEL_CACHE: dict[tuple, tuple[Any, Any]] = {}


def load_cached(backend: Backend, name: str, device: Any, dtype: Any) -> tuple[Any, Any]:
    """Keep the last model loaded so the jobs of an in-process multirun share it."""
    key = (id(backend.load_model), name, device, dtype)
    if key not in _MODEL_CACHE:
        _MODEL_CACHE.clear()
        gc.collect()
        try:  # keep stderr for the run's own progress bar and messages
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:
            pass
        _MODEL_CACHE[key] = backend.load_model(name, device=device, dtype=dtype)
    return _MODEL_CACHE[key]
