"""A dispatch mode that measures what the engine allocates on fake tensors: live bytes, per-phase peaks,
the largest tensor, aten ops, and tensors whose size betrays a quadratic or vocabulary-sized term.

It sits above PyTorch's ``FakeTensorMode`` (which gives every op real shapes, dtypes and devices without
allocating or computing anything) and sees each op's outputs. Live bytes are counted per storage: a
storage is counted when the first tensor on it appears and released when the last such tensor dies
(``weakref.finalize``), so views and in-place ops cost nothing, as on a real caching allocator's
``memory_allocated``. Data-dependent scalars (``.item()``, ``int(tensor)``) read as 0: the engine's only
host reads are the greedy token and the selection rule's statistics, which the scale check forces; a
``nonzero`` (boolean indexing in ASL's rank statistic) gets its largest possible size.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from asl.engine.memory import PhasePeak

_NONZERO = torch.ops.aten.nonzero.default
_INDEX = torch.ops.aten.index.Tensor


def _is_mask(index) -> bool:
    return isinstance(index, torch.Tensor) and index.dtype == torch.bool


def _all_selected(index):
    """A 1-D boolean index as the long index of every position (its largest possible selection)."""
    if not _is_mask(index):
        return index
    if index.dim() != 1:
        raise NotImplementedError("the scale check sizes only 1-D boolean indexing")
    return torch.arange(index.shape[0], device=index.device)


_SCALARS = (torch.ops.aten._local_scalar_dense.default, torch.ops.aten.item.default)
FAKE_KIND = "fake_live_bytes"


@dataclass
class Finding:
    """A tensor the check rejects (too large a shape, or the wrong dtype)."""

    phase: str
    op: str
    shape: tuple[int, ...]
    dtype: str
    reason: str


@dataclass
class PhaseStats:
    """What one phase of a request allocated."""

    peak_bytes: int = 0
    largest_tensor_bytes: int = 0
    ops: int = 0


@dataclass
class Limits:
    """Shape and dtype rules for one request: no tensor of N² or N x vocab elements, and in a bf16 model
    no fp32 tensor as large as a full-length activation (N x hidden)."""

    tokens: int
    vocab: int
    hidden: int
    low_precision: bool

    def check(self, tensor: torch.Tensor) -> str | None:
        n, numel = self.tokens, tensor.numel()
        if numel >= n * n:
            return f"{numel} elements >= N^2"
        if numel >= n * self.vocab:
            return f"{numel} elements >= N x vocab"
        if self.low_precision and tensor.dtype == torch.float32 and numel >= n * self.hidden:
            return f"float32 tensor of {numel} elements >= N x hidden in a low-precision model"
        return None


@dataclass
class MemoryProbe(TorchDispatchMode):
    """Live-byte accounting of every tensor created under it (use inside ``FakeTensorMode``)."""

    limits: Limits | None = None
    live: int = 0
    phase: str = "setup"
    phases: dict[str, PhaseStats] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def __post_init__(self):
        super().__init__()
        self._storages: dict[int, list[int]] = {}  # storage id -> [tensors alive on it, bytes]
        self._tensors: set[int] = set()
        self.start_phase("setup")

    # -- phases ----------------------------------------------------------------------------------
    def start_phase(self, name: str) -> None:
        """Begin ``name``: its peak starts at what is live now."""
        self.phase = name
        self.phases[name] = PhaseStats(peak_bytes=self.live)

    @property
    def current(self) -> PhaseStats:
        return self.phases[self.phase]

    def reset(self, permanent: list[torch.Tensor]) -> None:
        """Forget every tracked storage; the storages of ``permanent`` (the weights) are alive from now on
        and never released (views of them cost nothing)."""
        self._storages.clear()
        self._tensors.clear()
        for tensor in permanent:
            storage = tensor.untyped_storage()
            self._storages[storage._cdata] = [1, storage.nbytes()]
        self.live = sum(nbytes for _, nbytes in self._storages.values())
        self.start_phase("setup")

    # -- accounting ------------------------------------------------------------------------------
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in _SCALARS:
            return False if args[0].dtype == torch.bool else 0
        if func is _NONZERO:  # data-dependent size: the largest possible (every element true)
            mask = args[0]
            out = torch.empty((mask.numel(), mask.dim()), dtype=torch.long, device=mask.device)
        elif func is _INDEX and any(_is_mask(i) for i in args[1]):
            out = func(args[0], [_all_selected(i) for i in args[1]])
        else:
            out = func(*args, **(kwargs or {}))
        stats = self.current
        stats.ops += 1
        for tensor in tree_flatten(out)[0]:
            if isinstance(tensor, torch.Tensor):
                self._track(tensor, func)
        return out

    def _track(self, tensor: torch.Tensor, func) -> None:
        if id(tensor) in self._tensors:  # in-place ops return their input
            return
        storage = tensor.untyped_storage()
        key, nbytes = storage._cdata, storage.nbytes()
        entry = self._storages.get(key)
        if entry is None:
            self._storages[key] = [1, nbytes]
            self.live += nbytes
            stats = self.current
            stats.peak_bytes = max(stats.peak_bytes, self.live)
            stats.largest_tensor_bytes = max(stats.largest_tensor_bytes, nbytes)
            reason = self.limits.check(tensor) if self.limits is not None else None
            if reason is not None:
                finding = Finding(self.phase, str(func), tuple(tensor.shape), str(tensor.dtype), reason)
                self.findings.append(finding)
        else:
            entry[0] += 1
        self._tensors.add(id(tensor))
        weakref.finalize(tensor, self._release, id(tensor), key)

    def _release(self, tensor_id: int, key: int) -> None:
        self._tensors.discard(tensor_id)
        entry = self._storages.get(key)
        if entry is None:
            return
        entry[0] -= 1
        if entry[0] == 0:
            self.live -= entry[1]
            del self._storages[key]


class ProbeMeter:
    """The engine's per-phase memory meter (``generate(memory=...)``) reading a :class:`MemoryProbe`."""

    kind = FAKE_KIND

    def __init__(self, probe: MemoryProbe):
        self.probe = probe
        self.phases: dict[str, PhasePeak] = {}

    def __enter__(self) -> ProbeMeter:
        self.probe.start_phase("prefill")
        return self

    def _close(self) -> None:
        self.phases[self.probe.phase] = PhasePeak(self.probe.current.peak_bytes, None)

    def next_phase(self, name: str) -> None:
        self._close()
        self.probe.start_phase(name)

    def __exit__(self, *exc) -> None:
        self._close()
        self.probe.start_phase("after")

    @property
    def peak_bytes(self) -> int:
        return max((p.allocated for p in self.phases.values()), default=0)

    @property
    def peak_reserved_bytes(self) -> None:
        return None
