"""Figures and tables from run directories and summary tables (``make plots``); never loads a model."""

from asl.plotting.runner import PlotError, main, run

__all__ = ["PlotError", "main", "run"]
