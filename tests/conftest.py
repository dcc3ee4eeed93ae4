"""Shared fixtures: tiny random Llama/Qwen2 models (built in code) and the embedded SmolLM2-135M."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")


@pytest.fixture(scope="session")
def tiny_llama():
    from asl import load_model

    model, _ = load_model("tiny_llama")
    return model


@pytest.fixture(scope="session")
def tiny_qwen2():
    from asl import load_model

    model, _ = load_model("tiny_qwen2")
    return model


@pytest.fixture(scope="session", params=["tiny_llama", "tiny_qwen2"])
def tiny_model(request):
    """Both tiny architectures (GQA 4/2 Llama and 6/2 Qwen2 with q/k/v bias)."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def embedded():
    """(model, tokenizer) of the embedded default, SmolLM2-135M-Instruct, float32 on CPU."""
    from asl import load_model

    return load_model("smollm2_135m")


@pytest.fixture(scope="session")
def embedded_tokenizer(embedded):
    return embedded[1]
