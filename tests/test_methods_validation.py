"""build_method: YAML defaults, overrides, and one-line errors for invalid parameters."""

from __future__ import annotations

import pytest

from asl import build_method, generate
from asl.engine import resolve_method
from asl.methods import list_methods

INVALID = [
    ("asl", dict(tau=0.0), "tau must be in (0, 1]"),
    ("asl", dict(tau=1.5), "tau must be in (0, 1]"),
    ("asl_2pass", dict(tau=-0.1), "tau must be in (0, 1]"),
    ("snapkv", dict(kv_budget=32), "must be larger than the window"),
    ("fastkv", dict(kv_budget=16, window=32), "must be larger than the window"),
    ("asl", dict(l_min=-1), "non-negative layer index"),
    ("fastkv", dict(tsp_layer=-3), "non-negative layer index"),
    ("gemfilter", dict(filter_layer=-1), "non-negative layer index"),
    ("asl", dict(kv_before="half"), "kv_before must be one of"),
    ("asl", dict(l_obs=0), "l_obs must be a positive integer"),
    ("snapkv", dict(pool_kernel=4), "pool_kernel must be odd"),
    ("asl", dict(bogus=1), "unknown parameter"),
]


@pytest.mark.parametrize("name,params,message", INVALID)
def test_invalid_parameters_raise_one_line(name, params, message):
    with pytest.raises(ValueError) as err:
        build_method(name, **params)
    text = str(err.value)
    assert message in text and "\n" not in text


def test_unknown_method_lists_choices():
    with pytest.raises(ValueError, match="choose one of: asl, asl_2pass"):
        build_method("h2o")


def test_l_min_beyond_model_layers():
    with pytest.raises(ValueError, match="beyond the model's 30 layers"):
        build_method("asl", num_layers=30, l_min=30)


def test_layer_validated_against_the_model_at_generation(tiny_llama):
    with pytest.raises(ValueError, match="beyond the model's 8 layers"):
        generate(tiny_llama, None, [5, 6, 7], build_method("fastkv", tsp_layer=8), max_new_tokens=1)


def test_yaml_defaults_and_variants():
    asl = build_method("asl")
    assert (asl.kv_budget, asl.window, asl.pool_kernel, asl.tau, asl.l_obs, asl.kv_before) == (
        2048,
        32,
        7,
        0.3,
        8,
        "snapkv",
    )
    assert build_method("asl_fullbefore").kv_before == "full"
    assert build_method("fastkv_fullbefore").kv_before == "full"
    assert build_method("gemfilter").pool_kernel == 5
    assert build_method("asl", tau=0.5, kv_budget=512).to_dict()["tau"] == 0.5
    assert set(list_methods()) >= {
        "fullkv",
        "snapkv",
        "gemfilter",
        "fastkv",
        "fastkv_fullbefore",
        "asl",
        "asl_fullbefore",
        "asl_2pass",
    }


def test_model_layer_presets_are_resolved(tiny_llama):
    resolved = resolve_method(build_method("asl"), tiny_llama)
    assert resolved.l_min == 3  # configs/model/tiny_llama.yaml method_defaults
    assert resolve_method(build_method("fastkv"), tiny_llama).tsp_layer == 4
    assert resolve_method(build_method("gemfilter"), tiny_llama).filter_layer == 3
    assert resolve_method(build_method("asl", l_min=5), tiny_llama).l_min == 5
