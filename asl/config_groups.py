"""Config groups under ``configs/``: their choices, and one group entry composed by Hydra.

The runner builds objects from the node Hydra composed for the run; these helpers serve the Python API
(``build_method("asl")``, ``load_model("smollm2_135m")``), which composes the same YAML the same way.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from asl.paths import CONFIG_DIR


def group_choices(group: str) -> list[str]:
    """Options of a config group (top-level YAML files of ``configs/GROUP``)."""
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


@cache
def _composed(group: str, name: str) -> tuple[tuple[str, Any], ...]:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    if GlobalHydra.instance().is_initialized():  # inside a Hydra app: compose with its search path
        cfg = compose(config_name=f"{group}/{name}")
    else:
        with initialize_config_dir(str(CONFIG_DIR), version_base=None):
            cfg = compose(config_name=f"{group}/{name}")
    return tuple(OmegaConf.to_container(cfg[group], resolve=True).items())


def compose_node(group: str, name: str) -> dict[str, Any]:
    """``configs/GROUP/NAME.yaml`` composed (its ``defaults`` list applied), as a plain dict."""
    choices = group_choices(group)
    if name not in choices:
        raise ValueError(f"unknown {group} {name!r}; choose one of: {', '.join(choices)}")
    return dict(_composed(group, name))
