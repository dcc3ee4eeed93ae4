"""Hydra composition outside a Hydra app: the jobs of a multirun, one job's config, and one-line errors.

The scripts check their command line with these before Hydra runs (so a bad override is one line and
exit 2, before anything is written) and preview a multirun (``--cfg job -m ...``), which Hydra refuses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

_OVERRIDE_KEY = re.compile(r"Could not override '([^']+)'")


@contextmanager
def hydra_context(config_dir: Path) -> Iterator[None]:
    """Hydra's compose API on ``config_dir`` (a no-op inside an initialized Hydra)."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        yield
        return
    with initialize_config_dir(str(config_dir), version_base=None):
        yield


def compose_job(config_name: str, overrides: list[str], hydra_node: bool = False) -> DictConfig:
    """One job's config (inside :func:`hydra_context`)."""
    from hydra import compose

    return compose(config_name, overrides=overrides, return_hydra_config=hydra_node)


def expand_jobs(config_name: str, overrides: list[str]) -> list[list[str]]:
    """The override list of every job of ``-m OVERRIDES``: the config's ``hydra.sweeper.params`` and the
    command line's sweeps, crossed as Hydra's basic sweeper does (globs expanded; inside
    :func:`hydra_context`)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())
    parsed = parser.parse_overrides(overrides)
    # the sweeper's params come from the config groups chosen (an experiment) and hydra.* keys: compose
    # those alone (first value of a sweep), so a bad value elsewhere is reported per job, by key
    first = [
        f"{o.input_line.split('=', 1)[0]}={next(iter(o.sweep_string_iterator()))}"
        if o.is_sweep_override()
        else o.input_line
        for o in parsed
        if "." not in o.key_or_group or o.key_or_group.startswith("hydra")
    ]
    params = compose_job(config_name, first, hydra_node=True).hydra.sweeper.get("params") or {}
    combined = [f"{k}={v}" for k, v in params.items()] + list(overrides)
    return BasicSweeper.split_arguments(parser.parse_overrides(combined), None)[0]


def preview(config_name: str, jobs: list[list[str]], what: str) -> str:
    """``--cfg job|hydra|all -m``: each job's overrides and its config (or Hydra's, or both)."""
    out = [f"# {len(jobs)} job(s)"]
    for num, job in enumerate(jobs):
        cfg = compose_job(config_name, job, hydra_node=what != "job")
        if what == "hydra":
            cfg = cfg.hydra
        out += [f"# job {num}: {' '.join(job)}", OmegaConf.to_yaml(cfg).rstrip(), ""]
    return "\n".join(out)


def compose_error(exc: BaseException, config_name: str, overrides: list[str]) -> str:
    """One line out of Hydra's multi-line composition messages: the list of choices of a config group, or
    the valid keys of the node an unknown key was set in."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    for i, ln in enumerate(lines):
        if ln.startswith("Available options in"):
            opts = [o for o in lines[i + 1 :] if not o.startswith(("Config search path", "provider="))]
            return f"{lines[0].removeprefix('In ' + repr('config') + ': ')}; choices: {', '.join(opts)}"
    match = _OVERRIDE_KEY.search(lines[0])
    if match:
        return unknown_key_message(match.group(1), config_name, overrides) or lines[0]
    return lines[0]


def _key_of(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def unknown_key_message(key: str, config_name: str, overrides: list[str]) -> str | None:
    """``method.tua``: the node ``method`` has no ``tua``; list its keys (None when they cannot be read)."""
    parent, _, leaf = key.rpartition(".")
    rest = [o for o in overrides if _key_of(o) != key]
    try:
        node = (
            OmegaConf.select(compose_job(config_name, rest), parent)
            if parent
            else compose_job(config_name, rest)
        )
    except Exception:  # noqa: BLE001 - the other overrides fail too: Hydra's own message is kept
        return None
    if not isinstance(node, DictConfig):
        return None
    keys = sorted(k for k in node if k != "_target_")
    owner = parent or "the config"
    if parent == "method" and "_target_" in node:
        owner = f"method {node.get('name')} ({_label(node)})"
    listed = ", ".join(str(k) for k in keys) or "none"
    return f"unknown key {key!r}: {owner} has no {leaf!r}; its keys: {listed}"


def _label(node: DictConfig) -> Any:
    from asl.methods.registry import method_from_config

    try:
        return method_from_config(OmegaConf.to_container(node, resolve=True)).label
    except (ValueError, TypeError):
        return node.get("name")
