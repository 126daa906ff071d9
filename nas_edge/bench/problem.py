"""A benchmark problem: objectives and constraints drawn from the table, and its exact optimum.

The table is complete, so the best attainable hypervolume is known exactly: every objective is scaled so that
0 is its best value and 1 its worst over the exact Pareto front of the feasible cells (its nadir point), the
reference point is 1.1 in every objective (10 % beyond the nadir, so that the front's extreme cells count),
and the optimum is the hypervolume of all feasible cells. Cells beyond the nadir in some objective add
nothing, so the ratio measures how much of the true front a run has found, not how far it is from poor cells.
A run's quality is its hypervolume divided by that optimum (1.0 = the exact Pareto front found).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from nas_edge.bench.costs import cell_costs
from nas_edge.bench.data import BenchData, load
from nas_edge.bench.fields import BenchFieldError, is_field, parse_field
from nas_edge.errors import NasEdgeError
from nas_edge.samplers import hypervolume, pareto_mask
from nas_edge.search import CAPACITY_KEY, CONSTRAINABLE, Constraint, SearchError
from nas_edge.search.constraints import split_constraint
from nas_edge.spaces.nb201 import N_CELLS, OPS, PARAM_NAMES, network_representatives

REFERENCE = 1.1


class BenchProblemError(NasEdgeError, ValueError):
    """An unknown objective or a malformed constraint (the message lists the valid ones)."""


def direction(name: str) -> str:
    if is_field(name):
        parse_field(name)
        return "maximize"
    if name in CONSTRAINABLE:
        return CONSTRAINABLE[name]
    raise BenchProblemError(f"unknown objective {name!r}; valid: an accuracy field (nas-edge bench fields) or "
                            f"one of {', '.join(sorted(CONSTRAINABLE))}")


@dataclass(frozen=True)
class TableConstraint(Constraint):
    """A search constraint (:class:`nas_edge.search.Constraint`: the same syntax, key and violation) that may
    also bound an accuracy field, since the table knows every cell's accuracy."""

    def _check_name(self) -> None:
        direction(self.name)


def parse_bound(text: str) -> TableConstraint:
    """``"area_mm2<=5"`` or ``"anb_hwt_30d>=85"`` -> :class:`TableConstraint`."""
    try:
        return TableConstraint(*split_constraint(text))
    except SearchError as exc:
        raise BenchProblemError(str(exc)) from None


@dataclass(frozen=True)
class Problem:
    objectives: tuple[str, ...]
    profile: str
    constraints: tuple[str, ...]
    directions: tuple[str, ...]
    values: np.ndarray  # (cells, objectives), study units
    violations: dict[str, np.ndarray]  # constraint key -> (cells,), feasible when <= 0
    ideal: np.ndarray  # minimisation form
    nadir: np.ndarray
    optimum: float
    per_network: bool = False

    @property
    def feasible(self) -> np.ndarray:
        ok = np.ones(N_CELLS, dtype=bool)
        for v in self.violations.values():
            ok &= v <= 0
        return ok

    @property
    def signs(self) -> np.ndarray:
        return np.array([-1.0 if d == "maximize" else 1.0 for d in self.directions])

    def normalised(self, cells: np.ndarray) -> np.ndarray:
        y = self.values[np.asarray(cells, dtype=int)] * self.signs
        return (y - self.ideal) / np.where(self.nadir > self.ideal, self.nadir - self.ideal, 1.0)

    def hv_ratio(self, cells: Sequence[int]) -> float:
        """Hypervolume of the feasible ones among ``cells`` over the exact optimum."""
        kept = np.asarray([c for c in cells if self.feasible[c]], dtype=int)
        if not len(kept) or self.optimum <= 0:
            return 0.0
        return hypervolume(self.normalised(kept), np.full(len(self.objectives), REFERENCE)) / self.optimum

    def pareto_cells(self) -> np.ndarray:
        cells = np.flatnonzero(self.feasible)
        return cells[pareto_mask(self.normalised(cells))]

    def describe(self) -> str:
        cons = f" s.t. {', '.join(self.constraints)}" if self.constraints else ""
        mean = " (accuracy: mean per network)" if self.per_network else ""
        return f"{', '.join(f'{d[:3]} {o}' for o, d in zip(self.objectives, self.directions, strict=True))}" \
               f" on {self.profile}{cons}{mean}"


def cell_indices(params: Sequence[Mapping[str, object]]) -> np.ndarray:
    """Cell index of each parameter set of the ``nb201`` space (vectorised)."""
    op_id: dict[object, int] = {op: i for i, op in enumerate(OPS)}
    ids = np.array([[op_id[p[n]] for n in PARAM_NAMES] for p in params], dtype=np.int64).reshape(-1, len(PARAM_NAMES))
    return ids @ (len(OPS) ** np.arange(len(PARAM_NAMES) - 1, -1, -1))


def network_mean(values: np.ndarray) -> np.ndarray:
    """Each cell's value replaced by the mean over the cells that build the same network
    (:func:`nas_edge.spaces.nb201.network_representatives`)."""
    _, network = np.unique(network_representatives(), return_inverse=True)
    means = np.bincount(network, weights=values) / np.bincount(network)
    return means[network]


def make_problem(objectives: Sequence[str], profile: str = "neurosim-rram-22nm",
                 constraints: Sequence[str] = (), *, data: BenchData | None = None,
                 per_network: bool = False) -> Problem:
    """Objectives (accuracy fields and cost totals) on one profile; ``constraints`` like ``"area_mm2<=5"``.
    Every trial is also bound by :data:`nas_edge.search.CAPACITY_KEY` (the network must fit the chip).

    ``per_network``: each cell's accuracy is the mean over the cells that build the same network (they were
    trained, and simulated, separately: their spread is training noise), so the exact optimum is that of the
    7,055 networks rather than of the luckiest of up to 400 copies of a network."""
    objectives = tuple(objectives)
    if len(objectives) < 2 or len(set(objectives)) != len(objectives):
        raise BenchProblemError(f"give two or more distinct objectives, got {list(objectives)}")
    try:
        dirs = tuple(direction(o) for o in objectives)
        bounds = [parse_bound(c) for c in constraints]
    except BenchFieldError as exc:
        raise BenchProblemError(str(exc)) from None
    data = data if data is not None or not any(map(is_field, [*objectives, *(b.name for b in bounds)])) else load()
    costs = cell_costs([profile])
    prof = costs.profiles[0]

    def column(name: str) -> np.ndarray:
        if is_field(name):
            assert data is not None
            return network_mean(data.column(name)) if per_network else data.column(name)
        if name == "params":
            return costs.params
        if name == "macs":
            return costs.macs
        return costs.column(name, prof)

    values = np.stack([column(o) for o in objectives], axis=1)
    violations = {CAPACITY_KEY: 1.0 - costs.column("feasible", prof)}
    for bound in bounds:
        violations[str(bound)] = bound.violation(column(bound.name))
    ok = np.ones(N_CELLS, dtype=bool)
    for v in violations.values():
        ok &= v <= 0
    if not ok.any():
        raise BenchProblemError(f"no cell satisfies {', '.join(constraints) or 'the chip capacity'} on {prof}")
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in dirs])
    y = values[ok] * signs
    y = y[pareto_mask(y)]
    ideal, nadir = y.min(axis=0), y.max(axis=0)
    problem = Problem(objectives, prof, tuple(constraints), dirs, values, violations, ideal, nadir, 1.0, per_network)
    optimum = hypervolume(problem.normalised(np.flatnonzero(ok)), np.full(len(objectives), REFERENCE))
    return dataclasses.replace(problem, optimum=optimum)
