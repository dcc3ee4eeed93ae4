"""RULER: the 13 synthetic long-context tasks (benchmarks.md §2)."""
