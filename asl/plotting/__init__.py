"""Figures and Table 2 from run directories and efficiency.csv files (``make plots``); never loads a model."""

from asl.plotting.figures import PlotError, draw_figures

__all__ = ["PlotError", "draw_figures"]
