"""Per-choice hardware costs, computed once by the cost model and held in tables.

For a metric that is a sum over layers, the cost of a network is ``f(empty) + sum over terms of v_t``, where
``v_t = f(rows of term t) - f(empty)`` is tabulated over the joint choices of the term's factors (the
constant ``f(empty)`` is what a chip costs with no layer on it, e.g. its buffer and digital area). The
expected cost under independent factor distributions is each table contracted with its factors'
probabilities, plus the constant: exact for every one-hot choice, multilinear in the probabilities.

Which metrics and profiles keep that sum exact is checked here, not assumed (:func:`check_additive`):

- the metric must be a sum over layers (energy, latency, area, MACs, parameters, ADC conversions, arrays);
  a maximum (``pipeline_stage_ms``), a ratio (``tops_per_w``, ``utilisation``) or a product
  (``edp_uj_ms``) is not;
- an IMC chip sized to the network (``tiles: auto``) with leaking arrays makes every layer's leakage energy
  depend on the whole network's array count: energy is refused there (latency and area stay exact);
- a chip with a fixed tile count caps weight duplication (and reprograms or refuses) once a network needs
  more tiles than it has, which couples all layers: refused unless the largest network of the relaxed space
  fits (checked with the cost model on the same chip sized ``auto``).

Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nas_edge.cost import PackedWorkloads, estimate_batch
from nas_edge.dnas.config import DNASError
from nas_edge.dnas.relax import Relaxation
from nas_edge.hardware import Profile
from nas_edge.hardware.schema import IMCProfile
from nas_edge.workload.table import COLUMNS, OpKind, Workload

ADDITIVE_METRICS = ("energy_uj", "latency_ms", "area_mm2", "macs", "params", "adc_conversions", "arrays_needed")
"""Metrics that are sums over layers (plus a constant): the ones DNAS can penalise exactly."""
_WHY_NOT = {
    "pipeline_stage_ms": "the slowest layer (a maximum)", "frames_per_s_pipelined": "set by the slowest layer",
    "frames_per_s": "a reciprocal", "tops": "a ratio", "tops_per_w": "a ratio", "tops_per_mm2": "a ratio",
    "utilisation": "a ratio", "edp_uj_ms": "a product of two sums",
}


@dataclass(frozen=True, eq=False)
class CostTable:
    """One metric's cost as ``constant + sum over terms of table_t[choices of the term's factors]``."""

    metric: str
    profile: str
    cards: dict[str, int]  # choices per factor
    terms: tuple[tuple[tuple[str, ...], np.ndarray], ...]  # (factor names, table over their joint choices)
    constant: float

    def cost(self, indices: Mapping[str, int]) -> float:
        """The exact cost of the architecture that picks ``indices`` (missing factors: choice 0)."""
        total = self.constant
        for names, table in self.terms:
            total += float(table[tuple(int(indices.get(n, 0)) for n in names)])
        return total

    def expected_numpy(self, probs: Mapping[str, np.ndarray]) -> float:
        """The expected cost when factor ``f`` takes choice ``i`` with probability ``probs[f][i]``."""
        total = self.constant
        for names, table in self.terms:
            out = table
            for n in names:
                out = np.tensordot(probs[n], out, axes=([0], [0]))
            total += float(out)
        return total

    def uniform(self) -> float:
        """The expected cost with every choice equally likely (where a search starts)."""
        return self.expected_numpy({n: np.full(c, 1.0 / c) for n, c in self.cards.items()})

    def extremum(self, mode: str = "min") -> tuple[float, dict[str, int]]:
        """The lowest (``"min"``) or highest (``"max"``) cost of any architecture, and its choices."""
        _, choice = _eliminate(self.terms, self.cards, mode, self.constant)
        return self.cost(choice), choice  # summed as every other cost is (a limit equal to it is met)

    def most_likely_within(self, log_probs: Mapping[str, Sequence[float]], limit: float) -> dict[str, int] | None:
        """The most probable architecture costing at most ``limit`` when factor ``f`` takes choice ``i`` with
        log-probability ``log_probs[f][i]`` (factors not given: uniform), or ``None`` when none is that cheap.

        The Lagrangian ``max log p(x) - mu * cost(x)`` is solved exactly for each ``mu`` by variable elimination
        (its sum of tables plus one per factor); the smallest ``mu`` (by bisection) whose maximiser meets the
        limit gives the best such architecture on the hull of (cost, log p), which single choice changes then
        improve while one raises the probability and keeps the cost within the limit.
        """
        low, cheapest = self.extremum("min")
        if low > limit:
            return None
        lp = {n: np.asarray(log_probs.get(n, np.zeros(c)), dtype=np.float64) for n, c in self.cards.items()}
        unary = tuple(((n,), -v) for n, v in lp.items())
        span = max(1e-12, sum(float(v.max() - v.min()) for v in lp.values()))

        def solve(mu: float) -> dict[str, int]:
            return _eliminate(tuple((names, mu * t) for names, t in self.terms) + unary, self.cards, "min", 0.0)[1]

        best = solve(0.0)
        if self.cost(best) > limit:
            lo, hi = 0.0, span / max(self.extremum("max")[0] - low, 1e-12 * max(1.0, abs(low)))
            found = solve(hi)
            for _ in range(60):  # mu grows by 4^60: the cheapest architecture (or one as cheap) wins
                if self.cost(found) <= limit:
                    break
                lo, hi = hi, hi * 4
                found = solve(hi)
            else:
                found = cheapest
            for _ in range(50):
                mid = (lo + hi) / 2
                trial = solve(mid)
                if self.cost(trial) <= limit:
                    hi, found = mid, trial
                else:
                    lo = mid
            best = found if self.cost(found) <= limit else cheapest

        def score(x: Mapping[str, int]) -> float:
            return sum(float(lp[n][i]) for n, i in x.items())

        improved = True
        while improved:
            improved = False
            for n, v in lp.items():
                for i in np.argsort(-v):
                    if v[i] <= v[best[n]]:
                        break
                    other = {**best, n: int(i)}
                    if self.cost(other) <= limit and score(other) > score(best):
                        best, improved = other, True
                        break
        return best


def _eliminate(terms: Sequence[tuple[tuple[str, ...], np.ndarray]], cards: Mapping[str, int], mode: str,
               constant: float) -> tuple[float, dict[str, int]]:
    """Exact min (or max) of a sum of tables by variable elimination, with the choices that reach it."""
    pick = np.min if mode == "min" else np.max
    arg = np.argmin if mode == "min" else np.argmax
    tables = [(tuple(n), np.asarray(t, dtype=np.float64)) for n, t in terms]
    remaining = {n for names, _ in tables for n in names}
    trace: list[tuple[str, tuple[str, ...], np.ndarray]] = []
    def size(v: str, tables: list[tuple[tuple[str, ...], np.ndarray]]) -> int:
        scope = {n for names, _ in tables if v in names for n in names}
        return int(np.prod([cards[n] for n in scope]))

    while remaining:
        var = min(sorted(remaining), key=lambda v: size(v, tables))
        touching = [t for t in tables if var in t[0]]
        tables = [t for t in tables if var not in t[0]]
        scope = tuple(sorted({n for names, _ in touching for n in names}))
        joint = np.zeros([cards[n] for n in scope])
        for names, table in touching:
            order = [names.index(n) for n in scope if n in names]
            shape = [cards[n] if n in names else 1 for n in scope]
            joint = joint + np.transpose(table, order).reshape(shape)
        axis = scope.index(var)
        trace.append((var, scope, joint))
        tables.append((scope[:axis] + scope[axis + 1:], pick(joint, axis=axis)))
        remaining.discard(var)
    value = constant + sum(float(t) for _, t in tables)
    choice: dict[str, int] = {}
    for var, scope, joint in reversed(trace):
        index = tuple(slice(None) if n == var else choice[n] for n in scope)
        choice[var] = int(arg(joint[index]))
    return value, choice


def check_additive(metric: str, profile: Profile) -> None:
    """Refuse a metric that is not a sum over layers, or energy on a chip whose leakage couples the layers."""
    if metric not in ADDITIVE_METRICS:
        why = _WHY_NOT.get(metric, "not a sum over layers")
        raise DNASError(f"DNAS cannot penalise {metric!r}: it is {why}, so its expectation over the relaxed "
                        f"choices is not exact; use one of {', '.join(ADDITIVE_METRICS)}")
    if (isinstance(profile, IMCProfile) and profile.chip.tiles == "auto" and profile.array.leakage_power_uw > 0
            and metric == "energy_uj"):
        raise DNASError(f"DNAS cannot penalise energy_uj on {profile.name}: the chip is sized to the network "
                        "(tiles: auto) and its arrays leak, so each layer's leakage energy depends on the whole "
                        "network's arrays; penalise latency_ms or area_mm2, or fix chip.tiles")


def build_tables(relaxation: Relaxation, profile: Profile, metrics: Sequence[str]) -> dict[str, CostTable]:
    """Tables of ``metrics`` on ``profile`` for every term of ``relaxation`` (each joint choice costed once)."""
    for metric in metrics:
        check_additive(metric, profile)
    fixed_chip = profile if isinstance(profile, IMCProfile) and profile.chip.tiles != "auto" else None
    profiles: list[Profile] = [profile]
    if fixed_chip is not None:  # the same chip sized to each network: the tiles it wants, to check its capacity
        profiles.append(fixed_chip.model_copy(update={"chip": fixed_chip.chip.model_copy(update={"tiles": "auto"})}))
    values = _term_values(relaxation, profiles, [*metrics, "tiles"] if fixed_chip is not None else metrics)
    if fixed_chip is not None:
        _check_capacity(_table(relaxation, profile.name, "tiles", values[(1, "tiles")]), fixed_chip)
    return {m: _table(relaxation, profile.name, m, values[(0, m)]) for m in metrics}


def _term_values(relaxation: Relaxation, profiles: Sequence[Profile], metrics: Sequence[str]
                 ) -> dict[tuple[int, str], tuple[float, list[np.ndarray]]]:
    """For each (profile index, metric): ``(f(empty), [table per term of v = f(rows) - f(empty)])``.

    Every distinct joint choice of a term is one workload (the term's rows), workload 0 is the empty one; all
    are packed into one table and costed in one :func:`estimate_batch` call."""
    parts: list[tuple[np.ndarray, ...]] = []
    names: list[str] = []
    offsets = [0, 0]  # workload 0: no rows
    shapes, cache = [], {}
    index: list[list[int]] = []
    for term in relaxation.term_list:
        shapes.append(relaxation.cards(term))
        idx = []
        for combo in relaxation.combos(term):
            values = relaxation.term_values(term, combo)
            key = (term.name, tuple(values[f] for f in term.factors))
            if key not in cache:
                cache[key] = len(offsets) - 1
                full = relaxation.space.layers(relaxation.space.from_params(values))
                mask = relaxation.term_mask(term, full.names)
                parts.append(tuple(c[mask] for c in full.columns()))
                names.extend(n for n, keep in zip(full.names, mask, strict=True) if keep)
                offsets.append(offsets[-1] + int(mask.sum()))
            idx.append(cache[key])
        index.append(idx)
    columns: dict[str, Any] = {c: np.concatenate([p[i] for p in parts]) if parts else np.zeros(0)
                               for i, c in enumerate(COLUMNS)}
    packed = PackedWorkloads.from_concatenated(Workload(**columns, names=tuple(names)), offsets)
    n_work = len(packed)
    batch = estimate_batch(packed, list(profiles))
    starts = np.asarray(offsets[:-1])
    per_workload = {  # as HardwareCost.metrics takes them: Workload.total_macs (matmul kinds) and total_params
        "macs": _sums(np.where(columns["kind"] <= int(OpKind.DYNAMIC_MATMUL), columns["macs"], 0.0), starts,
                      offsets[-1]),
        "params": _sums(columns["params"], starts, offsets[-1]),
    }
    out = {}
    for p in range(len(profiles)):
        for m in metrics:
            col = per_workload[m] if m in per_workload else batch.grid(m, n_work, len(profiles))[:, p]
            empty = float(col[0])
            out[(p, m)] = (empty, [(col[np.asarray(idx)] - empty).reshape(shape)
                                   for idx, shape in zip(index, shapes, strict=True)])
    return out


def _sums(values: np.ndarray, starts: np.ndarray, end: int) -> np.ndarray:
    """Sum of ``values`` over each workload's rows (``starts``: where each begins; empty workloads sum to 0)."""
    total = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    ends = np.append(starts[1:], end)
    return total[ends] - total[starts]


def _table(relaxation: Relaxation, profile: str, metric: str, values: tuple[float, list[np.ndarray]]) -> CostTable:
    empty, per_term = values
    return CostTable(metric=metric, profile=profile, cards={f.name: len(f.choices) for f in relaxation.factors},
                     terms=tuple((t.factors, v) for t, v in zip(relaxation.term_list, per_term, strict=True)),
                     constant=empty)


def _check_capacity(tiles: CostTable, profile: IMCProfile) -> None:
    """A chip with a fixed tile count: refuse unless every network of the relaxed space fits at its wanted
    weight duplication (then no layer's mapping depends on another's)."""
    most, _ = tiles.extremum("max")
    if most > profile.chip.tiles:  # type: ignore[operator]
        raise DNASError(f"DNAS cannot relax this space on {profile.name} exactly: its largest networks need "
                        f"{most:.0f} tiles at full weight duplication but the chip has {profile.chip.tiles}, and "
                        "past that the chip caps duplication for all layers together (the layers' costs are no "
                        "longer a sum); fix or shrink the widest choices (fixed={...}), or use a sampler")
