"""The prefill/decode engine shared by every method."""

from asl.engine.generate import (
    GenerationResult,
    PrefillTrace,
    generate,
    generate_many,
    resolve_method,
    trace_prefill,
)

__all__ = ["GenerationResult", "PrefillTrace", "generate", "generate_many", "resolve_method", "trace_prefill"]
