"""Section (1) of ``make gpu-check``: which attention kernels this machine actually gives the engine."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from asl.gpucheck.summary import Summary


def _shapes(device: torch.device) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor, bool]]:
    """Prefill-like (square, causal, GQA 32/8) and decode-like (one query) bf16 calls."""
    g = torch.Generator(device=device).manual_seed(0)

    def r(*shape):
        return torch.randn(*shape, generator=g, device=device, dtype=torch.bfloat16)

    return {
        "prefill 4096 causal GQA": (r(1, 32, 4096, 128), r(1, 8, 4096, 128), r(1, 8, 4096, 128), True),
        "decode 1 x 8192 GQA": (r(1, 32, 1, 128), r(1, 8, 8192, 128), r(1, 8, 8192, 128), False),
    }


def kernels(summary: Summary, section: str, device: Any = "cuda") -> None:
    """flash-attn's import and the engine's choice; each SDPA backend with the math fallback disabled."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from asl.models.loading import choose_attn_implementation, flash_attn_status

    dev = torch.device(device)
    usable, why = flash_attn_status()
    summary.add(section, "INFO", f"flash-attn: {why}")
    choice = choose_attn_implementation("auto", dev, torch.bfloat16)
    summary.add(section, "INFO", f"engine's bf16 prefill kernel: {choice.implementation} ({choice.reason})")
    backends = {
        "flash": SDPBackend.FLASH_ATTENTION,
        "efficient": SDPBackend.EFFICIENT_ATTENTION,
        "cudnn": SDPBackend.CUDNN_ATTENTION,
    }
    for shape, (q, k, v, causal) in _shapes(dev).items():
        with sdpa_kernel([SDPBackend.MATH]):
            ref = F.scaled_dot_product_attention(
                q.float(), k.float(), v.float(), is_causal=causal, enable_gqa=True
            )
        ran = []
        for name, backend in backends.items():
            try:
                with sdpa_kernel([backend]):
                    out = F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
            except RuntimeError as exc:
                summary.add(
                    section,
                    "INFO",
                    f"SDPA {name} on {shape}: not available ({str(exc).splitlines()[0][:120]})",
                )
                continue
            err = float((out.float() - ref).abs().max())
            ok = err < 0.05
            ran.append(name) if ok else None
            summary.add(
                section, "PASS" if ok else "FAIL", f"SDPA {name} on {shape}: max |error| {err:.1e} vs math"
            )
        summary.add(
            section,
            "PASS" if ran else "FAIL",
            f"{shape}: {', '.join(ran) or 'no'} non-math SDPA backend runs (math disabled)",
        )
