"""Upstream prompt strings stored as data (YAML next to this file), each file naming its source and commit."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

_FIELD = re.compile(r"\{(\w+)\}")


@lru_cache(maxsize=4)
def load(name: str) -> dict[str, Any]:
    """The parsed ``{name}.yaml`` (``infinitebench``, ``ruler`` or ``niah``)."""
    text = resources.files(__package__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def fill(template: str, **fields: Any) -> str:
    """Replace ``{name}`` placeholders in one pass (inserted values are not rescanned; unknown ones stay)."""
    return _FIELD.sub(lambda m: str(fields[m.group(1)]) if m.group(1) in fields else m.group(0), template)
