"""How a search progressed, trial by trial, for plots: the best value so far (one objective) or the
hypervolume of the feasible Pareto front so far (several)."""

from __future__ import annotations

from typing import Any

import numpy as np
from optuna.trial import TrialState

from nas_edge.samplers import hypervolume, pareto_mask
from nas_edge.search.constraints import trial_feasible

REFERENCE_MARGIN = 0.1
"""The hypervolume's reference point: the worst feasible value of each objective plus this share of its range
(as Optuna's samplers and nas-edge's hw sampler place it)."""


def search_history(study: Any) -> dict[str, Any]:
    """``{"kind": "best", "points": [[trial, value, best so far], ...]}`` for one objective, or
    ``{"kind": "hypervolume", "points": [[trial, hypervolume], ...], "reference": [...]}`` for several.

    Completed feasible trials count, in trial-number order. The hypervolume is taken in objectives scaled to
    the final feasible front's range (each from 0 at its best to 1 at its worst; maximised objectives
    flipped), so it is comparable between studies of the same objectives; the reference point is the worst
    feasible value plus :data:`REFERENCE_MARGIN` of the range.
    """
    done = sorted((t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                   if t.values is not None and trial_feasible(t)), key=lambda t: t.number)
    signs = np.array([-1.0 if d.name == "MAXIMIZE" else 1.0 for d in study.directions])
    if len(signs) == 1:
        points, best = [], None
        for t in done:
            v = float(t.values[0])
            best = v if best is None else (max(best, v) if signs[0] < 0 else min(best, v))
            points.append([t.number, v, best])
        return {"kind": "best", "points": points}
    if not done:
        return {"kind": "hypervolume", "points": [], "reference": None}
    y = np.array([t.values for t in done], dtype=float) * signs
    finite = np.isfinite(y).all(axis=1)
    y, numbers = y[finite], [t.number for t, ok in zip(done, finite, strict=True) if ok]
    if not len(y):
        return {"kind": "hypervolume", "points": [], "reference": None}
    front = y[pareto_mask(y)]
    lo, hi = front.min(axis=0), y.max(axis=0)
    scale = np.where(hi - lo > 1e-12, hi - lo, 1.0)
    z = (y - lo) / scale
    ref = z.max(axis=0) + REFERENCE_MARGIN * (z.max(axis=0) - z.min(axis=0)) + 1e-9
    points = [[n, float(hypervolume(z[: i + 1], ref))] for i, n in enumerate(numbers)]
    return {"kind": "hypervolume", "points": points, "reference": [float(r) for r in ref]}


__all__ = ["REFERENCE_MARGIN", "search_history"]
