"""Paper-scale models on fake tensors: the registered random-weight shapes, built on the meta device and
materialised under ``FakeTensorMode`` (no memory, no compute), with the model's spec attached."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import torch
from torch._subclasses.fake_tensor import FakeTensorMode
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedModel

from asl.models.registry import ModelSpec, get_model_spec

#: the device the fake tensors report. The CPU build of PyTorch cannot index fake CUDA tensors (Python
#: indexing takes a CUDA device guard), so the fake tensors live on ``meta``: a host tensor meeting a
#: model tensor still fails as it would on a GPU (FakeTensorDeviceMismatchError); what the check cannot
#: see is CUDA-only dispatch (SDPA backend choice, CUDA graphs), which `make gpu-check` covers.
FAKE_DEVICE = "meta"


def hf_config(spec: ModelSpec) -> Any:
    """The HF config of a registered model's random-weight shape (``random_config`` of its YAML)."""
    config = dict(spec.random_config)
    if not config:
        raise ValueError(f"model {spec.name!r} has no random_config: its shape is unknown")
    config.pop("seed", None)
    model_type = config.pop("model_type")
    rope_theta = config.pop("rope_theta", None)
    out = AutoConfig.for_model(model_type, **config)
    if rope_theta is not None:
        out.rope_parameters = {"rope_type": "default", "rope_theta": float(rope_theta)}
    return out


def materialise(model: torch.nn.Module, device: str = FAKE_DEVICE) -> None:
    """Replace every meta parameter and buffer by a tensor of the same shape and dtype created under the
    active modes (fake tensors under ``FakeTensorMode``)."""
    for module in model.modules():
        for name, param in list(module._parameters.items()):
            if param is not None:
                fresh = torch.empty(param.shape, dtype=param.dtype, device=device)
                module._parameters[name] = torch.nn.Parameter(fresh, requires_grad=False)
        for name, buffer in list(module._buffers.items()):
            if buffer is not None:
                module._buffers[name] = torch.empty(buffer.shape, dtype=buffer.dtype, device=device)


def build_fake_model(name: str, dtype: torch.dtype = torch.bfloat16) -> PreTrainedModel:
    """The registered model ``name`` with fake weights (call under ``FakeTensorMode``)."""
    spec = get_model_spec(name)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(hf_config(spec), dtype=dtype)
    materialise(model)
    model.config._attn_implementation = "sdpa"
    model.asl_spec = spec
    return model.eval()


@contextmanager
def fake_mode():
    """``FakeTensorMode`` for one model: every tensor created inside is fake; host constants (token ids
    built with ``torch.tensor``) become fake when they meet a fake op, and a host tensor meeting a model
    tensor in an op still fails (FakeTensorDeviceMismatchError)."""
    with FakeTensorMode(allow_non_fake_inputs=True):
        yield
