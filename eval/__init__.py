"""Benchmarks: InfiniteBench, RULER and NIAH prompts, data and scorers (see docs/interfaces.md).

Kept import-light: import the submodules (``eval.suite``, ``eval.prompts``, ``eval.scoring``) directly.
"""
