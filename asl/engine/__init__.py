"""The prefill/decode engine shared by every method."""

from asl.engine.generate import GenerationResult, PrefillTrace, generate, resolve_method, trace_prefill
from asl.methods.registry import build_method

__all__ = ["GenerationResult", "PrefillTrace", "build_method", "generate", "resolve_method", "trace_prefill"]
