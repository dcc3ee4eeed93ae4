"""Correctness of every method on the tiny random-weight models: decode modes, kernels, HF agreement.

fp32: the static decode step (a CUDA graph on CUDA) gives the eager loop's tokens up to near-ties (the
first differing token is accepted only where the two candidates' logits, recomputed by a plain forward
of the agreed prefix, are within ``NEAR_TIE``), and FullKV gives HF ``generate``'s. bf16: every method runs in both modes with the KV its arithmetic states; token agreement
is reported (rounding may flip near-ties). FlashAttention-2 (bf16, when importable on CUDA): every method
runs through HF's flash wrapper; agreement with SDPA is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from asl.gpucheck.summary import Summary
from asl.methods.registry import build_method, list_methods, method_node

#: decode modes compared (eager is the reference): the static step as a CUDA graph and without one
MODES = {"eager": "eager", "static_nograph": "static (no graph)", "static": "static (graph)"}


def small_method(name: str, small: dict[str, Any]) -> Any:
    """Method ``name`` with the ``small`` overrides it has keys for (tiny-model budgets)."""
    node = method_node(name)
    return build_method(name, **{k: v for k, v in small.items() if k in node})


#: fp32 logit gap below which two greedy choices are a near-tie (kernels summing in different orders may
#: pick either; relative differences of fp32 reductions are ~1e-6, random tiny-model logits are O(1))
NEAR_TIE = 1e-3


def first_difference(a: list[int], b: list[int]) -> int | None:
    """Index of the first differing token (None when equal)."""
    if a == b:
        return None
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def agree_up_to_ties(
    a: list[int], b: list[int], gap: Callable[[list[int], int, int], float], tol: float = NEAR_TIE
) -> tuple[bool, str]:
    """Whether ``a`` and ``b`` agree, or first differ where the two choices are a near-tie.

    ``gap(prefix, x, y)`` is |logit x - logit y| after the agreed ``prefix`` (a reference forward).
    Only the first difference is judged: the sequences legitimately differ after it.
    """
    at = first_difference(a, b)
    if at is None:
        return True, "identical"
    if at >= min(len(a), len(b)):
        return False, f"lengths differ after {at} agreed tokens"
    g = gap(a[:at], a[at], b[at])
    ok = g < tol
    return (
        ok,
        f"first {at} of {len(a)} tokens agree; then a {'near-tie' if ok else 'real difference'} (gap {g:.2e})",
    )


def logit_gap(model: Any, prompt: torch.Tensor) -> Callable[[list[int], int, int], float]:
    """``gap`` for :func:`agree_up_to_ties`: one fp32 HF forward of prompt + prefix."""

    @torch.inference_mode()
    def gap(prefix: list[int], x: int, y: int) -> float:
        ids = torch.cat(
            [prompt.view(1, -1), torch.tensor([prefix], dtype=torch.long, device=prompt.device)], 1
        )
        logits = model(ids).logits[0, -1].float()
        return float((logits[x] - logits[y]).abs())

    return gap


def _agreement(a: list[int], b: list[int]) -> str:
    same = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return "identical" if a == b else f"first {same} of {len(a)} tokens agree"


def _hf_greedy(model: Any, prompt: torch.Tensor, steps: int) -> list[int]:
    out = model.generate(prompt, max_new_tokens=steps, min_new_tokens=steps, do_sample=False, pad_token_id=0)
    return out[0, prompt.shape[1] :].tolist()


def decode_modes(summary: Summary, section: str, model_name: str, device: str, dtype: str, cfg: Any) -> None:
    """Eager and static decoding of every method on ``model_name`` (exact in fp32, reported in bf16)."""
    from asl import generate, load_model
    from asl.engine import resolve_method

    model, _ = load_model(model_name, device=device, dtype=dtype)
    generator = torch.Generator().manual_seed(7)
    prompt = torch.randint(0, model.config.vocab_size, (1, cfg.prompt_len), generator=generator).to(device)
    exact = dtype == "float32"
    where = f"{model_name} {dtype} on {device}"
    for name in list_methods():
        method = small_method(name, dict(cfg.small))
        try:
            runs = {
                mode: generate(
                    model, None, prompt[0], method, cfg.new_tokens, ignore_eos=True, decode_mode=mode
                )
                for mode in MODES
            }
        except Exception as exc:  # noqa: BLE001 - any failure is a finding of the check
            summary.add(section, "FAIL", f"{where} {name}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            continue
        eager = runs["eager"]
        expected = resolve_method(method, model)
        kv_ok = eager.kv_lengths == expected.kv_lengths(
            cfg.prompt_len, len(eager.kv_lengths), eager.selection_layer
        )
        parts, ok = [], kv_ok
        for mode in list(MODES)[1:]:
            other = runs[mode]
            if exact:
                same, agree = agree_up_to_ties(eager.token_ids, other.token_ids, logit_gap(model, prompt[0]))
            else:
                same, agree = True, _agreement(eager.token_ids, other.token_ids)
            ok = ok and same
            parts.append(f"{MODES[mode]} vs eager {agree}")
        graphed = runs["static"].decode_graph
        if device == "cuda" and not graphed and not method.decode_eviction:  # those decode eager by design
            ok = False
        summary.add(
            section,
            "PASS" if ok else "FAIL",
            f"{where} {name}: {'; '.join(parts)}; graph: {runs['static'].decode_graph_status}; "
            f"KV {'ok' if kv_ok else 'WRONG'}",
        )
    if exact:
        full = generate(model, None, prompt[0], build_method("fullkv"), cfg.new_tokens, ignore_eos=True)
        hf = _hf_greedy(model, prompt, cfg.new_tokens)
        status = "PASS" if full.token_ids == hf else "FAIL"
        summary.add(section, status, f"{where} fullkv vs HF generate: {_agreement(hf, full.token_ids)}")
    del model
    if device == "cuda":
        torch.cuda.empty_cache()


def flash_attention(summary: Summary, section: str, model_name: str, cfg: Any) -> None:
    """Every method through HF's flash_attention_2 wrapper (bf16, CUDA) against SDPA."""
    from asl import generate, load_model
    from asl.models.loading import flash_attn_status

    usable, why = flash_attn_status()
    if not usable:
        summary.add(section, "SKIP", f"{why}: FlashAttention-2 skipped (SDPA ran)")
        return
    flash, _ = load_model(
        model_name, device="cuda", dtype="bfloat16", attn_implementation="flash_attention_2"
    )
    sdpa, _ = load_model(model_name, device="cuda", dtype="bfloat16", attn_implementation="sdpa")
    generator = torch.Generator().manual_seed(8)
    prompt = torch.randint(0, flash.config.vocab_size, (cfg.prompt_len,), generator=generator).tolist()
    for name in list_methods():
        method = small_method(name, dict(cfg.small))
        try:
            a = generate(flash, None, prompt, method, cfg.new_tokens, ignore_eos=True)
            b = generate(sdpa, None, prompt, method, cfg.new_tokens, ignore_eos=True)
        except Exception as exc:  # noqa: BLE001
            summary.add(
                section, "FAIL", f"{model_name} {name}: {type(exc).__name__}: {str(exc).splitlines()[0]}"
            )
            continue
        ok = a.attention_kernel == "flash_attention_2" and a.kv_lengths == b.kv_lengths
        summary.add(
            section,
            "PASS" if ok else "FAIL",
            f"{model_name} bf16 {name}: {a.attention_kernel} vs sdpa {_agreement(b.token_ids, a.token_ids)}",
        )
    del flash, sdpa
    torch.cuda.empty_cache()


