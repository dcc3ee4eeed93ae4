"""The prompt of a request: token ids as given, or a string under the tokenizer's chat template."""

from __future__ import annotations

from typing import Any

import torch


def chat_ids(text: str, tokenizer: Any) -> list[int]:
    """``text`` as one user turn of the tokenizer's chat template, with the generation prompt."""
    if tokenizer is None:
        raise ValueError("a string prompt needs a tokenizer (this model has none): pass token ids instead")
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError("a string prompt needs a chat template, and this tokenizer has none: pass token ids")
    if not text:
        raise ValueError("the prompt is an empty string")
    encoded = tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], add_generation_prompt=True, return_dict=True
    )
    return list(encoded["input_ids"])


def as_input_ids(prompt: Any, tokenizer: Any, device: torch.device) -> torch.Tensor:
    """[1, N] token ids on ``device`` from a 1-D id sequence ([1, N] too) or a string (chat template)."""
    if isinstance(prompt, str):
        prompt = chat_ids(prompt, tokenizer)
    ids = torch.as_tensor(prompt, dtype=torch.long, device=device)
    if ids.dim() == 2 and ids.shape[0] == 1:
        ids = ids[0]
    if ids.dim() != 1 or ids.numel() == 0:
        raise ValueError(
            f"prompt_ids must be a non-empty 1-D sequence of token ids (batch size 1), got shape {tuple(ids.shape)}"
        )
    return ids.unsqueeze(0)
