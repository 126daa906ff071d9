"""The search room's error: bad search input (names, constraints, data, hardware, storage, sampler)."""

from __future__ import annotations

from nas_edge.errors import NasEdgeError


class SearchError(NasEdgeError, ValueError):
    """Bad search input (names, constraints, data, hardware, storage, sampler): one clear message."""
