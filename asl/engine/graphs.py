"""CUDA-graph capture of the static decode step, its failure modes, and the per-model memo of failures.

A capture can fail for a *structural* reason (an op in the step that cannot be captured: the same step
fails the same way on every request) or a transient one (out of memory while capturing). Structural
failures are remembered on the model (:class:`CaptureMemo`, attribute ``asl_capture_memo``), so later
requests of the same process use the eager static step at once instead of paying a failed capture again;
the memo belongs to the model object, and a fresh model starts without one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

MEMO_ATTRIBUTE = "asl_capture_memo"


@dataclass
class CaptureMemo:
    """Structural capture failures of one model, by step kind (``lean`` / ``layers``)."""

    failures: dict[str, str] = field(default_factory=dict)

    def failed(self, kind: str) -> str | None:
        """The reason an earlier capture of ``kind`` failed, or None."""
        return self.failures.get(kind)

    def record(self, kind: str, reason: str) -> None:
        self.failures[kind] = reason


def capture_memo(model: torch.nn.Module) -> CaptureMemo:
    """The model's capture memo (created empty on first use)."""
    memo = getattr(model, MEMO_ATTRIBUTE, None)
    if memo is None:
        memo = CaptureMemo()
        setattr(model, MEMO_ATTRIBUTE, memo)
    return memo


def graph_capture_supported(device: torch.device) -> bool:
    """Whether the static step is captured as a CUDA graph on ``device`` (CUDA only)."""
    return device.type == "cuda"


def is_structural(exc: BaseException) -> bool:
    """A failure that will repeat on every request (anything but running out of memory)."""
    return not isinstance(exc, torch.OutOfMemoryError)


def describe(exc: BaseException) -> str:
    """``Type: first line`` of an exception."""
    return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"


def warm_up(step: Callable[[], None], device: torch.device) -> None:
    """Run ``step`` once before capture: on a side stream on CUDA (as graph capture requires), else inline."""
    if device.type != "cuda":
        step()
        return
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        step()
    torch.cuda.current_stream(device).wait_stream(side)


def capture_graph(step: Callable[[], None], device: torch.device) -> Callable[[], None]:
    """Capture ``step`` as a CUDA graph; returns its replay. Raises what the capture raised."""
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph.replay
