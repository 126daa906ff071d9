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
from nas_edge.spaces.nb201 import N_CELLS, NB201Architecture, NB201Space, network_representatives

COST_COLUMNS = ("energy_uj", "latency_ms", "area_mm2", "tops_per_w", "arrays_needed", "utilisation", "feasible")
"""The cost totals the table keeps per profile (any total of :data:`nas_edge.cost.TOTAL_NAMES` can be asked)."""


def profile_hash(profile: Profile) -> str:
    """SHA-256 of the profile's content (canonical JSON, ``base`` applied): cite it beside the name."""
    text = json.dumps(profile_to_dict(profile), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def cost_space() -> NB201Space:
    """The network the table costs: NAS-Bench-201 on CIFAR (3 x 32 x 32 input, 10 classes)."""
    return NB201Space()


@dataclass(frozen=True)
class CellNetworks:
    """The distinct networks of the cells: cells with the same :func:`~nas_edge.spaces.nb201.network_key`
    (a dead edge, two inner nodes swapped, a node that only forwards its input) build the same network, so
    they share one workload and one cost. ``network[c]`` is the index of cell ``c``'s network; ``params`` and
    ``macs`` are the search's ``params`` and ``macs`` metrics of each network (its workload's totals)."""

    network: np.ndarray  # (15625,) int
    cells: np.ndarray  # (networks,) the representative (smallest) cell of each network
    packed: PackedWorkloads
    params: np.ndarray  # (networks,)
    macs: np.ndarray  # (networks,)

    def __len__(self) -> int:
        return len(self.cells)


@functools.lru_cache(maxsize=1)
def cell_networks() -> CellNetworks:
    """The analytic workloads of the 7,055 distinct networks, packed for :func:`nas_edge.cost.estimate_batch`;
    built once per process."""
    space = cost_space()
    reps = network_representatives()
    cells, network = np.unique(reps, return_inverse=True)
    workloads = [space.layers(NB201Architecture.from_index(int(c))) for c in cells]
    return CellNetworks(network=network.astype(np.int64), cells=cells, packed=PackedWorkloads(workloads),
                        params=np.array([w.total_params for w in workloads]),
                        macs=np.array([w.total_macs for w in workloads]))


@dataclass(frozen=True)
class CellCosts:
    """Cost totals of all cells on some profiles: ``values[(profile, total)]`` is a (15625,) array; ``params``
    and ``macs`` the search's metrics of each cell (live weights and matmul MACs of its workload),
    ``model_size`` NAS-Bench-201's parameter count (:meth:`~nas_edge.spaces.nb201.NB201Space.param_count`)."""

    profiles: tuple[str, ...]
    hashes: dict[str, str]
    values: dict[tuple[str, str], np.ndarray]
    params: np.ndarray
    macs: np.ndarray
    model_size: np.ndarray

    def column(self, total: str, profile: str) -> np.ndarray:
        return self.values[(profile, total)]


def cell_costs(profiles: Sequence[str | Profile] | None = None, *, totals: Sequence[str] | None = None
               ) -> CellCosts:
    """Every cell on every profile (default: every built-in one): each distinct network costed once, in one
    batched cost-model call."""
    profs = [load_profile(p) for p in (profiles if profiles else builtin_names())]
    names = [p.name for p in profs]
    if len(set(names)) != len(names):
        raise ValueError(f"profiles given twice: {', '.join(sorted({n for n in names if names.count(n) > 1}))}")
    nets = cell_networks()
    batch = estimate_batch(nets.packed, pack_profiles(profs))
    keep = tuple(totals) if totals is not None else tuple(batch.values)
    values = {(name, t): batch.grid(t, len(nets), len(profs))[nets.network, j] for j, name in enumerate(names)
              for t in keep}
    space = cost_space()
    model_size = np.array([space.param_count(NB201Architecture.from_index(i)) for i in range(N_CELLS)], dtype=float)
    return CellCosts(tuple(names), {p.name: profile_hash(p) for p in profs}, values, nets.params[nets.network],
                     nets.macs[nets.network], model_size)