def forced_capture_failure(
    summary: Summary, section: str, model_name: str, cfg: Any, device: str = "cuda"
) -> None:
    """A capture that raises: every request falls back to the eager static step with the same tokens, the
    failure is recorded once and not retried, and allocated memory does not grow over 3 requests."""
    from asl import generate, load_model
    from asl.engine import graphs

    model, _ = load_model(model_name, device=device, dtype="bfloat16")
    prompt = torch.randint(
        0, model.config.vocab_size, (cfg.prompt_len,), generator=torch.Generator().manual_seed(9)
    )
    method = small_method("snapkv", dict(cfg.small))
    reference = generate(
        model, None, prompt.tolist(), method, cfg.new_tokens, ignore_eos=True, decode_mode="static_nograph"
    )

    def broken(step, dev):
        raise RuntimeError("forced capture failure (make gpu-check)")

    real, graphs.capture_graph = graphs.capture_graph, broken
    try:
        runs, memory = [], []
        for _ in range(3):
            runs.append(
                generate(
                    model,
                    None,
                    prompt.tolist(),
                    method,
                    cfg.new_tokens,
                    ignore_eos=True,
                    decode_mode="static",
                )
            )
            if device == "cuda":
                torch.cuda.synchronize()
                memory.append(torch.cuda.memory_allocated())
    finally:
        graphs.capture_graph = real
    statuses = [r.decode_graph_status for r in runs]
    growth = (memory[-1] - memory[0]) if memory else 0
    ok = (
        all(r.token_ids == reference.token_ids and not r.decode_graph for r in runs)
        and "capture failed" in statuses[0]
        and all("not retried" in st for st in statuses[1:])
        and growth <= 2**20
    )
    summary.add(
        section,
        "PASS" if ok else "FAIL",
        f"{model_name} forced capture failure: tokens {'equal' if ok else 'checked'} to the no-graph step; "
        f"statuses {statuses[0]!r}, then {statuses[1]!r}; allocated memory growth over 3 requests {growth} bytes",
    )
