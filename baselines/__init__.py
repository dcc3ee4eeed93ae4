"""Comparison methods, one file each (FullKV, SnapKV, GemFilter, FastKV, ...).

Each module imports the framework in ``asl.methods`` and never the reverse. Methods are found through
the ``_target_`` of their YAML in ``configs/method/``; this package imports none of its modules.
"""
