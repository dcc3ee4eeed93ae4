"""InfiniteBench: official-file loader, offline generators, official scorers (benchmarks.md §1)."""
