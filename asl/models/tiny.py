"""Random-weight tiny Llama / Qwen2 models built in code (tests and the efficiency bench); no downloads."""

from __future__ import annotations

from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedModel


def build_random_model(config: dict[str, Any], dtype: torch.dtype = torch.float32) -> PreTrainedModel:
    """Build a causal LM with random weights from a plain config dict (``model_type`` + HF fields).

    The optional ``seed`` key makes the weights reproducible.
    """
    config = dict(config)
    seed = int(config.pop("seed", 0))
    model_type = config.pop("model_type")
    rope_theta = config.pop("rope_theta", None)
    hf_config = AutoConfig.for_model(model_type, **config)
    if rope_theta is not None:
        hf_config.rope_parameters = {"rope_type": "default", "rope_theta": float(rope_theta)}
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = AutoModelForCausalLM.from_config(hf_config, dtype=dtype)
    finally:
        torch.random.set_rng_state(generator_state)
    return model.eval()
