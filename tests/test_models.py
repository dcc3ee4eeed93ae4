"""Model registry, loader errors, per-model defaults, and the embedded SmolLM2 model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from asl import build_method, generate, load_model
from asl.engine import resolve_method
from asl.models import get_model_spec, registry_names
from asl.models.embedded import checkpoint_dir


def test_registry_lists_every_model():
    assert {"smollm2_135m", "llama31_8b_ul", "qwen25_7b", "tiny_llama", "tiny_qwen2"} <= set(registry_names())


def test_unknown_model_is_a_one_line_error_listing_the_registry():
    with pytest.raises(ValueError) as err:
        load_model("gpt5")
    assert "smollm2_135m" in str(err.value) and "\n" not in str(err.value)


LAYER_KEYS = {"asl": "l_min", "fastkv": "tsp_layer", "gemfilter": "filter_layer"}


def resolved_layers(spec, num_layers: int) -> dict:
    """The layer each method takes on a model spec (its preset, else the method's policy)."""
    return {
        key: getattr(build_method(name).resolved(spec.layer_defaults(), num_layers), key)
        for name, key in LAYER_KEYS.items()
    }


def test_paper_model_presets():
    llama, qwen = get_model_spec("llama31_8b_ul"), get_model_spec("qwen25_7b")
    assert llama.path == "nvidia/Llama-3.1-8B-UltraLong-1M-Instruct"
    assert resolved_layers(llama, 32) == {"l_min": 10, "tsp_layer": 15, "filter_layer": 13}
    assert qwen.path == "Qwen/Qwen2.5-7B-Instruct-1M"
    assert resolved_layers(qwen, 28) == {"l_min": 9, "tsp_layer": 14, "filter_layer": 14}
    assert "<|eot_id|>" in llama.stop_tokens and "<|im_end|>" in qwen.stop_tokens
    assert not llama.trust_remote_code and not qwen.trust_remote_code


def test_reference_preset_is_the_reference_scripts():
    """[ref] scripts: L_min 10, TSP 15, filter 13 for every model; Llama's SnapKV keeps layers 0-4 whole."""
    for name, layers in (("llama31_8b_ul", 32), ("qwen25_7b", 28)):
        spec = dataclasses.replace(get_model_spec(name), layer_preset="reference")
        assert resolved_layers(spec, layers) == {"l_min": 10, "tsp_layer": 15, "filter_layer": 13}
    llama = dataclasses.replace(get_model_spec("llama31_8b_ul"), layer_preset="reference")
    assert build_method("snapkv").resolved(llama.layer_defaults(), 32).uncompressed_layers == (0, 1, 2, 3, 4)
    qwen = dataclasses.replace(get_model_spec("qwen25_7b"), layer_preset="reference")
    assert build_method("snapkv").resolved(qwen.layer_defaults(), 28).uncompressed_layers == ()


def test_unknown_layer_preset_is_a_one_line_error():
    spec = dataclasses.replace(get_model_spec("qwen25_7b"), layer_preset="paper")
    with pytest.raises(ValueError, match="unknown layer_preset 'paper'; choose one of: reference, spec"):
        spec.layer_defaults()


def test_relative_depth_policy_reproduces_the_llama_values_without_a_preset():
    """Methods carry the relative-depth rule (methods.md §8); it gives the paper's Llama layers."""
    bare = dataclasses.replace(get_model_spec("llama31_8b_ul"), layer_preset=None)
    assert resolved_layers(bare, 32) == {"l_min": 10, "tsp_layer": 15, "filter_layer": 13}
    assert resolved_layers(get_model_spec("smollm2_135m"), 30) == {
        "l_min": 10,
        "tsp_layer": 14,
        "filter_layer": 12,
    }


def test_engine_resolves_from_the_spec_attached_to_the_model(tiny_llama):
    assert resolve_method(build_method("asl"), tiny_llama).l_min == 3  # tiny_llama.yaml preset
    spec = dataclasses.replace(tiny_llama.asl_spec, layer_presets={"spec": {"l_min": 5}})
    model, _ = load_model(spec)
    assert model.asl_spec.layer_presets == {"spec": {"l_min": 5}}
    assert resolve_method(build_method("asl"), model).l_min == 5


def test_tiny_models_are_gqa_and_deterministic():
    a, tok = load_model("tiny_llama")
    b, _ = load_model("tiny_llama")
    assert tok is None
    assert a.config.num_hidden_layers >= 6 and a.config.num_attention_heads > a.config.num_key_value_heads
    assert all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )
    q, _ = load_model("tiny_qwen2")
    assert type(q).__name__ == "Qwen2ForCausalLM" and q.config.num_key_value_heads == 2


@pytest.mark.embedded
def test_embedded_model_architecture_and_answer(embedded):
    model, tokenizer = embedded
    config = model.config
    assert (config.num_hidden_layers, config.num_attention_heads, config.num_key_value_heads) == (30, 9, 3)
    assert config.max_position_embeddings == 8192 and next(model.parameters()).dtype == torch.float32
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_dict=True,
    )["input_ids"]
    result = generate(model, tokenizer, ids, build_method("fullkv"), max_new_tokens=16)
    assert "Paris" in result.text


@pytest.mark.embedded
def test_embedded_loads_from_the_safetensors_cache(embedded):
    """Later loads read the dequantised checkpoint, not the GGUF (timings live in the closing note)."""
    model, tokenizer = embedded
    checkpoint = checkpoint_dir(get_model_spec("smollm2_135m"))
    assert (checkpoint / "config.json").is_file() and any(checkpoint.glob("*.safetensors"))
    assert Path(model.config._name_or_path) == checkpoint
    assert getattr(model.config, "quantization_config", None) is None
    assert tokenizer.eos_token == "<|im_end|>"
