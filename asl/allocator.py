"""The CUDA caching allocator's setting, chosen in one place for every entry point that measures on CUDA.

Long prefills allocate one large, differently sized pattern per layer; with ``expandable_segments`` the
reserved memory stays close to the allocated memory instead of fragmenting into new segments. The
setting must be in the environment before CUDA initialises, so the scripts call
:func:`configure_cuda_allocator` first; a value the user set (either variable name) is kept. Results
record :func:`allocator_settings`. No torch import here: the scripts' error paths stay fast.
"""

from __future__ import annotations

import os
import sys

ALLOC_VARIABLES = ("PYTORCH_CUDA_ALLOC_CONF", "PYTORCH_ALLOC_CONF")
DEFAULT_ALLOC_CONF = "expandable_segments:True"


def configure_cuda_allocator(default: str = DEFAULT_ALLOC_CONF) -> str:
    """Set ``PYTORCH_CUDA_ALLOC_CONF`` to ``default`` unless one of the allocator variables is set; returns
    the setting in force. A no-op for the running process once CUDA is initialised (the setting shown by
    :func:`allocator_settings` then says so)."""
    current = next((os.environ[v] for v in ALLOC_VARIABLES if os.environ.get(v)), None)
    if current is None:
        os.environ[ALLOC_VARIABLES[0]] = current = default
    return current


def allocator_settings() -> dict[str, object]:
    """The allocator setting for results: the variable's value, expandable segments on or off, and whether
    CUDA was already initialised when the value was read (then it is the one in force only if it was set
    before)."""
    name = next((v for v in ALLOC_VARIABLES if os.environ.get(v)), None)
    conf = os.environ.get(name, "") if name else ""
    options = dict(part.split(":", 1) for part in conf.replace(" ", "").split(",") if ":" in part)
    torch = sys.modules.get("torch")
    initialized = bool(torch is not None and torch.cuda.is_initialized())
    return {
        "alloc_conf": conf,
        "alloc_variable": name,
        "expandable_segments": options.get("expandable_segments", "False").lower() == "true",
        "cuda_initialized_when_read": initialized,
    }
