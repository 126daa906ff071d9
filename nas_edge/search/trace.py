"""The search trace: curves of how a search method derived a trial (a differentiable search's lambda schedule
and architecture probabilities per epoch), stored with the trial and drawn in the study report.

A method passes ``{TRACE_ATTR: trace.to_attr()}`` among the trial's user attributes
(:meth:`~nas_edge.search.run.SearchRun.record`); the stored value is compact JSON (numbers to four significant
digits)::

    {"method": "dnas", "x_label": "epoch", "x": [1, 2, ...],
     "plots": [{"title": ..., "y_label": ..., "series": {name: [y per x]}, "log_y": false, "group": ""}]}

A plot with a ``group`` is drawn folded under that heading. :meth:`Trace.from_attr` reads it back and returns
``None`` for anything malformed: a study file is input, and a report never fails on it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TRACE_ATTR = "search_trace"
MAX_PLOTS = 256  # a stored trace with more is not drawn (a tampered study)
MAX_POINTS = 10_000


def _compact(v: float) -> float | None:
    v = float(v)
    return float(f"{v:.4g}") if math.isfinite(v) else None


@dataclass(frozen=True)
class TracePlot:
    """One chart: a line per series, one value per ``x`` of the trace (``nan`` where there is none)."""

    title: str
    y_label: str
    series: dict[str, list[float]]
    log_y: bool = False
    group: str = ""


@dataclass(frozen=True)
class Trace:
    """The curves of one trial's derivation, over a common ``x`` (e.g. epochs 1..n)."""

    method: str
    x_label: str
    x: list[float]
    plots: list[TracePlot] = field(default_factory=list)

    def to_attr(self) -> dict[str, Any]:
        """The JSON-safe, compact user attribute."""
        return {"method": self.method, "x_label": self.x_label, "x": [_compact(v) for v in self.x],
                "plots": [{"title": p.title, "y_label": p.y_label, "log_y": p.log_y, "group": p.group,
                           "series": {k: [_compact(v) for v in ys] for k, ys in p.series.items()}}
                          for p in self.plots]}

    @classmethod
    def from_attr(cls, value: Any) -> Trace | None:
        """The trace stored in a user attribute, or ``None`` when there is none or it is malformed."""
        try:
            if not isinstance(value, Mapping):
                return None
            x = _numbers(value["x"])
            plots = value["plots"]
            if x is None or not x or not isinstance(plots, Sequence) or len(plots) > MAX_PLOTS:
                return None
            out = []
            for p in plots:
                series: dict[str, list[float]] = {}
                for name, ys in p["series"].items():
                    values = _numbers(ys)
                    if values is None or len(values) != len(x):
                        return None
                    series[str(name)] = values
                if not series:
                    return None
                out.append(TracePlot(str(p["title"]), str(p["y_label"]), series, bool(p.get("log_y", False)),
                                     str(p.get("group") or "")))
            return cls(str(value["method"]), str(value["x_label"]), x, out)
        except (KeyError, TypeError, AttributeError, ValueError):
            return None


def _numbers(values: Any) -> list[float] | None:
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Sequence) or len(values) > MAX_POINTS:
        return None
    out = []
    for v in values:
        if v is None:
            out.append(math.nan)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(float(v))
        else:
            return None
    return out


__all__ = ["MAX_PLOTS", "MAX_POINTS", "TRACE_ATTR", "Trace", "TracePlot"]
