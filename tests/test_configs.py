"""Every experiment composes for the embedded and the paper models, with its defaults in YAML once."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from asl.methods import list_methods
from asl.paths import CONFIG_DIR

EXPERIMENTS = ["table2", "table2_embedded", "ruler", "niah", "tau_sweep", "budget_sweep"]


def compose_cfg(*overrides: str):
    with initialize_config_dir(str(CONFIG_DIR), version_base=None):
        return compose("config", overrides=list(overrides), return_hydra_config=True)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
@pytest.mark.parametrize("model", ["smollm2_135m", "llama31_8b_ul", "qwen25_7b"])
def test_experiment_composes(experiment, model):
    cfg = compose_cfg(f"experiment={experiment}", f"model={model}")
    assert cfg.model.name == model
    params = cfg.hydra.sweeper.params or {}
    swept = str(params.get("method", cfg.method.name))
    if not swept.startswith("glob("):
        for name in swept.split(","):
            assert name in list_methods()


def test_tau_sweep_grid_and_embedded_suite():
    cfg = compose_cfg("experiment=tau_sweep", "model=smollm2_135m", "benchmark=infinitebench_embedded")
    params = cfg.hydra.sweeper.params
    assert params["++method_overrides.tau"] == "0.3,0.5,0.7,1.0"  # the README's tau sweep
    assert params["method"] == "fullkv,asl,asl_fullbefore"  # Full KV: the shared reference run
    assert cfg.model.method_defaults.kv_budget == 256 and cfg.run.wait_for_lock  # the model's budget, once
    table2 = compose_cfg("experiment=table2_embedded", "model=smollm2_135m")
    # the same suite, sample count and budget as Table 2: its tau = 0.3 runs are the sweep's
    assert table2.benchmark == cfg.benchmark and table2.method_overrides == cfg.method_overrides
    paper = compose_cfg("experiment=tau_sweep", "model=llama31_8b_ul")
    assert paper.benchmark.name == "ruler" and paper.benchmark.context_length == 131072
    assert paper.hydra.sweeper.params["++method_overrides.tau"] == "0.2,0.3,0.4,0.5,0.6"  # paper Table 9
    budget = compose_cfg("experiment=budget_sweep", "model=smollm2_135m", "benchmark=ruler_embedded")
    assert budget.benchmark.context_length <= budget.model.max_context
    assert budget.hydra.sweeper.params["++method_overrides.kv_budget"] == "128,256,512"
    assert (
        budget.hydra.sweeper.params["method"] == "glob(*,exclude=[*_fullbefore,kvpress])"
    )  # Full KV included
    assert compose_cfg("experiment=budget_sweep", "model=qwen25_7b").benchmark.context_length == 131072


def test_default_run_prunes_below_its_prompts():
    """No overrides: a pruned method whose budget is below the default suite's ~1K-token prompts."""
    from asl.harness.config import effective_method

    cfg = compose_cfg()
    method = effective_method(cfg)
    assert method["name"] == "asl" and method["kv_budget"] < cfg.benchmark.context_length
    assert effective_method(cfg, {"method.kv_budget"})["kv_budget"] == cfg.method.kv_budget  # CLI wins
    explicit = compose_cfg("method.kv_budget=512")
    assert effective_method(explicit)["kv_budget"] == 512  # an explicit value is never replaced


def test_table2_lists_the_papers_methods_including_full_before():
    from asl.results.paper import paper_table2

    cfg = compose_cfg("experiment=table2", "model=llama31_8b_ul")
    methods = cfg.hydra.sweeper.params["method"].split(",")
    from asl import build_method

    assert {build_method(m).label for m in methods} == set(paper_table2("llama31_8b_ul"))
    assert cfg.benchmark.name == "infinitebench_paper"


@pytest.mark.parametrize("name", list_methods())
def test_method_yaml_matches_build_method(name):
    from asl import build_method

    cfg = compose_cfg(f"method={name}")
    params = {k: v for k, v in cfg.method.items() if k != "name"}
    assert build_method(name, **params).to_dict() == build_method(name).to_dict()
