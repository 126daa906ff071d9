"""Samplers for hardware-aware search; generic (NumPy, SciPy, Optuna only) and shipped in ``plugins/``.

``HWScreeningSampler`` screens many candidates per trial with the user's cheap objectives and constraints and a
Gaussian-process surrogate for the expensive ones. ``hypervolume`` is the project's exact hypervolume.
"""

from nas_edge.samplers._hv import hypervolume, nondominated_boxes, pareto_mask
from nas_edge.samplers._hw_sampler import HWScreeningSampler
from nas_edge.samplers._trials import LEGACY_CONSTRAINTS_KEY, named_constraints

__all__ = ["LEGACY_CONSTRAINTS_KEY", "HWScreeningSampler", "hypervolume", "named_constraints", "nondominated_boxes",
           "pareto_mask"]
