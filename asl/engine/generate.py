"""``generate``: one request through the engine — prefill under a method, then our own greedy decode loop."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from transformers import PreTrainedModel

from asl.engine.attention import Kernel, engine_attention_enabled, kernel_for
from asl.engine.cache import PrunedKVCache
from asl.engine.chunked_layer import LayerScratch
from asl.engine.chunking import DEFAULT_MLP_CHUNK, check_chunk, chunked_mlp
from asl.engine.decoding import cache_alignment, decode, resolve_decode_mode
from asl.engine.layer_loop import Member, decoder_parts, prefill, prefill_group
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
    ttft_s: float | None  # prefill (every pass) + the first token; None for a shared prefill
    tpot_s: float | None  # mean of the steady decode steps; None without any (or in a shared request)
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
    decode_graph_status: str = (
        ""  # static: captured, the capture failure's reason, not retried, or not attempted
    )
    attention_reason: str = ""  # why the model's attention implementation was chosen (load_model)
    mlp_chunk: int | None = None  # tokens per MLP chunk in prefill (None: unchunked)
    selection_fired: bool | None = None  # the rule chose the layer (False: never fired / fallback)
    shared_prefill: int = 0  # methods that shared this prefill (0: alone; timings then its own)
    fork_layer: int | None = None  # shared: the layer after which it left the full-token trunk

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_method(method: PruningMethod, model: PreTrainedModel) -> PruningMethod:
    """Fill unset model keys from the model's layer preset (else the method's policy); validate the depth.

    A method the runner already resolved from the composed config comes back unchanged (only validated).
    """
    spec = getattr(model, "asl_spec", None)
    preset = spec.layer_defaults() if spec is not None else {}
    return method.resolved(preset, model.config.num_hidden_layers)


def check_window(method: PruningMethod, chunk: int | None) -> None:
    """Sessions score with the last chunk's queries: a scoring window longer than the chunk is an error."""
    window = getattr(method, "window", None)
    if chunk is not None and isinstance(window, int) and window > chunk:
        raise ValueError(
            f"{method.name}: window ({window}) is longer than the prefill chunk ({chunk} tokens)"
        )


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
    kernel: Kernel | None = None,
    memory: Callable[[torch.device], PeakMemory] = PeakMemory,
) -> GenerationResult:
    """Greedy generation for one prompt under ``method``.

    ``prompt_ids`` is a 1-D sequence of token ids, or a string (the tokenizer's chat template is applied as
    one user turn). One-pass methods decode at positions N, N+1, ... whatever their cache lengths; two-pass
    methods (GemFilter, ASL_2pass) re-prefill the selected ids at positions 0..k-1 and decode from k.
    ``decode_mode``: ``eager`` or ``static`` (the fixed-shape step, a CUDA graph on CUDA); None = static on
    CUDA, eager elsewhere. ``mlp_chunk``: tokens per prefill chunk, attention queries and MLP alike
    (None or 0: one chunk). ``kernel`` replaces the attention kernel the model's implementation selects,
    and ``memory`` the per-phase peak meter (the scale check's fake-tensor runs use both).
    """
    kw = dict(max_new_tokens=max_new_tokens, ignore_eos=ignore_eos, stop_token_ids=stop_token_ids)
    kw.update(decode_mode=decode_mode, mlp_chunk=mlp_chunk, kernel=kernel, memory=memory)
    return generate_many(model, tokenizer, prompt_ids, [method], **kw)[0]


@dataclass
class _Request:
    """One method's part of a (possibly shared) request."""

    method: PruningMethod
    member: Member
    max_new_tokens: int
    mode: str
    mode_reason: str = ""
    layers_run: int = 0
    position: int = 0
    first: int = 0
    ttft: float | None = None


