"""``generate``: one request through the engine — prefill under a method, then our own greedy decode loop."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from transformers import PreTrainedModel

from asl.engine.attention import engine_attention_enabled, kernel_for
from asl.engine.cache import PrunedKVCache
from asl.engine.chunking import DEFAULT_MLP_CHUNK, check_chunk, chunked_mlp
from asl.engine.decoding import cache_alignment, decode, resolve_decode_mode
from asl.engine.layer_loop import decoder_parts, prefill
from asl.engine.memory import PeakMemory
from asl.engine.prompt import as_input_ids
from asl.methods.base import PruningMethod
from asl.methods.sessions import OnePassSession
from asl.models.loading import stop_token_ids as model_stop_token_ids


@dataclass
class GenerationResult:
    """Everything one request produced and measured."""

    text: str
    token_ids: list[int]
    prompt_tokens: int
    kv_lengths: list[int]  # prompt KV entries kept per layer after prefill
    selection_layer: int | None
    rel_variance: dict[int, float]
    ttft_s: float  # prefill (every pass) + the first token
    tpot_s: float | None  # mean of the steady decode steps; None without any
    peak_memory_bytes: int  # the larger of the two phases
    peak_memory_kind: str
    kv_cache_bytes: int
    layers_run: int  # decoder-layer calls of the prefill (both passes for two-pass methods)
    method_config: dict[str, Any] = field(default_factory=dict)
    peak_memory_reserved_bytes: int | None = None
    prefill_peak_bytes: int | None = None  # prefill and the first token
    prefill_peak_reserved_bytes: int | None = None
    decode_peak_bytes: int | None = None  # the decode steps (None when only one token was generated)
    decode_peak_reserved_bytes: int | None = None
    attention_kernel: str = ""  # prefill attention: "sdpa" or the HF flash implementation that ran
    decode_mode: str = ""  # "eager" or "static"
    decode_mode_reason: str = ""  # why the mode differs from the one asked for (decode-time eviction)
    decode_graph: bool = False  # static on CUDA: the step ran as a captured CUDA graph
    decode_setup_s: float = 0.0  # static on CUDA: warm-up step + graph capture, excluded from TPOT
    mlp_chunk: int | None = None  # tokens per MLP chunk in prefill (None: unchunked)
    selection_fired: bool | None = None  # the rule chose the layer (False: never fired / fallback)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_method(method: PruningMethod, model: PreTrainedModel) -> PruningMethod:
    """Fill unset model keys from the model's layer preset (else the method's policy); validate the depth.

    A method the runner already resolved from the composed config comes back unchanged (only validated).
    """
    spec = getattr(model, "asl_spec", None)
    preset = spec.layer_defaults() if spec is not None else {}
    return method.resolved(preset, model.config.num_hidden_layers)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def generate(
    model: PreTrainedModel,
    tokenizer: Any,
    prompt_ids,
    method: PruningMethod,
    max_new_tokens: int = 32,
    ignore_eos: bool = False,
    stop_token_ids: list[int] | None = None,
    decode_mode: str | None = None,
    mlp_chunk: int | None = DEFAULT_MLP_CHUNK,
) -> GenerationResult:
    """Greedy generation for one prompt under ``method``.

    ``prompt_ids`` is a 1-D sequence of token ids, or a string (the tokenizer's chat template is applied as
    one user turn). One-pass methods decode at positions N, N+1, ... whatever their cache lengths; two-pass
    methods (GemFilter, ASL_2pass) re-prefill the selected ids at positions 0..k-1 and decode from k.
    ``decode_mode``: ``eager`` or ``static`` (the fixed-shape step, a CUDA graph on CUDA); None = static on
    CUDA, eager elsewhere. ``mlp_chunk``: tokens per MLP chunk in prefill (None or 0: unchunked).
    """
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    chunk = check_chunk(mlp_chunk)
    method = resolve_method(method, model)
    max_new_tokens = method.max_new_tokens(max_new_tokens)
    device = model.get_input_embeddings().weight.device
    mode = resolve_decode_mode(decode_mode, device)
    mode_reason = ""
    if method.decode_eviction and mode == "static":
        mode, mode_reason = (
            "eager",
            f"{method.name} evicts KV entries while decoding; the static step's shapes are fixed",
        )
    input_ids = as_input_ids(prompt_ids, tokenizer, device)
    prompt_len = input_ids.shape[1]
    num_layers = model.config.num_hidden_layers
    stops = set(model_stop_token_ids(model, tokenizer) if stop_token_ids is None else stop_token_ids)
    _, _, layers, _, _ = decoder_parts(model)
    with (
        PeakMemory(device) as memory,
        engine_attention_enabled(model) as implementation,
        chunked_mlp(layers, chunk),
    ):
        kernel = kernel_for(implementation)
        session = method.new_session(num_layers, prompt_len)
        session.bind(model)
        cache = PrunedKVCache(num_layers, decode_room=max_new_tokens, align=cache_alignment(mode))
        _sync(device)
        start = time.perf_counter()
        out = prefill(model, input_ids, session, cache, kernel)
        layers_run, position = out.layers_run, prompt_len
        if out.stop_keep is not None:  # two-pass: re-run the selected ids from scratch, fresh positions
            selected = input_ids[:, out.stop_keep.to(device)]
            out = prefill(model, selected, OnePassSession(num_layers, selected.shape[1]), cache, kernel)
            layers_run += out.layers_run
            position = selected.shape[1]
        first = int(torch.argmax(out.logits))
        ttft = time.perf_counter() - start
        del out
        decoding = max_new_tokens > 1 and (ignore_eos or first not in stops)
        if decoding:
            memory.next_phase("decode")
        steps = decode(
            model,
            cache,
            kernel,
            first,
            position,
            max_new_tokens - 1,
            set() if ignore_eos else stops,
            mode,
            session,
        )
        session.finish()
    tokens = [first, *steps.tokens]
    text = tokenizer.decode(tokens, skip_special_tokens=True) if tokenizer is not None else ""
    prefill_peak, decode_peak = memory.phases["prefill"], memory.phases.get("decode")
    return GenerationResult(
        text=text,
        token_ids=tokens,
        prompt_tokens=prompt_len,
        kv_lengths=list(cache.prompt_lengths),
        selection_layer=session.selection_layer,
        rel_variance=dict(session.rel_variance),
        ttft_s=ttft,
        tpot_s=sum(steps.step_times) / len(steps.step_times) if steps.step_times else None,
        peak_memory_bytes=memory.peak_bytes,
        peak_memory_kind=memory.kind,
        kv_cache_bytes=cache.prompt_bytes(),
        layers_run=layers_run,
        method_config=method.to_config(),
        peak_memory_reserved_bytes=memory.peak_reserved_bytes,
        prefill_peak_bytes=prefill_peak.allocated,
        prefill_peak_reserved_bytes=prefill_peak.reserved,
        decode_peak_bytes=decode_peak.allocated if decode_peak else None,
        decode_peak_reserved_bytes=decode_peak.reserved if decode_peak else None,
        attention_kernel=kernel.name,
        decode_mode=mode,
        decode_mode_reason=mode_reason,
        decode_graph=steps.graph,
        decode_setup_s=steps.setup_s,
        mlp_chunk=chunk,
        selection_fired=session.selection_fired,
    )


@dataclass
class PrefillTrace:
    """Introspection of one prefill (tests, analysis): the session, the cache and the last logits."""

    session: Any
    cache: PrunedKVCache
    logits: torch.Tensor | None
    layers_run: int
    selected: torch.Tensor | None  # two-pass: the prompt indices chosen by pass 1


@torch.inference_mode()
def trace_prefill(
    model: PreTrainedModel, prompt_ids, method: PruningMethod, mlp_chunk: int | None = DEFAULT_MLP_CHUNK
) -> PrefillTrace:
    """Run only the prefill of ``method`` (pass 1 only, for two-pass methods) and return its state."""
    method = resolve_method(method, model)
    device = model.get_input_embeddings().weight.device
    input_ids = as_input_ids(prompt_ids, None, device)
    num_layers = model.config.num_hidden_layers
    _, _, layers, _, _ = decoder_parts(model)
    with engine_attention_enabled(model) as implementation, chunked_mlp(layers, check_chunk(mlp_chunk)):
        session = method.new_session(num_layers, input_ids.shape[1])
        session.bind(model)
        cache = PrunedKVCache(num_layers, decode_room=0)
        out = prefill(model, input_ids, session, cache, kernel_for(implementation))
    session.finish()
    return PrefillTrace(session, cache, out.logits, out.layers_run, out.stop_keep)
