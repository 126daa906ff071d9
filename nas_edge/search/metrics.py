"""What a search can optimise or bound: every metric name, its direction, and the registry new metrics join.

Three families, all known by name before a study starts:

- **model metrics** (:data:`MODEL_METRICS`) need the network itself: trained accuracy, a zero-cost proxy,
  accuracy on the simulated analog chip. An evaluator (:mod:`nas_edge.search.evaluators`) computes them; the
  ones an evaluator declares ``trained`` cost a training run and are skipped for candidates that break a
  constraint;
- **network metrics** (``params``, ``macs``) come from the analytic workload;
- **cost metrics** are the cost model's totals (:data:`nas_edge.cost.TOTAL_NAMES`).

Network and cost metrics are known before training: they may be bounded by a constraint
(:data:`CONSTRAINABLE`) and are computed exactly by the screening sampler. :func:`register_metric` adds a
model metric (e.g. an accuracy read from a benchmark table); the dictionaries here are updated in place, so
every module that imported them sees the addition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from nas_edge.analog.config import ANALOG_OBJECTIVES
from nas_edge.cost import TOTAL_NAMES
from nas_edge.search.errors import SearchError

Direction = Literal["minimize", "maximize"]
DIRECTIONS: tuple[Direction, ...] = ("minimize", "maximize")

MODEL_METRICS: dict[str, Direction] = {"accuracy": "maximize", "naswot": "maximize", "synflow": "maximize",
                                 **dict.fromkeys(ANALOG_OBJECTIVES, "maximize")}
"""Metrics that need the network itself: trained accuracy, a zero-cost proxy, or the accuracy on the simulated
analog chip after programming (``analog_accuracy``) and after 1 h / 1 day / 1 month of drift."""
TRAINED_METRICS = frozenset({"accuracy", *ANALOG_OBJECTIVES})
"""The built-in model metrics that cost a training run with the ``train`` evaluator (skipped, as 0, for
candidates that break a constraint)."""
NETWORK_METRICS: dict[str, Direction] = {"params": "minimize", "macs": "minimize"}
_MAXIMIZE_COST = {"tops", "tops_per_w", "tops_per_mm2", "frames_per_s", "frames_per_s_pipelined", "utilisation"}
_NOT_METRICS = {"fits", "feasible"}  # 0/1 flags: the capacity constraint, not something to optimise
COST_METRICS: dict[str, Direction] = {n: ("maximize" if n in _MAXIMIZE_COST else "minimize")
                                for n in TOTAL_NAMES if n not in _NOT_METRICS}
OBJECTIVES: dict[str, Direction] = {**MODEL_METRICS, **NETWORK_METRICS, **COST_METRICS}
"""Every objective name and its direction."""
CONSTRAINABLE: dict[str, Direction] = {**NETWORK_METRICS, **COST_METRICS}
"""Names a constraint may bound: everything known before training."""


def register_metric(name: str, direction: Direction) -> None:
    """Make ``name`` a model metric (an objective some evaluator computes) with ``direction``.

    Registering the same name twice with the same direction is a no-op; anything else is an error.
    """
    if direction not in DIRECTIONS:
        raise SearchError(f"metric {name!r}: direction must be 'minimize' or 'maximize', got {direction!r}")
    if not name.isidentifier():
        raise SearchError(f"metric name {name!r} must be an identifier (letters, digits, _)")
    if name in OBJECTIVES:
        if MODEL_METRICS.get(name) == direction:
            return
        raise SearchError(f"metric {name!r} is already defined ({OBJECTIVES[name]})")
    MODEL_METRICS[name] = OBJECTIVES[name] = direction


def check_objectives(objectives: str | Sequence[str]) -> tuple[str, ...]:
    """Objective names from ``"a,b"`` or a sequence: known, distinct, at least one."""
    names = tuple(o.strip() for o in (objectives.split(",") if isinstance(objectives, str) else objectives))
    if not names or any(not n for n in names):
        raise SearchError("give at least one objective, e.g. accuracy,energy_uj")
    unknown = [n for n in names if n not in OBJECTIVES]
    if unknown:
        raise SearchError(f"unknown objective {unknown[0]!r}; known: {', '.join(sorted(OBJECTIVES))}; another "
                          "evaluator's metrics are known once it is chosen (e.g. --evaluator bench for the "
                          "NAS-Bench-201 tables' accuracies)")
    if len(set(names)) != len(names):
        raise SearchError(f"objectives repeat a name: {', '.join(names)}")
    return names