@torch.inference_mode()
def generate_many(
    model: PreTrainedModel,
    tokenizer: Any,
    prompt_ids,
    methods: Sequence[PruningMethod],
    max_new_tokens: int = 32,
    ignore_eos: bool = False,
    stop_token_ids: list[int] | None = None,
    decode_mode: str | None = None,
    mlp_chunk: int | None = DEFAULT_MLP_CHUNK,
    kernel: Kernel | None = None,
    memory: Callable[[torch.device], PeakMemory] = PeakMemory,
) -> list[GenerationResult]:
    """:func:`generate` for several methods on one prompt, sharing one prefill (``prefill_group``).

    The full-token layers run once for all methods; a propagating method forks at its layer, a two-pass
    method leaves after its selection and re-prefills its tokens; every method then decodes from its own
    cache. Each result equals what ``generate`` gives for that method alone (tokens, KV, selection), except
    the timing and memory of a shared prefill, which are not one method's: with more than one method
    ``ttft_s`` is None and ``shared_prefill`` names the group size.
    """
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if not methods:
        raise ValueError("generate_many needs at least one method")
    chunk = check_chunk(mlp_chunk)
    device = model.get_input_embeddings().weight.device
    input_ids = as_input_ids(prompt_ids, tokenizer, device)
    prompt_len, num_layers = input_ids.shape[1], model.config.num_hidden_layers
    stops = set(model_stop_token_ids(model, tokenizer) if stop_token_ids is None else stop_token_ids)
    requests = []
    for method in methods:
        method = resolve_method(method, model)
        check_window(method, chunk)
        mode, reason = resolve_decode_mode(decode_mode, device), ""
        if method.decode_eviction and mode.startswith("static"):  # static and static_nograph
            mode, reason = (
                "eager",
                f"{method.name} evicts KV entries while decoding; the static step's shapes are fixed",
            )
        budget = method.max_new_tokens(max_new_tokens)
        cache = PrunedKVCache(num_layers, decode_room=budget, align=cache_alignment(mode))
        session = method.new_session(num_layers, prompt_len)
        session.bind(model)
        requests.append(_Request(method, Member(session, cache), budget, mode, reason))
    shared = len(requests) if len(requests) > 1 else 0  # group size of a shared prefill
    _, _, layers, _, _ = decoder_parts(model)
    try:
        with (
            memory(device) as meter,
            engine_attention_enabled(model) as implementation,
            chunked_mlp(layers, chunk),
        ):
            kernel = kernel or kernel_for(implementation)
            scratch = LayerScratch()
            _sync(device)
            start = time.perf_counter()
            prefill_group(model, input_ids, [r.member for r in requests], kernel, chunk, scratch)
            for r in requests:
                r.layers_run, r.position = r.member.layers_run, prompt_len
                if r.member.stop_keep is not None:  # two-pass: re-run the selected ids, fresh positions
                    selected = input_ids.index_select(1, r.member.stop_keep.to(device))
                    out = prefill(
                        model,
                        selected,
                        OnePassSession(num_layers, selected.shape[1]),
                        r.member.cache,
                        kernel,
                        chunk,
                        scratch,
                    )
                    r.layers_run += out.layers_run
                    r.position, r.member.logits = selected.shape[1], out.logits
                r.first = int(torch.argmax(r.member.logits))
                r.member.logits = None
            scratch.release()
            if not shared:
                requests[0].ttft = time.perf_counter() - start
            if any(r.max_new_tokens > 1 and (ignore_eos or r.first not in stops) for r in requests):
                meter.next_phase("decode")
            results = []
            for r in requests:
                steps = decode(
                    model,
                    r.member.cache,
                    kernel,
                    r.first,
                    r.position,
                    r.max_new_tokens - 1,
                    set() if ignore_eos else stops,
                    r.mode,
                    r.member.session,
                )
                r.member.session.finish()
                results.append((r, steps))
    except BaseException:
        for r in requests:  # remove what a session registered for the request (module hooks)
            r.member.session.finish()
        raise

    return [
        _result(model, tokenizer, prompt_len, r, steps, meter, kernel, chunk, shared) for r, steps in results
    ]


def _result(
    model, tokenizer, prompt_len: int, r: _Request, steps, meter, kernel, chunk, shared: int
) -> GenerationResult:
    """The :class:`GenerationResult` of one method of a request."""
    tokens = [r.first, *steps.tokens]
    text = tokenizer.decode(tokens, skip_special_tokens=True) if tokenizer is not None else ""
    prefill_peak, decode_peak = meter.phases["prefill"], meter.phases.get("decode")
    session, cache = r.member.session, r.member.cache
    return GenerationResult(
        text=text,
        token_ids=tokens,
        prompt_tokens=prompt_len,
        kv_lengths=list(cache.prompt_lengths),
        selection_layer=session.selection_layer,
        rel_variance=dict(session.rel_variance),
        ttft_s=r.ttft,
        tpot_s=None if shared or not steps.step_times else sum(steps.step_times) / len(steps.step_times),
        peak_memory_bytes=meter.peak_bytes,
        peak_memory_kind=meter.kind,
        kv_cache_bytes=cache.prompt_bytes(),
        layers_run=r.layers_run,
        method_config=r.method.to_config(),
        peak_memory_reserved_bytes=meter.peak_reserved_bytes,
        prefill_peak_bytes=prefill_peak.allocated,
        prefill_peak_reserved_bytes=prefill_peak.reserved,
        decode_peak_bytes=decode_peak.allocated if decode_peak else None,
        decode_peak_reserved_bytes=decode_peak.reserved if decode_peak else None,
        attention_kernel=kernel.name,
        decode_mode=r.mode,
        decode_mode_reason=r.mode_reason,
        decode_graph=steps.graph,
        decode_setup_s=steps.setup_s,
        decode_graph_status=steps.graph_status,
        attention_reason=getattr(getattr(model, "asl_attention_choice", None), "reason", ""),
        mlp_chunk=chunk,
        selection_fired=session.selection_fired,
        shared_prefill=shared,
        fork_layer=r.member.fork_layer,
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
    chunk = check_chunk(mlp_chunk)
    check_window(method, chunk)
    with engine_attention_enabled(model) as implementation, chunked_mlp(layers, chunk):
        session = method.new_session(num_layers, input_ids.shape[1])
        session.bind(model)
        cache = PrunedKVCache(num_layers, decode_room=0)
        out = prefill(model, input_ids, session, cache, kernel_for(implementation), chunk)
    session.finish()
    return PrefillTrace(session, cache, out.logits, out.layers_run, out.stop_keep)
