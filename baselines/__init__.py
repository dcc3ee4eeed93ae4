"""Baseline pruning methods: FullKV, SnapKV, GemFilter, FastKV."""

from baselines.fastkv import FastKV
from baselines.fullkv import FullKV
from baselines.gemfilter import GemFilter
from baselines.snapkv import SnapKV

__all__ = ["FastKV", "FullKV", "GemFilter", "SnapKV"]
