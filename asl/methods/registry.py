"""Methods are configs: ``configs/method/NAME.yaml`` holds every default and the ``_target_`` class.

``method_from_config`` builds a method from a composed method node (the runner hands it Hydra's node, so
nothing is read twice); ``build_method(name, **overrides)`` composes that node with Hydra first (the
Python API). Adding a method is a class in its own file plus a YAML naming it: nothing here changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from asl.config_groups import compose_node, group_choices
from asl.methods.base import PruningMethod


def list_methods() -> list[str]:
    """Every method configuration (``configs/method/*.yaml``)."""
    return group_choices("method")


def method_node(name: str) -> dict[str, Any]:
    """The composed default node of method ``name`` (its YAML after its Hydra ``defaults`` list)."""
    return compose_node("method", name)


def method_class(target: str) -> type[PruningMethod]:
    """The class a ``_target_`` names (one-line error if it is not a method class)."""
    from hydra.utils import get_class

    try:
        cls = get_class(target)
    except Exception as exc:  # noqa: BLE001 - Hydra wraps import errors in several types
        raise ValueError(
            f"method _target_ {target!r} cannot be imported: {str(exc).splitlines()[0]}"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, PruningMethod)):
        raise ValueError(f"method _target_ {target!r} is not a PruningMethod subclass")
    return cls


def method_from_config(node: Mapping[str, Any], num_layers: int | None = None) -> PruningMethod:
    """Build and validate a method from its config node (``_target_``, ``name`` and the parameters).

    Raises ValueError with a one-line message for a missing ``_target_``, an unknown or missing key or
    an invalid value; ``num_layers`` additionally checks layer indices against the model depth.
    """
    params = dict(node)
    target = params.pop("_target_", None)
    name = params.get("name", "method")
    if not target:
        raise ValueError(f"{name}: the method config has no _target_ class")
    cls = method_class(str(target))
    fields = {f.name for f in dataclasses.fields(cls)}
    extra_field = cls.extra_params_field
    if extra_field:  # a class that forwards undeclared keys (kvpress: the press's own keywords)
        extra = {key: params.pop(key) for key in list(params) if key not in fields}
        params[extra_field] = {**dict(params.get(extra_field) or {}), **extra}
    unknown = sorted(set(params) - fields)
    if unknown:
        raise ValueError(
            f"{name}: unknown parameter(s) {', '.join(unknown)}; valid: {', '.join(sorted(fields))}"
        )
    missing = sorted(fields - set(params))
    if missing:
        raise ValueError(
            f"{name}: missing parameter(s) {', '.join(missing)} (the method YAML sets every default)"
        )
    method = cls(**params)
    method.validate(num_layers)
    return method


def build_method(name: str, num_layers: int | None = None, **overrides: Any) -> PruningMethod:
    """Method ``name`` with its YAML defaults and ``overrides`` (the same keys as the YAML)."""
    node = method_node(name)
    node.update(overrides)
    node["name"] = name
    return method_from_config(node, num_layers)
