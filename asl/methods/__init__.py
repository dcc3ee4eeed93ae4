"""Pruning methods: objects holding hyper-parameters, and the per-request sessions the engine drives."""

from asl.methods.adaptive import ASL, ASL2Pass
from asl.methods.base import LayerAction, PruningMethod, Session
from asl.methods.registry import build_method, method_defaults, method_names

__all__ = [
    "ASL",
    "ASL2Pass",
    "LayerAction",
    "PruningMethod",
    "Session",
    "build_method",
    "method_defaults",
    "method_names",
]
