"""Conformance with kvpress on the embedded model: the harness's native SnapKV, StreamingLLM and PyramidKV
keep the same positions per layer and KV head as kvpress's presses once their conventions are aligned,
and the conventions where the harness deliberately differs are pinned (docs/methods.md, docs/kvpress.md).

The presses run two ways: through the engine (``method=kvpress``, the session calls ``press.score`` with
the attention module's captured input), and outside it, called directly on Hugging Face's own forward
(``output_hidden_states``, keys from ``k_proj`` + RoPE), as kvpress's hook would call them.
"""

from __future__ import annotations

import pytest
import torch

from asl import build_method
from asl.engine.generate import trace_prefill

pytestmark = pytest.mark.embedded

C, W, K = 128, 32, 7


@pytest.fixture(scope="module")
def prompt(embedded):
    _, tokenizer = embedded
    text = open("eval/data/areopagitica.txt").read()[:2400]
    messages = [{"role": "user", "content": text + "\nWhat is the speech about?"}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"]
    assert 2 * C < len(ids) < 1024
    return ids


def kept_keys(trace, layer: int) -> torch.Tensor:
    """The prompt keys layer ``layer`` cached, [H_kv, kept, d] (both sides store them ascending)."""
    return trace.cache.keys[layer][0, :, : trace.cache.prompt_lengths[layer]]


def row_sets(keys: torch.Tensor) -> list[list[tuple[float, ...]]]:
    """Each KV head's cached rows as a sorted list (presses with their own ``compress`` store them in
    their top-k order; the cache's order does not matter once RoPE is applied)."""
    return [sorted(map(tuple, head.tolist())) for head in keys]


def assert_same_kept(native, press, num_layers: int) -> None:
    for layer in range(num_layers):
        assert row_sets(kept_keys(native, layer)) == row_sets(kept_keys(press, layer)), f"layer {layer}"


def test_snapkv_equals_snapkvpress_with_aligned_conventions(embedded, prompt):
    """w = 32, avg-pool kernel 7 on both: kvpress's mean over the window and the GQA group ranks as the
    harness's sums, its window padded with the maximum score is SnapKV's kept window."""
    model, _ = embedded
    native = trace_prefill(model, prompt, build_method("snapkv", kv_budget=C, window=W, pool_kernel=K))
    press = trace_prefill(
        model, prompt, build_method("kvpress", press="SnapKVPress", kv_budget=C, window_size=W, kernel_size=K)
    )
    assert_same_kept(native, press, model.config.num_hidden_layers)


def test_snapkvpress_defaults_differ_from_snapkv(embedded, prompt):
    """kvpress's defaults (w = 64, kernel 5) keep other positions than the harness's (w = 32, kernel 7)."""
    model, _ = embedded
    native = trace_prefill(model, prompt, build_method("snapkv", kv_budget=C, window=W, pool_kernel=K))
    press = trace_prefill(model, prompt, build_method("kvpress", press="SnapKVPress", kv_budget=C))
    layers = model.config.num_hidden_layers
    assert (
        sum(not torch.equal(kept_keys(native, i), kept_keys(press, i)) for i in range(layers)) > layers // 2
    )


def test_streamingllm_equals_streamingllmpress(embedded, prompt):
    model, _ = embedded
    native = trace_prefill(model, prompt, build_method("streamingllm", kv_budget=C, num_sinks=4))
    press = trace_prefill(
        model, prompt, build_method("kvpress", press="StreamingLLMPress", kv_budget=C, n_sink=4)
    )
    assert_same_kept(native, press, model.config.num_hidden_layers)


def _kvpress_pyramid_budgets(num_layers: int, length: int, window: int, beta: int) -> list[int]:
    """kvpress PyramidKVPress's per-layer budget at the ratio that keeps C entries on average."""
    from types import SimpleNamespace

    from baselines.kvpress_support import kvpress_module, ratio_for_budget

    press = kvpress_module().PyramidKVPress(
        compression_ratio=ratio_for_budget(length, C), window_size=window, beta=beta
    )
    config = SimpleNamespace(num_hidden_layers=num_layers)
    return [
        press.get_layer_budget(SimpleNamespace(config=config, layer_idx=i), length) for i in range(num_layers)
    ]


def test_pyramidkv_scoring_equals_pyramidkvpress_at_kvpress_budgets(embedded, prompt):
    """Aligned (w = 8, kernel 7, beta = 4, so C >= beta * w and kvpress builds a pyramid): given kvpress's
    per-layer budgets, the harness's PyramidKV selection keeps kvpress's positions at every layer."""
    from baselines.pyramidkv import PyramidKV

    model, _ = embedded
    layers = model.config.num_hidden_layers
    budgets = _kvpress_pyramid_budgets(layers, len(prompt), 8, 4)
    assert budgets[0] > C > budgets[-1]

    class KvpressSchedule(PyramidKV):
        def budgets(self, num_layers, length=None):
            return budgets

    native = trace_prefill(
        model, prompt, KvpressSchedule(name="pyramidkv", kv_budget=C, window=8, pool_kernel=K, beta=4)
    )
    press = trace_prefill(
        model,
        prompt,
        build_method("kvpress", press="PyramidKVPress", kv_budget=C, window_size=8, kernel_size=K, beta=4),
    )
    assert list(press.cache.prompt_lengths) == budgets
    assert_same_kept(native, press, layers)


def test_pyramidkv_schedule_differs_from_kvpress_as_documented(embedded, prompt):
    """Documented differences (docs/methods.md, PyramidKV): the harness follows KVCache-Factory (the window
    added to every layer's pyramid share); kvpress puts the window inside the pyramid and falls back to
    SnapKV (C at every layer) when C < beta * w, which holds at every embedded budget (beta 20, w 32)."""
    model, _ = embedded
    layers, n = model.config.num_hidden_layers, len(prompt)
    assert _kvpress_pyramid_budgets(layers, n, W, 20) == [C] * layers
    native = build_method("pyramidkv", kv_budget=C, window=W, pool_kernel=K, beta=20).budgets(layers, n)
    assert native[0] > C > native[-1] and sum(native) == layers * C
    pyramid = _kvpress_pyramid_budgets(layers, n, 8, 4)
    harness = build_method("pyramidkv", kv_budget=C, window=8, pool_kernel=K, beta=4).budgets(layers, n)
    assert pyramid != harness and min(harness) >= 8 + (C - 8) // 4 - 1


def test_pyramidkv_short_prompt_keeps_snapkv_total(embedded, prompt):
    """On a prompt shorter than 2C a layer caps at N and the rest moves deeper: the total stays SnapKV's."""
    model, _ = embedded
    layers, n = model.config.num_hidden_layers, len(prompt)
    budget = n * 3 // 4  # layer 0's pyramid share (about 2C) exceeds N
    trace = trace_prefill(model, prompt, build_method("pyramidkv", kv_budget=budget, window=W, pool_kernel=K))
    lengths = list(trace.cache.prompt_lengths)
    assert max(lengths) == n and sum(lengths) == layers * budget
    assert lengths == sorted(lengths, reverse=True)


def test_snapkvpress_called_on_hf_forward_keeps_the_engines_positions(embedded, prompt):
    """The press called directly on HF's own forward (outside the engine), as kvpress's hook calls it,
    keeps the positions the engine's kvpress session and the native SnapKV keep."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    from baselines.kvpress_session import ModuleView
    from baselines.kvpress_support import kvpress_module, ratio_for_budget

    model, _ = embedded
    ids = torch.tensor([prompt])
    native = trace_prefill(model, prompt, build_method("snapkv", kv_budget=C, window=W, pool_kernel=K))
    with torch.inference_mode():
        hidden = model(ids, output_hidden_states=True).hidden_states
        positions = torch.arange(ids.shape[1]).unsqueeze(0)
        cos, sin = model.model.rotary_emb(hidden[0], positions)
        for layer in (0, 7, 29):
            attention = model.model.layers[layer].self_attn
            h = model.model.layers[layer].input_layernorm(hidden[layer])
            shape = (1, ids.shape[1], -1, attention.head_dim)
            q = attention.q_proj(h).view(shape).transpose(1, 2)
            k = attention.k_proj(h).view(shape).transpose(1, 2)
            _, k = apply_rotary_pos_emb(q, k, cos, sin)
            press = kvpress_module().SnapKVPress(
                compression_ratio=ratio_for_budget(ids.shape[1], C), window_size=W, kernel_size=K
            )
            module = ModuleView(attention, model.model.rotary_emb)
            kwargs = {"position_embeddings": (cos, sin), "hidden_states": h}
            scores = press.score(module, h, k, k, None, kwargs)
            positions_kept = torch.sort(scores[0].topk(C, dim=-1).indices, dim=-1).values
            expected = torch.gather(k[0], 1, positions_kept.unsqueeze(-1).expand(-1, -1, k.shape[-1]))
            torch.testing.assert_close(kept_keys(native, layer), expected, rtol=0, atol=1e-5)
