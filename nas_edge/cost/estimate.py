"""Public cost API: ``estimate(workload, profile) -> Cost`` and ``estimate_batch(workloads, profiles)``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np

from nas_edge.cost import kernels
from nas_edge.cost.layout import LAYER_FIELDS, N_LAYER, N_TOTAL, TOTAL_FIELDS, profile_params
from nas_edge.cost.values import ValueTrace, energy_factors
from nas_edge.hardware.loader import Profile, load_profile
from nas_edge.workload.table import COLUMNS, ColumnArrays, OpKind, Workload


@dataclass(frozen=True, eq=False)
class Cost:
    """Per-layer cost arrays and totals of one network on one profile.

    ``layers`` is an (n_layers x len(LAYER_FIELDS)) array (see :meth:`layer`); ``totals`` maps names to floats:
    energy (uJ, and by component), latency (ms, layer by layer), pipeline stage (ms), frames/s both ways,
    area (mm^2, and by component), arrays, tiles, fits, utilisation, ADC conversions, MACs, TOPS, TOPS/W,
    TOPS/mm^2 and EDP (uJ x ms).
    """

    workload: Workload
    profile: Profile
    layers: np.ndarray
    totals: dict[str, float]

    def layer(self, field: str) -> np.ndarray:
        return self.layers[:, LAYER_FIELDS.index(field)]

    def __getitem__(self, key: str) -> float:
        return self.totals[key]

    @property
    def fits(self) -> bool:
        return self.totals["fits"] > 0.5

    def to_dict(self, *, layers: bool = True) -> dict[str, Any]:
        """JSON-safe dict: profile name, totals and (optionally) one dict per layer."""
        out: dict[str, Any] = {"profile": self.profile.name, "kind": self.profile.kind,
                               "totals": {k: float(v) for k, v in self.totals.items()}}
        if layers:
            out["layers"] = [
                {"name": self.workload.names[i], "op": OpKind(int(self.workload.kind[i])).name.lower(),
                 "k": int(self.workload.k[i]), "n": int(self.workload.n[i]), "m": int(self.workload.m[i]),
                 "groups": int(self.workload.groups[i]),
                 **{f: float(self.layers[i, j]) for j, f in enumerate(LAYER_FIELDS)}}
                for i in range(len(self.workload))
            ]
        return out


def estimate(workload: Workload, profile: Profile | str, *, values: ValueTrace | None = None) -> Cost:
    """Cost of one network on one hardware profile (built-in name, file path or profile object).

    ``values``: what each static layer saw on real inputs (:func:`nas_edge.cost.values.trace_onnx`); an IMC
    profile then scales each layer's DAC and cell-read energy by the bit density of those values
    (:mod:`nas_edge.cost.values`). Without it the model is value-blind (random bits).
    """
    prof = load_profile(profile)
    layers = np.zeros((len(workload), N_LAYER))
    tot = np.zeros(N_TOTAL)
    f_dac, f_cell, _ = energy_factors(values, workload, prof)
    kernels.network_cost(*workload.columns(), _params(prof), float(workload.batch), f_dac, f_cell, layers, tot)
    totals = dict(zip(TOTAL_FIELDS, tot.tolist(), strict=True))
    return Cost(workload=workload, profile=prof, layers=layers, totals=totals)


_PARAMS_CACHE: dict[int, tuple[Profile, np.ndarray]] = {}


def _params(profile: Profile) -> np.ndarray:
    """The kernels' parameter vector of a profile, cached per (immutable) profile object."""
    hit = _PARAMS_CACHE.get(id(profile))
    if hit is not None and hit[0] is profile:
        return hit[1]
    if len(_PARAMS_CACHE) >= 256:
        _PARAMS_CACHE.clear()
    params = profile_params(profile)
    _PARAMS_CACHE[id(profile)] = (profile, params)
    return params


