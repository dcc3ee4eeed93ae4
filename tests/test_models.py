"""Model registry, loader errors, per-model defaults, and the embedded SmolLM2 model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from asl import build_method, generate, load_model
from asl.models import get_model_spec, registry_names
from asl.models.embedded import checkpoint_dir
from asl.models.registry import method_layer_defaults, relative_depth_defaults


def test_registry_lists_every_model():
    assert {"smollm2_135m", "llama31_8b_ul", "qwen25_7b", "tiny_llama", "tiny_qwen2"} <= set(registry_names())


def test_unknown_model_is_a_one_line_error_listing_the_registry():
    with pytest.raises(ValueError) as err:
        load_model("gpt5")
    assert "smollm2_135m" in str(err.value) and "\n" not in str(err.value)


def test_paper_model_defaults():
    llama, qwen = get_model_spec("llama31_8b_ul"), get_model_spec("qwen25_7b")
    assert llama.path == "nvidia/Llama-3.1-8B-UltraLong-1M-Instruct"
    assert method_layer_defaults(llama, 32) == {"l_min": 10, "tsp_layer": 15, "filter_layer": 13}
    assert qwen.path == "Qwen/Qwen2.5-7B-Instruct-1M"
    assert method_layer_defaults(qwen, 28) == {"l_min": 9, "tsp_layer": 14, "filter_layer": 14}
    assert "<|eot_id|>" in llama.stop_tokens and "<|im_end|>" in qwen.stop_tokens
    assert not llama.trust_remote_code and not qwen.trust_remote_code


def test_relative_depth_rule_reproduces_the_llama_values():
    assert relative_depth_defaults(32) == {"l_min": 10, "tsp_layer": 15, "filter_layer": 13}
    assert relative_depth_defaults(30) == get_model_spec("smollm2_135m").method_defaults


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
