"""One request of the real engine (``asl.engine.generate``) on a fake paper-scale model, measured."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from asl.engine.attention import Kernel
from asl.engine.generate import generate
from asl.methods.base import PruningMethod
from asl.scalecheck.probe import Finding, Limits, MemoryProbe, ProbeMeter

FUSED_STANDIN = "fused-attention (fake)"


def fused_attention_standin(module, query, key, value, causal: bool, scaling: float) -> torch.Tensor:
    """What a fused attention kernel (FlashAttention-2, SDPA's efficient backend) allocates: its output
    [1, Tq, Hq, dv] and the fp32 log-sum-exp [1, Hq, Tq], nothing of size Tq x Tk. Checks the contract
    the engine relies on: one dtype and device, GQA head groups, and Tq <= Tk for a (bottom-right) causal
    call."""
    _, heads, q_len, _ = query.shape
    kv_heads, k_len = key.shape[1], key.shape[2]
    if not (query.dtype == key.dtype == value.dtype and query.device == key.device == value.device):
        raise TypeError(f"attention inputs differ: {query.dtype}/{key.dtype}/{value.dtype} on {query.device}")
    if heads % kv_heads or value.shape[2] != k_len or (causal and q_len > k_len):
        raise ValueError(f"bad attention call: q {tuple(query.shape)}, k {tuple(key.shape)}, causal={causal}")
    # the kernel writes the output and the LSE together: both are live until it returns
    lse = torch.empty(1, heads, q_len, dtype=torch.float32, device=query.device)
    out = query.new_empty(1, q_len, heads, value.shape[-1])
    del lse
    return out


FUSED_KERNEL = Kernel(FUSED_STANDIN, fused_attention_standin)


@dataclass
class Measured:
    """Per-phase measurements of one fake request."""

    phases: dict[str, dict[str, int]] = field(default_factory=dict)  # phase -> peak/largest/ops
    kv_cache_bytes: int = 0
    kv_lengths: list[int] = field(default_factory=list)
    selection_layer: int | None = None
    leaked_bytes: int = 0
    findings: list[Finding] = field(default_factory=list)
    cache_dtypes: set[str] = field(default_factory=set)


def measure_request(
    model, probe: MemoryProbe, method: PruningMethod, tokens: int, decode_steps: int, chunk: int
) -> Measured:
    """Prefill ``tokens`` fake token ids and ``decode_steps`` static decode steps under ``method``."""
    config = model.config
    low_precision = model.dtype in (torch.bfloat16, torch.float16)
    probe.limits = Limits(tokens, config.vocab_size, config.hidden_size, low_precision)
    probe.findings = []
    before = probe.live
    prompt = torch.zeros(tokens, dtype=torch.long, device=model.device)
    result = generate(
        model,
        None,
        prompt,
        method,
        max_new_tokens=decode_steps + 1,
        ignore_eos=True,
        stop_token_ids=[],
        decode_mode="static",
        mlp_chunk=chunk,
        kernel=FUSED_KERNEL,
        memory=lambda device: ProbeMeter(probe),
    )
    del prompt
    phases = {
        name: {"peak": s.peak_bytes, "largest": s.largest_tensor_bytes, "ops": s.ops}
        for name, s in probe.phases.items()
        if name in ("prefill", "decode")
    }
    return Measured(
        phases=phases,
        kv_cache_bytes=result.kv_cache_bytes,
        kv_lengths=list(result.kv_lengths),
        selection_layer=result.selection_layer,
        leaked_bytes=probe.live - before,
        findings=list(probe.findings),
    )
