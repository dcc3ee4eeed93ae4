"""Sections of the scripts' ``--help`` (Hydra's help template, configs/config.yaml): each benchmark's tasks,
each method's keys; read from the config groups, so a new YAML shows up without an edit here."""

from __future__ import annotations

import textwrap

from asl.config_groups import compose_node, group_choices

INDENT = "  "
WIDTH = 110


def _entry(name: str, items: list[str], extra: str = "") -> str:
    head = f"{INDENT}{name}{extra}: "
    body = ", ".join(items) or "(none)"
    return textwrap.fill(body, WIDTH, initial_indent=head, subsequent_indent=INDENT * 3,
                         break_long_words=False, break_on_hyphens=False)  # fmt: skip


def _lengths(value: object) -> str:
    if isinstance(value, (list, tuple)) and len(value) > 3:
        return f"{value[0]}..{value[-1]} ({len(value)} lengths)"
    return str(value)


def benchmarks_help() -> str:
    """``  infinitebench_embedded (context 1024, 5 samples): infinitebench/passkey, ...`` per benchmark."""
    lines = []
    for name in group_choices("benchmark"):
        try:
            node = compose_node("benchmark", name)
        except Exception as exc:  # noqa: BLE001 - a broken YAML must not break --help
            lines.append(f"{INDENT}{name}: (cannot be composed: {str(exc).splitlines()[0]})")
            continue
        tasks = node.get("tasks") or []
        tasks = [str(t) for t in (tasks if isinstance(tasks, list) else [tasks])]
        samples = node.get("num_samples") or "all"
        extra = f" (context {_lengths(node.get('context_length'))}, {samples} samples)"
        lines.append(_entry(name, tasks, extra))
    return "\n".join(lines)


def methods_help() -> str:
    """``  asl: kv_budget, select_k, ...`` per method configuration."""
    lines = []
    for name in group_choices("method"):
        try:
            node = compose_node("method", name)
        except Exception as exc:  # noqa: BLE001
            lines.append(f"{INDENT}{name}: (cannot be composed: {str(exc).splitlines()[0]})")
            continue
        lines.append(_entry(name, [k for k in node if k not in ("_target_", "name")]))
    return "\n".join(lines)


SECTIONS = {"benchmarks": benchmarks_help, "methods": methods_help}


def help_section(which: str) -> str:
    """The help section ``which`` (an OmegaConf resolver: ``${asl_help:benchmarks}``)."""
    if which not in SECTIONS:
        return f"(no help section {which!r}; choose one of {', '.join(SECTIONS)})"
    return SECTIONS[which]()
