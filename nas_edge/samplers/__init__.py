"""Samplers for hardware-aware search; generic (NumPy, SciPy, Optuna only) and shipped in ``plugins/``.

``HWScreeningSampler`` screens many candidates per trial with the user's cheap objectives and constraints and a
Gaussian-process surrogate for the expensive ones. ``hypervolume`` is the project's exact hypervolume.
"""

from nas_edge.samplers._hv import hypervolume, nondominated_boxes, pareto_mask
from nas_edge.samplers._hw_sampler import HWScreeningSampler

__all__ = ["HWScreeningSampler", "hypervolume", "nondominated_boxes", "pareto_mask"]
