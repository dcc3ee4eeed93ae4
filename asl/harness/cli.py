"""Command-line helpers shared by the scripts: one-line errors and a pre-check of the Hydra overrides."""

from __future__ import annotations

import sys
from typing import NoReturn

from asl.config_groups import group_choices
from asl.harness.validation import one_line
from asl.paths import CONFIG_DIR

GROUPS = ("model", "method", "benchmark", "experiment", "logger")


def fail(message: str, prog: str = "run.py", code: int = 2) -> NoReturn:
    """Print ``prog: error: message`` on stderr (one line) and exit."""
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def _compose_error(exc: BaseException) -> str:
    """One line out of Hydra's multi-line composition messages (keeping the list of choices)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    for i, ln in enumerate(lines):
        if ln.startswith("Available options in"):
            opts = [o for o in lines[i + 1 :] if not o.startswith(("Config search path", "provider="))]
            return f"{lines[0].removeprefix('In ' + repr('config') + ': ')}; choices: {', '.join(opts)}"
    if len(lines) > 1 and lines[0].startswith("Could not override") and "To append" in lines[1]:
        return f"{lines[0]} ({lines[-1]})" if len(lines) > 2 else lines[0]
    return lines[0]


def precheck(argv: list[str], config_name: str = "config") -> str | None:
    """Check the overrides with Hydra's parser and compose them once; return a one-line error or None.

    Single runs are composed in full (unknown keys, bad values, unknown choices); for multiruns each swept
    config-group value is checked against the group's options.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Glob

    multirun = any(a in ("-m", "--multirun") for a in argv)
    args = [a for a in argv if not a.startswith("-")]
    try:
        overrides = OverridesParser.create().parse_overrides(args)
    except Exception as exc:  # noqa: BLE001 - Hydra raises several types here
        return one_line(exc)
    searchpath = any(o.key_or_group == "hydra.searchpath" for o in overrides)
    for ov in overrides:
        if ov.key_or_group not in GROUPS or ov.is_delete() or searchpath or isinstance(ov.value(), Glob):
            continue
        values = (
            list(ov.sweep_string_iterator()) if ov.is_sweep_override() else [ov.get_value_element_as_str()]
        )
        choices = group_choices(ov.key_or_group)
        for value in values:
            if value not in choices and value != "null":
                return f"unknown {ov.key_or_group} {value!r}; choices: {', '.join(choices)}"
    if multirun:
        return None
    try:
        with initialize_config_dir(str(CONFIG_DIR), version_base=None):
            compose(config_name, overrides=args, return_hydra_config=True)
    except Exception as exc:  # noqa: BLE001
        return _compose_error(exc)
    return None


def precheck_or_exit(argv: list[str], prog: str, config_name: str = "config") -> None:
    """Exit with a one-line message when the overrides cannot be composed."""
    msg = precheck(argv, config_name)
    if msg:
        fail(msg, prog)
