"""Issue 18 item 7: ``dry_run=true`` as a GPU pre-flight (data counted, budget warning, device profile)."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from asl.harness.plan import plan_text
from asl.paths import CONFIG_DIR


def cfg(*overrides: str):
    with initialize_config_dir(str(CONFIG_DIR), version_base=None):
        return compose("config", overrides=["logger.wandb.mode=disabled", *overrides])


def test_paper_model_on_the_embedded_suite(tmp_path):
    text = plan_text(cfg("model=llama31_8b_ul", f"results_dir={tmp_path}"))
    assert "warning: kv_budget 2048 is not below the prompts (~1024 tokens)" in text
    assert "device profile h200: NVIDIA H200" in text and "GPU-hours" in text and ": fits" in text
    assert "estimated time: unknown" not in text
    assert not any(tmp_path.iterdir())  # nothing written


def test_h100_profile_long_context(tmp_path):
    text = plan_text(
        cfg("model=llama31_8b_ul", "benchmark=ruler", "method=fullkv", "device_profile=h100",
            "benchmark.tasks=[niah_single_1]", "benchmark.context_length=[1048576]", f"results_dir={tmp_path}")
    )  # fmt: skip
    assert "device profile h100" in text and "N=1048576" in text and "DOES NOT FIT" in text
    assert "warning" not in text


def test_records_are_counted_per_task(tmp_path):
    data = tmp_path / "ib"
    data.mkdir()
    for task, n in (("longbook_choice_eng", 3), ("longbook_qa_eng", 5)):
        (data / f"{task}.jsonl").write_text('{"id": 0}\n' * n)
    text = plan_text(
        cfg("model=llama31_8b_ul", "benchmark=infinitebench", "benchmark.tasks=[longbook_choice_eng,longbook_qa_eng]",
            f"benchmark.data_dir={data}", f"results_dir={tmp_path / 'r'}")
    )  # fmt: skip
    assert "samples: 8 = longbook_choice_eng 3, longbook_qa_eng 5" in text
    assert f"data: longbook_choice_eng: 3 records in {data / 'longbook_choice_eng.jsonl'}" in text


def test_missing_data_is_the_one_line_error(tmp_path):
    with pytest.raises(ValueError, match="needs real data: set benchmark.data_dir"):
        plan_text(cfg("model=llama31_8b_ul", "benchmark=infinitebench_paper", f"results_dir={tmp_path}"))


def test_model_without_device_profile_is_refused(tmp_path):
    with pytest.raises(ValueError, match="has no device profile: pass device_profile=h100|h200"):
        plan_text(cfg("model=llama31_8b_ul", "model.name=my_llama", f"results_dir={tmp_path}"))
    with pytest.raises(ValueError, match="unknown device_profile 'a100'"):
        plan_text(cfg("model=llama31_8b_ul", "device_profile=a100", f"results_dir={tmp_path}"))
    text = plan_text(cfg("model=smollm2_135m", f"results_dir={tmp_path}"))  # CPU model: the CPU estimate
    assert "estimated time: ~" in text or "estimated time: unknown" in text
