"""Results: one typed schema for per-sample records and run summaries, their files, one reader, tables.

The runner writes ``predictions.jsonl`` (one :class:`SampleRecord` per line) and ``metrics.json`` (a
:class:`RunSummary`); tables, ``reproduce_table2`` and the figures read them only through
:mod:`asl.results.reader`.
"""
