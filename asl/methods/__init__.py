"""The method framework: protocol, shared families, sessions, selectors, registry; and ASL's own methods.

The comparison methods live in ``baselines/`` (they import this package, never the reverse).
"""

from asl.methods.base import Display, LayerAction, PruningMethod, Session
from asl.methods.registry import build_method, list_methods, method_from_config, method_node

__all__ = [
    "Display",
    "LayerAction",
    "PruningMethod",
    "Session",
    "build_method",
    "list_methods",
    "method_from_config",
    "method_node",
]
