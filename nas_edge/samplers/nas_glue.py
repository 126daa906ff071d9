"""Moved to :mod:`nas_edge.search.screening` (the screening glue is search code, not a generic sampler).

This alias keeps ``from nas_edge.samplers.nas_glue import screening_sampler, ObjectiveScreen`` working; it is
the one module under ``samplers/`` allowed to import the search package, and only when imported itself.
"""

from __future__ import annotations

import warnings

from nas_edge.search.screening import ObjectiveScreen, screening_sampler

warnings.warn("nas_edge.samplers.nas_glue moved to nas_edge.search.screening (also nas_edge.search."
              "screening_sampler); the old path will be removed", DeprecationWarning, stacklevel=2)

__all__ = ["ObjectiveScreen", "screening_sampler"]
