"""Prompt profiles (benchmarks.md §1.3, §2.4, docs/benchmarks.md "Prompt profiles").

- ``official``: the benchmarks' own raw prompts (InfiniteBench yarn_mistral, RULER ``base``, the NIAH texts),
  task + answer prefix, encoded with the tokenizer's special tokens (BOS).
- ``chat``: the tokenizer's chat template, task in the user turn, answer prefix pre-filled in the assistant
  turn (a project choice; official content).
- ``reference``: what TANIGUCHIREI/ASL @ 9e1ec0c ran: InfiniteBench and the ASL NIAH prompt in the system
  role of the chat template; RULER in its hand-written llama3.1 / qwen2.5 / phi3.5 wrappers (system prompt
  "You are a helpful assistant.", "You is ..." on single-needle tasks, cwe's one-shot as its own wrapped
  turn); the chat-templated text is encoded with ``tokenizer.encode`` defaults, as [ref] does.
"""

from __future__ import annotations

from typing import Any

from eval.errors import BenchmarkError
from eval.schema import Example
from eval.templates import load
from eval.truncation import middle_truncate

PROFILES = ("official", "chat", "reference")
_RULER = load("ruler")
REF_WRAPPERS: dict[str, str] = _RULER["wrappers"]["reference"]
REF_WRAPPER_TOKENS: dict[str, str] = _RULER["wrapper_tokens"]
# Kept for callers of the old names: the [ref] wrappers with a {task} slot.
REF_RULER_LLAMA31 = REF_WRAPPERS["llama3.1"].replace("{task_template}", "{task}")
REF_RULER_QWEN25 = REF_WRAPPERS["qwen2.5"].replace("{task_template}", "{task}")


def _check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise BenchmarkError(f"unknown prompt profile {profile!r}; choose one of {', '.join(PROFILES)}")


def _check_content(example: Example, profile: str) -> None:
    content = example.meta.get("content")
    want = "reference" if profile == "reference" else "official"
    if content is not None and content != want:
        raise BenchmarkError(
            f"{example.task} example {example.id!r} was built for {content} content; render it with "
            f"{'profile=reference' if content == 'reference' else 'profile=official or chat'}"
        )


def _chat(tokenizer: Any, role: str, content: str) -> str:
    if not getattr(tokenizer, "chat_template", None):
        raise BenchmarkError("profile needs a tokenizer with a chat template; use profile=official")
    return tokenizer.apply_chat_template(
        [{"role": role, "content": content}], tokenize=False, add_generation_prompt=True
    )


def ruler_reference_wrapper(tokenizer: Any) -> str:
    """[ref]'s hand-written RULER wrapper (with a ``{task_template}`` slot) for the tokenizer's model family."""
    vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
    for name, token in REF_WRAPPER_TOKENS.items():
        if token in vocab:
            return REF_WRAPPERS[name]
    raise BenchmarkError(
        "profile=reference has RULER wrappers only for Llama-3.1, Qwen2.5 and Phi-3.5-style tokenizers"
    )


def _ruler_reference(example: Example, tokenizer: Any, task: str) -> str:
    from eval.ruler.common import singularize

    wrapper = ruler_reference_wrapper(tokenizer)
    if example.meta.get("singular"):
        wrapper = singularize(
            wrapper
        )  # [ref] rewrites the whole wrapped template: "You is a helpful assistant."
    head, _, tail = wrapper.partition("{task_template}")
    turns = "".join(head + t["user"] + tail + t["assistant"] + "\n" for t in example.meta.get("turns") or [])
    return turns + head + task + tail + example.answer_prefix


def build_prompt_text(example: Example, tokenizer: Any, profile: str = "chat") -> tuple[str, bool]:
    """The full prompt string and whether it already contains the model's special tokens."""
    _check_profile(profile)
    _check_content(example, profile)
    task = example.task_text()
    sep = example.meta.get("prefix_sep", "")
    if profile == "official" or (profile == "reference" and example.task == "niah_kv"):
        return task + sep + example.answer_prefix, False  # niah_kv: the KV papers send raw text
    if profile == "chat":
        return _chat(tokenizer, "user", task) + example.answer_prefix.strip(), True
    if example.benchmark == "ruler":
        return _ruler_reference(example, tokenizer, task), True
    # [ref] InfiniteBench / NIAH: the whole raw prompt in the system role, then the generation prompt.
    return _chat(tokenizer, "system", task + sep + example.answer_prefix), True


def _encode(example: Example, tokenizer: Any, profile: str) -> list[int]:
    text, templated = build_prompt_text(example, tokenizer, profile)
    # [ref] calls tokenizer.encode(text) on the templated string, so its special tokens (a second BOS for
    # Llama-3) are added too; chat adds none to the template's own.
    special = True if profile == "reference" else not templated
    return list(tokenizer.encode(text, add_special_tokens=special))


def build_prompt_ids(
    example: Example, tokenizer: Any, profile: str = "chat", max_prompt_tokens: int | None = None
) -> tuple[list[int], dict[str, Any]]:
    """Token ids of the prompt, middle-truncated to ``max_prompt_tokens``; plus a truncation record."""
    ids, info = middle_truncate(_encode(example, tokenizer, profile), max_prompt_tokens)
    info["profile"] = profile
    return ids, info


def count_prompt_tokens(example: Example, tokenizer: Any, profile: str = "chat") -> int:
    """Prompt length in tokens under ``profile`` (no truncation); used by the generators' sizing."""
    return len(_encode(example, tokenizer, profile))