@dataclass(frozen=True, eq=False)
class BatchCost:
    """Totals of many (network, profile) pairs: ``values[name]`` is an array over pairs."""

    workload_index: np.ndarray
    profile_index: np.ndarray
    values: dict[str, np.ndarray]

    def __getitem__(self, key: str) -> np.ndarray:
        return self.values[key]

    def grid(self, key: str, n_workloads: int, n_profiles: int) -> np.ndarray:
        """For ``pairs='product'``: the values as an (n_workloads x n_profiles) grid."""
        return self.values[key].reshape(n_workloads, n_profiles)


class PackedWorkloads:
    """Many workloads concatenated once, to be costed repeatedly by :func:`estimate_batch`."""

    def __init__(self, workloads: Sequence[Workload]) -> None:
        parts = [w.columns() for w in workloads]
        self.columns = cast(ColumnArrays, tuple(
            np.concatenate([p[i] for p in parts]) if parts else np.zeros(0, dtype=np.int64 if i < 6 else np.float64)
            for i in range(len(COLUMNS))))
        self.offsets = np.zeros(len(workloads) + 1, dtype=np.int64)
        np.cumsum([len(w) for w in workloads], out=self.offsets[1:])
        self.batch = np.array([float(w.batch) for w in workloads])

    @classmethod
    def from_concatenated(cls, workload: Workload, offsets: Sequence[int]) -> PackedWorkloads:
        """Many workloads given as one table (each one's rows in turn) and the row offsets where each starts,
        with the end last: skips building and validating one ``Workload`` per network."""
        off = np.asarray(offsets, dtype=np.int64)
        if off.ndim != 1 or len(off) < 1 or off[0] != 0 or off[-1] != len(workload) or np.any(np.diff(off) < 0):
            raise ValueError("offsets must rise from 0 to the number of rows")
        packed = cls([])
        packed.columns = workload.columns()
        packed.offsets = off
        packed.batch = np.full(len(off) - 1, float(workload.batch))
        return packed

    def __len__(self) -> int:
        return len(self.offsets) - 1


def pack_profiles(profiles: Sequence[Profile | str]) -> np.ndarray:
    """Profiles as the kernels' parameter matrix (one row each)."""
    return np.stack([_params(load_profile(p)) for p in profiles]) if profiles else np.zeros((0, 0))


def estimate_batch(
    workloads: Sequence[Workload] | PackedWorkloads,
    profiles: Sequence[Profile | str] | np.ndarray,
    *,
    pairs: Literal["product", "zip"] | tuple[np.ndarray, np.ndarray] = "product",
) -> BatchCost:
    """Totals of many (network x hardware) pairs in one parallel call.

    ``pairs='product'`` costs every workload on every profile (row-major: workload, then profile); ``'zip'``
    pairs them one to one; or give two index arrays. Pre-pack with :class:`PackedWorkloads` and
    :func:`pack_profiles` to cost the same inputs many times without re-packing.
    """
    packed = workloads if isinstance(workloads, PackedWorkloads) else PackedWorkloads(workloads)
    pmat = profiles if isinstance(profiles, np.ndarray) else pack_profiles(profiles)
    nw, npf = len(packed), len(pmat)
    if pairs == "product":
        wi, pi = np.repeat(np.arange(nw), npf), np.tile(np.arange(npf), nw)
    elif pairs == "zip":
        if nw != npf:
            raise ValueError(f"pairs='zip' needs as many workloads as profiles ({nw} != {npf})")
        wi = pi = np.arange(nw)
    else:
        wi, pi = (np.asarray(a, dtype=np.int64) for a in pairs)
        if wi.shape != pi.shape or (wi.size and (wi.min() < 0 or wi.max() >= nw or pi.min() < 0 or pi.max() >= npf)):
            raise ValueError("pair indices out of range or of different lengths")
    wi, pi = np.ascontiguousarray(wi, dtype=np.int64), np.ascontiguousarray(pi, dtype=np.int64)
    tot = np.zeros((len(wi), N_TOTAL))
    if len(wi):
        kernels.batch_cost(*packed.columns, packed.offsets, packed.batch, pmat, wi, pi, tot)
    values = {name: tot[:, i] for i, name in enumerate(TOTAL_FIELDS)}
    return BatchCost(workload_index=wi, profile_index=pi, values=values)


TOTAL_NAMES = TOTAL_FIELDS
