"""Visualisation (matplotlib, the 'viz' extra): training curves."""

from dagrad.viz.plots import OptionalDependencyError, plot_history

__all__ = ["OptionalDependencyError", "plot_history"]
