"""Command-line front of the scripts: Hydra's own flags, a pre-check of the overrides, one-line errors.

The command line is parsed with Hydra's parser, so ``--cfg``/``-c``, ``--info``, ``-cn``/``-cp``/``-cd``,
``--help`` and the rest mean what they mean to Hydra. Before Hydra runs, every job's config is composed
(and, for ``run.py``, validated), so a bad override is one line on stderr and exit code 2, before anything
is written. ``--cfg job -m ...`` (which Hydra refuses) previews each job of the multirun.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from omegaconf import OmegaConf

from asl.config_groups import group_choices
from asl.harness.validation import one_line
from asl.paths import CONFIG_DIR

GROUPS = ("model", "method", "benchmark", "experiment", "logger")
SCRIPTS_DIR = CONFIG_DIR.parent / "scripts"


def fail(message: str, prog: str = "run.py", code: int = 2) -> NoReturn:
    """Print ``prog: error: message`` on stderr (one line) and exit."""
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


VALUE_FLAGS = {"-c", "--cfg", "-p", "--package", "-cp", "--config-path", "-cn", "--config-name", "-cd",
               "--config-dir", "--experimental-rerun"}  # fmt: skip
INFO_FLAGS = {"-i", "--info"}
INFO_TOPICS = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}


def flags_first(argv: list[str]) -> list[str]:
    """The command line with Hydra's flags (and their values) before the overrides, as Hydra's parser
    needs them: ``results_dir=x -m method=a,b`` -> ``-m results_dir=x method=a,b``."""
    flags: list[str] = []
    overrides: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-"):
            overrides.append(arg)
        elif "=" in arg or arg not in VALUE_FLAGS | INFO_FLAGS:
            flags.append(arg)
        elif arg in VALUE_FLAGS or (i + 1 < len(argv) and argv[i + 1] in INFO_TOPICS):
            flags += argv[i : i + 2]
            i += 1
        else:
            flags.append(arg)
        i += 1
    return flags + overrides


def parse_argv(argv: list[str]) -> argparse.Namespace:
    """The command line as Hydra parses it (argparse prints its usage and exits 2 on a bad flag)."""
    from hydra._internal.utils import get_args_parser

    return get_args_parser().parse_args(argv)


def _hydra_handles(args: argparse.Namespace) -> bool:
    """Flags Hydra answers itself, without running a job."""
    flags = ("help", "hydra_help", "shell_completion", "info", "experimental_rerun")
    return any(getattr(args, flag, None) for flag in flags)


def config_location(args: argparse.Namespace, config_name: str) -> tuple[Path, str]:
    """The config directory and primary config name after ``-cp`` and ``-cn`` (relative to scripts/)."""
    directory = CONFIG_DIR
    if args.config_path:
        path = Path(args.config_path)
        directory = path if path.is_absolute() else (SCRIPTS_DIR / path).resolve()
    return directory, args.config_name or config_name


def check_groups(overrides: list[str]) -> str | None:
    """Each value given to a config group (swept or not) is one of its options."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Glob

    parsed = OverridesParser.create().parse_overrides(overrides)
    if any(o.key_or_group == "hydra.searchpath" for o in parsed):
        return None
    for ov in parsed:
        if ov.key_or_group not in GROUPS or ov.is_delete() or isinstance(ov.value(), Glob):
            continue
        values = (
            list(ov.sweep_string_iterator()) if ov.is_sweep_override() else [ov.get_value_element_as_str()]
        )
        choices = group_choices(ov.key_or_group)
        for value in values:
            if value not in choices and value != "null":
                return f"unknown {ov.key_or_group} {value!r}; choices: {', '.join(choices)}"
    return None


def check_job(config_name: str, overrides: list[str], validate: bool) -> str | None:
    """Compose one job (and validate it as a run, with ``validate``); a one-line error or None."""
    from asl.harness.sweep import compose_error, compose_job

    try:
        cfg = compose_job(config_name, overrides)
    except Exception as exc:  # noqa: BLE001 - Hydra raises several types here
        return compose_error(exc, config_name, overrides)
    if validate:
        from asl.harness.config import cli_override_keys, resolve_run_method
        from asl.harness.validation import check_paths, validate_run

        try:
            validate_run(cfg)
            check_paths(cfg, cli_override_keys(overrides))
            resolve_run_method(cfg, cli_override_keys(overrides))
        except (ValueError, TypeError) as exc:
            return one_line(exc)
    return None


def precheck(
    argv: list[str], config_name: str = "config", validate: bool = False
) -> tuple[str | None, str | None]:
    """Check the command line; returns (one-line error or None, multirun preview text or None)."""
    from asl.harness.sweep import compose_error, expand_jobs, hydra_context, preview

    args = parse_argv(argv)
    if _hydra_handles(args) or args.config_dir:
        return None, None  # Hydra answers these itself; an extra config dir is Hydra's to search
    directory, name = config_location(args, config_name)
    overrides = list(args.overrides)
    try:
        msg = check_groups(overrides) if directory == CONFIG_DIR else None
    except Exception as exc:  # noqa: BLE001 - a parse error of the overrides
        return one_line(exc), None
    if msg:
        return msg, None
    with hydra_context(directory):
        try:
            jobs = expand_jobs(name, overrides) if args.multirun else [overrides]
        except Exception as exc:  # noqa: BLE001
            return compose_error(exc, name, overrides), None
        for job in jobs:
            msg = check_job(name, job, validate)
            if msg:
                return (f"job {' '.join(job)}: {msg}" if args.multirun else msg), None
        if args.multirun and args.cfg:
            return None, preview(name, launched_jobs(name, jobs), args.cfg)
    return None, None


def launched_jobs(config_name: str, jobs: list[list[str]]) -> list[list[str]]:
    """The jobs Hydra launches: with ``share_prefill`` those differing only in the method are one job."""
    from asl.harness.sharing import group_jobs
    from asl.harness.sweep import compose_job

    if not jobs or not compose_job(config_name, jobs[0]).get("share_prefill", False):
        return jobs
    return group_jobs(jobs)


def precheck_or_exit(argv: list[str], prog: str, config_name: str = "config", validate: bool = False) -> None:
    """Exit 2 with one line when the command line cannot be composed; print a multirun preview and exit 0."""
    register_resolvers()
    argv = flags_first(argv)
    sys.argv[1:] = argv  # Hydra parses sys.argv itself
    msg, text = precheck(argv, config_name, validate)
    if msg:
        fail(msg, prog)
    if text is not None:
        print(text)
        sys.exit(0)


def register_resolvers() -> None:
    """``${asl_help:benchmarks}`` and ``${asl_help:methods}`` for ``--help`` (configs/config.yaml)."""
    from asl.harness.help_text import help_section

    if not OmegaConf.has_resolver("asl_help"):
        OmegaConf.register_new_resolver("asl_help", help_section)
