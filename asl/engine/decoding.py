"""The greedy decode loops after prefill: ``eager`` (dynamic shapes) or ``static`` (the fixed-shape step)."""

from __future__ import annotations

import time
from collections.abc import Container
from dataclasses import dataclass, field

import torch
from transformers import PreTrainedModel

from asl.engine import graphs
from asl.engine.cache import PrunedKVCache
from asl.engine.layer_loop import decode_step
from asl.engine.static_decode import DECODE_BLOCK, StaticDecoder

DECODE_MODES = ("eager", "static", "static_nograph")  # static_nograph: the static step, never captured


def resolve_decode_mode(mode: str | None, device: torch.device) -> str:
    """``None`` -> ``static`` on CUDA, ``eager`` elsewhere; anything else must be one of DECODE_MODES."""
    if mode is None:
        return "static" if device.type == "cuda" else "eager"
    if mode not in DECODE_MODES:
        raise ValueError(f"decode_mode must be one of {', '.join(DECODE_MODES)}, got {mode!r}")
    return mode


def cache_alignment(mode: str) -> int:
    """Buffer alignment the decode mode needs (the static step views buffers as equal blocks)."""
    return DECODE_BLOCK if mode.startswith("static") else 1


@dataclass
class DecodeOutput:
    """Tokens after the first, per-step times, and what the static mode spent on its CUDA graph."""

    tokens: list[int] = field(default_factory=list)
    step_times: list[float] = field(default_factory=list)  # steady steps (TPOT)
    setup_s: float = 0.0  # static on CUDA: the eager warm-up step and the capture attempt (not in TPOT)
    graph: bool = False  # a CUDA graph was captured and replayed
    graph_status: str = ""  # static: captured, the capture's failure, not retried, or not attempted (and why)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def decode(
    model: PreTrainedModel,
    cache: PrunedKVCache,
    kernel,
    first: int,
    position: int,
    budget: int,
    stops: Container[int],
    mode: str,
    session=None,
) -> DecodeOutput:
    """Greedy tokens after ``first`` (fed at RoPE ``position``) until ``budget`` more or a stop token.

    ``stops`` is empty when EOS is ignored. After every eager step the method's session sees the cache
    (``session.on_decode_step(cache, position)``: decode-time eviction; a no-op by default); methods that
    evict during decoding run eager (``generate`` forces it), the static step's shapes are fixed. Each step
    is timed from its start until its token is on the host; on CUDA the static mode's first two steps
    (eager warm-up, capture + first replay, or the failed capture + an eager step) are setup, never TPOT. A
    structural capture failure is remembered on the model (:func:`asl.engine.graphs.capture_memo`): later
    requests do not retry it.
    """
    out = DecodeOutput()
    token = first
    if budget <= 0 or token in stops:
        return out
    device = model.get_input_embeddings().weight.device
    static = None
    if mode.startswith("static"):
        capture = mode == "static" and graphs.graph_capture_supported(device)
        memo = graphs.capture_memo(model)
        static = StaticDecoder(model, cache, token, position, capture=capture, memo=memo)
    try:
        while len(out.tokens) < budget and token not in stops:
            setup = static is not None and static.setting_up
            _sync(device)
            start = time.perf_counter()
            if static is None:
                step_position = position + len(out.tokens)
                token = int(torch.argmax(decode_step(model, token, step_position, cache, kernel)))
                if session is not None:
                    session.on_decode_step(cache, step_position)
            else:
                token = static.step()
            elapsed = time.perf_counter() - start
            if setup:
                out.setup_s += elapsed
            else:
                out.step_times.append(elapsed)
            out.tokens.append(token)
    finally:
        if static is not None:
            out.graph = static.graph is not None
            out.graph_status = static.graph_status
            static.finish()
    return out
