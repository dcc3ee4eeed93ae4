"""Real-token benchmark prompts of an exact length: a RULER-niah-like multi-key needle task.

A haystack of seeded filler sentences holds several "magic number" needles; the question asks for one of
them. With a chat tokenizer the prompt is wrapped in the model's chat template. Tokenizer-less random
models get the same text tokenised with a fallback tokenizer (ids taken modulo the vocab), or seeded
random ids when no tokenizer is available.
"""

from __future__ import annotations

import random
from typing import Any

import torch

FILLER = (
    "The river bends twice before it reaches the old mill.",
    "Most of the harvest was stored in the northern barn that autumn.",
    "A quiet wind moved across the hills and bent the tall grass.",
    "The committee postponed its decision until the spring meeting.",
    "Several travellers stopped at the inn to wait out the storm.",
    "The library kept its rarest maps in a locked cabinet by the window.",
    "Children played by the fountain while the bells rang noon.",
    "The engineer checked the bridge supports one more time before dusk.",
    "Fresh bread from the bakery sold out within the first hour.",
    "An old ship lay at anchor in the harbour, its sails folded.",
    "The mountain road was closed after the first heavy snowfall.",
    "Letters from the capital arrived once a week by coach.",
)
KEYS = ("amber-falcon", "silver-otter", "quiet-meadow", "copper-lantern", "hidden-orchard", "north-harbor")
INSTRUCTION = (
    "Some special magic numbers are hidden within the following text. Make sure to memorize them. "
    "I will quiz you about the numbers afterwards.\n"
)


def _encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _template_parts(tokenizer: Any, chat: bool) -> tuple[str, str]:
    """Text before and after the user content in the tokenizer's chat template (plain if none)."""
    marker = "\u2063CONTENT\u2063"
    if chat and getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": marker}], tokenize=False, add_generation_prompt=True
        )
        if marker in text:
            before, after = text.split(marker, 1)
            return before, after
    bos = getattr(tokenizer, "bos_token", None) or ""
    return bos, "\n"


def niah_prompt_ids(tokenizer: Any, length: int, seed: int = 0, chat: bool = True) -> list[int]:
    """An exactly ``length``-token needle-in-a-haystack prompt (chat template included when asked/present)."""
    rng = random.Random(seed)
    num_needles = 4 if length >= 512 else 1
    keys = rng.sample(KEYS, num_needles)
    values = [rng.randrange(1_000_000, 9_999_999) for _ in keys]
    asked = rng.randrange(num_needles)
    before, after = _template_parts(tokenizer, chat)
    question = (
        f"\nWhat is the special magic number for {keys[asked]} mentioned in the provided text?"
        f"{after}The special magic number for {keys[asked]} mentioned in the provided text is"
    )
    head = _encode(tokenizer, before + INSTRUCTION)
    tail = _encode(tokenizer, question)
    needles = [
        _encode(tokenizer, f" One of the special magic numbers for {k} is: {v}.")
        for k, v in zip(keys, values, strict=True)
    ]
    room = length - len(head) - len(tail) - sum(len(n) for n in needles)
    if room < 8:  # very short prompts (tests): filler and the needle alone, without the instruction
        head = _encode(tokenizer, before) if before else []
        tail = tail[-min(len(tail), length // 4) :]
        room = length - len(head) - len(tail) - sum(len(n) for n in needles)
    if room < 1:
        raise ValueError(f"prompt length {length} is too short for the needle task")
    hay: list[int] = []
    while len(hay) < room:
        hay.extend(_encode(tokenizer, " " + rng.choice(FILLER)))
    hay = hay[:room]
    depths = sorted(rng.uniform(0.05, 0.95) for _ in needles)
    for depth, needle in sorted(zip(depths, needles, strict=True), key=lambda x: -x[0]):
        pos = int(depth * len(hay))
        hay[pos:pos] = needle
    ids = head + hay + tail
    assert len(ids) == length, (len(ids), length)
    return ids


def random_prompt_ids(vocab_size: int, length: int, seed: int = 0) -> list[int]:
    """Seeded uniform random token ids (never all-ones)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab_size, (length,), generator=gen).tolist()


def build_prompt_ids(
    kind: str,
    length: int,
    vocab_size: int,
    tokenizer: Any | None = None,
    fallback_tokenizer: Any | None = None,
    seed: int = 0,
) -> tuple[list[int], str]:
    """Prompt ids of exactly ``length`` tokens and a label saying how they were made."""
    if kind == "random":
        return random_prompt_ids(vocab_size, length, seed), "random_ids"
    if kind != "niah":
        raise ValueError(f"unknown prompt kind {kind!r}; choose niah or random")
    if tokenizer is not None:
        return niah_prompt_ids(tokenizer, length, seed), "niah_model_tokenizer"
    if fallback_tokenizer is not None:
        ids = niah_prompt_ids(fallback_tokenizer, length, seed, chat=False)
        return [i % vocab_size for i in ids], "niah_embedded_tokenizer_mod_vocab"
    return random_prompt_ids(vocab_size, length, seed), "random_ids(no tokenizer)"
