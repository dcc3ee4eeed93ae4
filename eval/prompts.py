"""Prompt profiles: ``official`` (raw), ``chat`` (tokenizer template) and ``reference`` ([ref] wrappers).

See benchmarks.md §1.3, §2.4 and §5.5. Every profile keeps the answer prefix at the very end of the
prompt so that the model continues it; ``chat`` pre-fills it in the assistant turn.
"""

from __future__ import annotations

from typing import Any

from eval.errors import BenchmarkError
from eval.schema import Example
from eval.truncation import middle_truncate

PROFILES = ("official", "chat", "reference")

# [ref] hand-written RULER wrappers (benchmarks.md §2.4), reproduced byte for byte.
REF_RULER_LLAMA31 = (
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>You are a helpful assistant.<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>{task}<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
)
REF_RULER_QWEN25 = (
    "<|im_start|>system \n You are a helpful assistant.<|im_end|><|im_start|>user \n {task}<|im_end|>"
    "<|im_start|>assistant \n "
)


def _check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise BenchmarkError(f"unknown prompt profile {profile!r}; choose one of {', '.join(PROFILES)}")


def _chat(tokenizer: Any, role: str, content: str) -> str:
    if not getattr(tokenizer, "chat_template", None):
        raise BenchmarkError("profile needs a tokenizer with a chat template; use profile=official")
    return tokenizer.apply_chat_template(
        [{"role": role, "content": content}], tokenize=False, add_generation_prompt=True
    )


def ruler_reference_wrapper(tokenizer: Any) -> str:
    """Pick [ref]'s hand-written RULER wrapper from the tokenizer's special tokens."""
    vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
    if "<|start_header_id|>" in vocab:
        return REF_RULER_LLAMA31
    if "<|im_start|>" in vocab:
        return REF_RULER_QWEN25
    raise BenchmarkError(
        "profile=reference has RULER wrappers only for Llama-3.1 and Qwen2.5-style tokenizers"
    )


def build_prompt_text(example: Example, tokenizer: Any, profile: str = "chat") -> tuple[str, bool]:
    """The full prompt string and whether it already contains the model's special tokens."""
    _check_profile(profile)
    task = example.task_text()
    sep = example.meta.get("prefix_sep", "")
    if profile == "official":
        return task + sep + example.answer_prefix, False
    if profile == "chat":
        return _chat(tokenizer, "user", task) + example.answer_prefix.strip(), True
    if example.benchmark == "ruler":
        return ruler_reference_wrapper(tokenizer).replace("{task}", task) + example.answer_prefix, True
    # [ref] InfiniteBench / NIAH: the whole raw prompt in the system role, then the generation prompt.
    return _chat(tokenizer, "system", task + sep + example.answer_prefix), True


def build_prompt_ids(
    example: Example, tokenizer: Any, profile: str = "chat", max_prompt_tokens: int | None = None
) -> tuple[list[int], dict[str, Any]]:
    """Token ids of the prompt, middle-truncated to ``max_prompt_tokens``; plus a truncation record."""
    text, templated = build_prompt_text(example, tokenizer, profile)
    ids = tokenizer.encode(text, add_special_tokens=not templated)
    ids, info = middle_truncate(ids, max_prompt_tokens)
    info["profile"] = profile
    return ids, info


def count_prompt_tokens(example: Example, tokenizer: Any, profile: str = "chat") -> int:
    """Prompt length in tokens under ``profile`` (no truncation); used by the generators' sizing."""
    text, templated = build_prompt_text(example, tokenizer, profile)
    return len(tokenizer.encode(text, add_special_tokens=not templated))
