"""nas-edge's cost totals of every NAS-Bench-201 cell on hardware profiles (analytic workloads, no torch)."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nas_edge.cost import PackedWorkloads, estimate_batch, pack_profiles
from nas_edge.hardware import Profile, load_profile
from nas_edge.hardware.loader import builtin_names, profile_to_dict
from nas_edge.spaces._rows import Rows
from nas_edge.spaces.nb201 import N_CELLS, NB201Architecture, NB201Space

COST_COLUMNS = ("energy_uj", "latency_ms", "area_mm2", "tops_per_w", "arrays_needed", "utilisation", "feasible")
"""The cost totals the table keeps per profile (any total of :data:`nas_edge.cost.TOTAL_NAMES` can be asked)."""


def profile_hash(profile: Profile) -> str:
    """SHA-256 of the profile's content (canonical JSON, ``base`` applied): cite it beside the name."""
    text = json.dumps(profile_to_dict(profile), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def cost_space() -> NB201Space:
    """The network the table costs: NAS-Bench-201 on CIFAR (3 x 32 x 32 input, 10 classes)."""
    return NB201Space()


@functools.lru_cache(maxsize=1)
def all_workloads() -> PackedWorkloads:
    """The analytic workloads of all cells, packed for :func:`nas_edge.cost.estimate_batch` (cell order);
    built once per process."""
    space = cost_space()
    rows, offsets = Rows(), [0]
    for i in range(N_CELLS):
        space.append_rows(rows, NB201Architecture.from_index(i))
        offsets.append(len(rows.names))
    return PackedWorkloads.from_concatenated(rows.workload(), offsets)


@dataclass(frozen=True)
class CellCosts:
    """Cost totals of all cells on some profiles: ``values[(profile, total)]`` is a (15625,) array."""

    profiles: tuple[str, ...]
    hashes: dict[str, str]
    values: dict[tuple[str, str], np.ndarray]
    params: np.ndarray
    macs: np.ndarray

    def column(self, total: str, profile: str) -> np.ndarray:
        return self.values[(profile, total)]


def cell_costs(profiles: Sequence[str | Profile] | None = None, *, packed: PackedWorkloads | None = None,
               totals: Sequence[str] | None = None) -> CellCosts:
    """Every cell on every profile (default: every built-in one) in one batched cost-model call."""
    profs = [load_profile(p) for p in (profiles if profiles else builtin_names())]
    names = [p.name for p in profs]
    if len(set(names)) != len(names):
        raise ValueError(f"profiles given twice: {', '.join(sorted({n for n in names if names.count(n) > 1}))}")
    packed = packed or all_workloads()
    batch = estimate_batch(packed, pack_profiles(profs))
    keep = tuple(totals) if totals is not None else tuple(batch.values)
    values = {(name, t): batch.grid(t, len(packed), len(profs))[:, j].copy() for j, name in enumerate(names)
              for t in keep}
    space = cost_space()
    params = np.array([space.param_count(NB201Architecture.from_index(i)) for i in range(N_CELLS)], dtype=float)
    offsets = packed.offsets
    macs_col = packed.columns[6]
    macs = np.add.reduceat(macs_col, offsets[:-1]) if len(macs_col) else np.zeros(N_CELLS)
    return CellCosts(tuple(names), {p.name: profile_hash(p) for p in profs}, values, params, macs)
