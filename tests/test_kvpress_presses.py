"""Every supported kvpress press runs through the engine on the embedded model; the rest stop with their
reason in one line (docs/kvpress.md)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from asl import build_method
from baselines.kvpress_support import NOT_PRESSES, OWN, SUPPORTED, UNSUPPORTED, WRAPPER, kvpress_module

C = 64

#: keywords that make the presses that decide their own budget compress at these lengths
OWN_KWARGS = {
    "ThinKPress": dict(key_channel_compression_ratio=0.5, window_size=16),
    "SimLayerKVPress": dict(lazy_threshold=0.5, n_recent=64, n_initial=4),
}


def test_every_kvpress_press_is_in_one_table():
    exported = {name for name in kvpress_module().__all__ if name not in NOT_PRESSES}
    assert not set(SUPPORTED) & set(UNSUPPORTED)
    assert set(SUPPORTED) | set(UNSUPPORTED) == exported


@pytest.fixture(scope="module")
def prompt(embedded):
    _, tokenizer = embedded
    text = open("eval/data/areopagitica.txt").read()[:700]
    messages = [{"role": "user", "content": text + "\nWhat is this about?"}]
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"]


@pytest.mark.embedded
@pytest.mark.parametrize("press", sorted(SUPPORTED))
def test_supported_press_runs_on_the_embedded_model(embedded, prompt, press):
    from asl import generate

    model, tokenizer = embedded
    kind = SUPPORTED[press]
    kwargs = dict(OWN_KWARGS.get(press, {}))
    if kind == WRAPPER:
        kwargs["inner"] = "KnormPress"
    budget = None if kind == OWN else C
    method = build_method("kvpress", press=press, kv_budget=budget, **kwargs)
    result = generate(model, tokenizer, prompt, method, max_new_tokens=1)
    lengths = result.kv_lengths
    assert len(result.token_ids) >= 1 and len(lengths) == model.config.num_hidden_layers
    if kind == OWN:
        assert min(lengths) <= len(prompt)
    elif press in ("ChunkPress", "ChunkKVPress", "EntropyGatedChunkKVPress", "BlockPress"):
        assert max(lengths) < len(prompt)  # chunked presses round per chunk
    elif press != "PyramidKVPress":
        assert lengths == [C] * len(lengths)
    else:
        assert sum(lengths) <= C * len(lengths) + len(lengths)


def test_press_colours_differ_from_every_native_methods():
    """A press in a figure never takes the colour of a native method (the budget figure draws both)."""
    from asl.methods.registry import list_methods
    from baselines.kvpress_support import press_color

    natives = [build_method(m) for m in list_methods() if not m.startswith("kvpress")]
    taken = {
        c.lower() for m in natives for c in (m.display().color, getattr(m, "full_before_color", None)) if c
    }
    presses = {name: press_color(name).lower() for name in SUPPORTED}
    assert not taken & set(presses.values()), {n: c for n, c in presses.items() if c in taken}


@pytest.mark.parametrize("press", ["AdaKVPress", "QFilterPress", "DecodingPress", "KeyRerotationPress"])
def test_unsupported_press_is_a_one_line_error_with_its_reason(press):
    with pytest.raises(ValueError, match=f"{press} is not supported here: ") as info:
        build_method("kvpress", press=press)
    assert "\n" not in str(info.value)


def test_unknown_press_and_kwarg_are_one_line_errors():
    with pytest.raises(ValueError, match="unknown kvpress press 'NoSuchPress'"):
        build_method("kvpress", press="NoSuchPress")
    with pytest.raises(
        ValueError, match="SnapKVPress has no keyword windw_size; its keywords: kernel_size, window_size"
    ):
        build_method("kvpress", press="SnapKVPress", windw_size=8)
    with pytest.raises(ValueError, match="ChunkKVPress wraps a scorer press: set \\+method.inner"):
        build_method("kvpress", press="ChunkKVPress")


def test_command_line_bad_press_exits_2_with_one_line():
    run = subprocess.run(
        [sys.executable, "scripts/run.py", "method=kvpress", "method.press=AdaKVPress", "dry_run=true"],
        capture_output=True,
        text=True,
        env={"HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "PATH": "/usr/bin:/bin", "PYTHONPATH": "."},
    )
    assert run.returncode == 2, run.stderr[-2000:]
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "AdaKVPress is not supported here" in lines[0]


def test_press_kwargs_round_trip_through_the_recorded_config():
    from asl.methods import method_from_config

    method = build_method("kvpress_expected_attention", kv_budget=256, n_future_positions=128)
    assert method.to_dict()["n_future_positions"] == 128
    assert method_from_config(method.to_config()) == method
    assert method.label == "ExpectedAttention (kvpress)"
