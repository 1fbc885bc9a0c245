"""Visualisation and diagnostics: training curves, computation graphs, filters, gradient norms.

Every function returns its raw result (DOT text, arrays, dicts); matplotlib (the 'viz' extra) is needed only to
draw pictures, and Graphviz's `dot` program only to turn DOT text into SVG/PNG.
"""

from dagrad.viz.filters import activation_maximization, show_filters
from dagrad.viz.gradients import gradient_norms
from dagrad.viz.graph import graph
from dagrad.viz.plots import OptionalDependencyError, plot_history

__all__ = [
    "OptionalDependencyError", "activation_maximization", "gradient_norms", "graph", "plot_history", "show_filters",
]  # fmt: skip
