"""Which jobs of a multirun share one prefill: the jobs that differ only in their method.

A multirun's jobs are override lists. Jobs whose overrides agree on everything but the method keys
(``method=``, ``method.KEY=``, ``method_overrides.KEY=``, with any ``+``/``++``/``~`` prefix) run the same
model on the same samples, so one process can run them together (``asl.harness.shared_run``): one job per
group, carrying its members in ``run.share_group``. Pure functions; the Hydra sweeper
(``hydra_plugins/asl_shared_prefill``) and the multirun preview call them.
"""

from __future__ import annotations

from collections.abc import Sequence

SHARE_KEY = "run.share_group"
_METHOD_ROOTS = ("method", "method_overrides")
_UNQUOTABLE = ("'", "\\", "$")


def override_key(override: str) -> str:
    """``++method_overrides.tau=0.2`` -> ``method_overrides.tau``."""
    return override.split("=", 1)[0].lstrip("+~")


def is_method_override(override: str) -> bool:
    """True for an override that sets the method or one of its keys."""
    return override_key(override).split(".", 1)[0] in _METHOD_ROOTS


def is_share_override(override: str) -> bool:
    """True for the ``run.share_group`` override a grouped job carries."""
    return override_key(override) == SHARE_KEY


def _quoted_list(items: Sequence[str]) -> str:
    return "[" + ",".join(f"'{item}'" for item in items) + "]"


def group_jobs(jobs: Sequence[Sequence[str]]) -> list[list[str]]:
    """One job per group of jobs that differ only in their method overrides (in first-seen order).

    A group of two or more becomes its first member's overrides plus
    ``run.share_group=[[member overrides], ...]``; a group of one, or one whose overrides cannot be quoted
    (a quote, backslash or interpolation in a value), stays as its separate jobs.
    """
    groups: dict[tuple[str, ...], list[list[str]]] = {}
    for job in jobs:
        rest = tuple(o for o in job if not is_method_override(o) and not is_share_override(o))
        groups.setdefault(rest, []).append([o for o in job if is_method_override(o)])
    out: list[list[str]] = []
    for rest, members in groups.items():
        quotable = all(ch not in o for m in members for o in m for ch in _UNQUOTABLE)
        if len(members) < 2 or not quotable:
            out.extend([*rest, *m] for m in members)
            continue
        listed = ",".join(_quoted_list(m) for m in members)
        out.append([*rest, *members[0], f"{SHARE_KEY}=[{listed}]"])
    return out


def member_jobs(job: Sequence[str], members: Sequence[Sequence[str]]) -> list[list[str]]:
    """The override list of each member of a grouped ``job`` (its overrides less the method and group
    keys, plus the member's method overrides): what the member's own job would have been."""
    rest = [o for o in job if not is_method_override(o) and not is_share_override(o)]
    return [[*rest, *(str(o) for o in member)] for member in members]
