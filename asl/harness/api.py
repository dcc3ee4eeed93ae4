"""Python entry points: run an experiment as ``scripts/run.py`` would and get its summary table back.

    import asl
    out = asl.evaluate(model="smollm2_135m", method="asl", benchmark="infinitebench_embedded",
                       tau=0.5, num_samples=2, results_dir="/tmp/asl")
    print(out["table"]); out["results"]["passkey"]["accuracy"]

Keyword arguments are placed by name: a key of the method (``tau``, ``kv_budget``) goes to ``method.``, a
key of the benchmark (``num_samples``, ``tasks``) to ``benchmark.``, a top-level key (``seed``,
``results_dir``) stays top-level; a dotted key (``**{"logger.wandb.mode": "disabled"}``) is used as is.
"""

from __future__ import annotations

import json
from typing import Any

from asl.config_groups import group_choices
from asl.paths import CONFIG_DIR


def list_benchmarks() -> list[str]:
    """Every benchmark configuration (``configs/benchmark/*.yaml``)."""
    return group_choices("benchmark")


def override_value(value: Any) -> str:
    """A Python value as a Hydra override value (lists, strings, None, booleans, numbers)."""
    if isinstance(value, tuple):
        value = list(value)
    return json.dumps(value) if isinstance(value, (list, dict, str, bool)) or value is None else str(value)


def _override_args(key: str, value: Any) -> list[str]:
    """``key=value``; a dict sets (or adds) each of its keys, as ``++key.sub=value``."""
    if isinstance(value, dict):
        return [f"++{key}.{sub}={override_value(v)}" for sub, v in value.items()]
    return [f"{key}={override_value(value)}"]


def place(key: str, composed: Any) -> str:
    """The full key of a keyword argument in the composed config (ValueError when it fits nowhere)."""
    if "." in key:
        return key
    homes = [f"{node}.{key}" for node in ("method", "benchmark") if key in composed[node]]
    if key in composed and key not in ("method", "benchmark", "model"):
        homes.append(key)
    if len(homes) > 1:
        raise ValueError(f"evaluate: {key!r} is a key of {' and '.join(homes)}; pass the one you mean dotted")
    if not homes:
        keys = ", ".join(k for k in composed["method"] if k not in ("_target_", "name")) or "none"
        raise ValueError(
            f"evaluate: unknown key {key!r}: method {composed.method.name} has no {key!r} (its keys: {keys}), "
            f"nor has benchmark {composed.benchmark.name} or the top level"
        )
    return homes[0]


def _compose(model: str, method: str, benchmark: str, overrides: dict[str, Any]) -> tuple[Any, set[str]]:
    """(composed config, command-line method keys) of one method's run."""
    from asl.harness.sweep import compose_error, compose_job, hydra_context

    for group, name in (("model", model), ("method", method), ("benchmark", benchmark)):
        if name not in group_choices(group):
            raise ValueError(f"unknown {group} {name!r}; choices: {', '.join(group_choices(group))}")
    base = [f"model={model}", f"method={method}", f"benchmark={benchmark}"]
    with hydra_context(CONFIG_DIR):
        composed = compose_job("config", base)
        args = base + [arg for k, v in overrides.items() for arg in _override_args(place(k, composed), v)]
        try:
            cfg = compose_job("config", args)
        except Exception as exc:  # noqa: BLE001 - Hydra raises several types
            raise ValueError(compose_error(exc, "config", args)) from None
    return cfg, {a.split("=", 1)[0] for a in args if a.startswith("method.")}


def evaluate(
    model: str = "smollm2_135m",
    method: str | list[str] = "asl",
    benchmark: str = "infinitebench_embedded",
    backend: Any = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Run one experiment from Python and return its results (as lm-evaluation-harness's
    ``simple_evaluate`` does): ``results`` per task (accuracy, its 95% interval, n, selection fire rate,
    TTFT, TPOT), ``task_mean`` with its interval, the printed ``table``, ``run_dir`` and the ``summary``.

    ``method`` may be a list: the methods then run together with one shared prefill per sample (the runs
    and predictions are those of separate runs; no per-method TTFT/TPOT) and the result maps each method
    name to its own result as above. A key that one listed method lacks (``tau`` for fullkv) is an error:
    pass it as ``method_overrides={"tau": 0.5}`` to apply it where it exists.

    Raises ValueError (one line) for a bad model, method, benchmark or key, before anything is written.
    """
    from asl.harness.experiment import run
    from asl.harness.meta import invocation_id
    from asl.harness.shared_run import run_shared

    names = [method] if isinstance(method, str) else list(method)
    if not names:
        raise ValueError("evaluate: method is an empty list")
    composed = [_compose(model, name, benchmark, overrides) for name in names]
    invocation_id()
    if isinstance(method, str):
        cfg, cli_keys = composed[0]
        return _result(run(cfg, backend=backend, cli_keys=cli_keys))
    dirs = run_shared([c for c, _ in composed], [k for _, k in composed], backend=backend)
    return {name: _result(d) for name, d in zip(names, dirs, strict=True)}


def _result(run_dir: Any) -> dict[str, Any]:
    """The result dict of one finished run directory."""
    from asl.results.reader import load_run
    from asl.results.report import run_table

    summary = load_run(run_dir).summary
    results = {
        cell.task: {
            "accuracy": cell.accuracy,
            "accuracy_ci95": [cell.accuracy_lo, cell.accuracy_hi],
            "n": cell.n_scored,
            "errors": cell.n_errors,
            "selection_fired": cell.selection_fired,
            "selection_n": cell.selection_n,
            "selection_layer_mean": cell.selection_layer_mean,
            "ttft_s": cell.ttft_s,
            "tpot_s": cell.tpot_s,
        }
        for cell in summary.tasks
    }
    return {
        "results": results,
        "task_mean": summary.task_mean,
        "task_mean_ci95": [summary.task_mean_lo, summary.task_mean_hi],
        "table": run_table(summary),
        "run_dir": str(run_dir),
        "config": summary.method,
        "summary": summary.to_json(),
    }
