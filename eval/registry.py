"""Task registry: every native task is registered once, next to its generator or loader (docs/adding-a-task.md).

``@register_task("ruler/xyz", template=..., metric=..., max_new_tokens=...)`` on a generator is all a task needs
besides its template entry; task lists (suite validation, the RULER/InfiniteBench task tuples, the
upstream-equality and generator tests, preflight, subset strata) are read from here. The benchmark packages
(``eval.ruler``, ``eval.infinitebench``) and ``eval.niah`` are imported on first use, so a module dropped into
a package registers itself without being listed anywhere.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from eval.errors import BenchmarkError
from eval.schema import Example

FAMILY_MODULES = {"infinitebench": "eval.infinitebench", "ruler": "eval.ruler", "niah": "eval.niah"}
DISPLAY = {"infinitebench": "InfiniteBench", "ruler": "RULER", "niah": "NIAH"}
DATA_KINDS = ("none", "optional", "required")  # generated only | official files, else generated | files only


@dataclass(frozen=True)
class TaskRequest:
    """What a generator is asked for: one task at each of ``lengths`` (prompt + generation, in tokens)."""

    task: str
    tokenizer: Any
    lengths: tuple[int, ...]
    num_samples: int
    seed: int
    profile: str = "chat"
    haystack: str | None = None
    data_dir: str | None = None
    revision: Any = None
    options: Mapping[str, Any] = field(default_factory=dict)  # the rest of the benchmark node


Generator = Callable[[TaskRequest], list[Example]]


@dataclass(frozen=True)
class TaskSpec:
    """One registered task. ``template`` names its entry in ``eval/templates/<family>.yaml``."""

    name: str
    template: str
    metric: str
    generate: Generator | None = None
    max_new_tokens: int | None = None
    strata: str | None = None  # subset stratification axis of official records (eval.subsets)
    upstream: bool = False  # prompts pinned byte for byte against the benchmark's own code
    data: str = "none"

    @property
    def family(self) -> str:
        """The benchmark family, e.g. ``ruler``."""
        return self.name.partition("/")[0]

    @property
    def task(self) -> str:
        """The task name within its family, e.g. ``niah_single_1``."""
        return self.name.partition("/")[2]


_TASKS: dict[str, TaskSpec] = {}
_loaded = False


def register_task(
    name: str,
    *,
    template: str,
    metric: str,
    max_new_tokens: int | None = None,
    strata: str | None = None,
    upstream: bool = False,
    data: str = "none",
) -> Callable[[Generator | None], Generator | None]:
    """Decorator registering ``name`` ("family/task") with its generator (``None``: official files only)."""
    family, sep, task = name.partition("/")
    if not sep or not task or family not in FAMILY_MODULES:
        raise ValueError(f"task name {name!r} must be family/task with family in {', '.join(FAMILY_MODULES)}")
    if data not in DATA_KINDS:
        raise ValueError(f"{name}: data must be one of {', '.join(DATA_KINDS)}, got {data!r}")

    def decorate(fn: Generator | None) -> Generator | None:
        if name in _TASKS:
            raise ValueError(f"task {name!r} is registered twice")
        if fn is None and data != "required":
            raise ValueError(f"{name}: a task without a generator must have data='required'")
        _TASKS[name] = TaskSpec(name, template, metric, fn, max_new_tokens, strata, upstream, data)
        return fn

    return decorate


def _load() -> None:
    """Import every module of the benchmark packages once, so that their registrations run."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in FAMILY_MODULES.values():
        pkg = importlib.import_module(module)
        for info in pkgutil.iter_modules(getattr(pkg, "__path__", [])):
            importlib.import_module(f"{module}.{info.name}")


def tasks() -> Mapping[str, TaskSpec]:
    """Every registered task, keyed by "family/task" (read-only)."""
    _load()
    return MappingProxyType(_TASKS)


def names(
    family: str, *, upstream: bool | None = None, generated: bool | None = None, data: str | None = None
) -> tuple[str, ...]:
    """Task names (without the family) of ``family`` in registration order, optionally filtered."""
    return tuple(
        s.task
        for s in tasks().values()
        if s.family == family
        and (upstream is None or s.upstream == upstream)
        and (generated is None or (s.generate is not None) == generated)
        and (data is None or s.data == data)
    )


def spec(family: str, task: str) -> TaskSpec:
    """The spec of ``family/task``; BenchmarkError listing the family's tasks when it is not registered."""
    found = tasks().get(f"{family}/{task}")
    if found is None:
        raise BenchmarkError(
            f"unknown {DISPLAY.get(family, family)} task {task!r}; choose one of: {', '.join(names(family)) or '(none)'}"
        )
    return found


def generate(family: str, request: TaskRequest) -> list[Example]:
    """Run the registered generator of ``family/request.task``."""
    found = spec(family, request.task)
    if found.generate is None:
        raise BenchmarkError(f"{found.name} has no generator; it reads the official data files")
    return found.generate(request)


def per_length(build: Callable[[TaskRequest, int], list[Example]]) -> Generator:
    """A generator from ``build(request, length)``: the lengths in order, concatenated."""

    def generate_all(request: TaskRequest) -> list[Example]:
        return [ex for length in request.lengths for ex in build(request, length)]

    generate_all.__doc__ = build.__doc__
    return generate_all
