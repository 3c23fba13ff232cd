"""Figures for the course: graphs, decision regions, curves, landscapes, layer statistics, derivatives.

Every function draws on the ``ax`` it is given (or a new pyplot figure, shown inline in a notebook) and
returns its Axes. All use one style (:mod:`deepgrad.viz.style`): the Okabe–Ito colour-blind-safe
palette, labelled axes, titles, and text or marker shapes beside every colour.
"""
from .boundaries import decision_grid, plot_decision_boundary, plot_templates
from .curves import history_to_dict, plot_history
from .gradients import fd_errors, plot_fd_error, plot_jacobian
from .graph import DrawGraph, DrawNode, as_graph, draw_graph, layout
from .landscape import SURFACES, Surface, evaluate_grid, plot_loss_landscape
from .stats import layer_stats, plot_layer_stats
from .style import FORWARD, GRADIENT, OKABE_ITO, PALETTE, figure_to_png, new_figure, style

__all__ = [
    "draw_graph", "DrawGraph", "DrawNode", "as_graph", "layout",
    "plot_decision_boundary", "decision_grid", "plot_templates",
    "plot_history", "history_to_dict",
    "plot_loss_landscape", "Surface", "SURFACES", "evaluate_grid",
    "plot_layer_stats", "layer_stats",
    "plot_fd_error", "fd_errors", "plot_jacobian",
    "style", "new_figure", "figure_to_png", "OKABE_ITO", "PALETTE", "FORWARD", "GRADIENT",
]
