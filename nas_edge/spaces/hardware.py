"""Hardware co-search space: the knobs of a base IMC profile, proposed in the same trial as the network.

Parameters: ``hw_rows``, ``hw_cols`` (array size), ``hw_cell_bits``, ``hw_adc_bits``, ``hw_cols_per_adc``
and ``hw_rows_parallel_div``: rows read in parallel are ``rows // div``, so ``rows_parallel <= rows`` holds
by construction, whatever the sampler proposes. Columns per ADC never exceed the smallest column choice.
Every other figure (energies, areas, ADC model, chip organisation) comes from the base profile.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution

from nas_edge.hardware import IMCProfile, Profile, ProfileError, load_profile, profile_from_dict, profile_to_dict
from nas_edge.spaces.base import Architecture, SearchSpace, SpaceError, register_space


@dataclasses.dataclass(frozen=True)
class HardwareChoice(Architecture):
    """Array and ADC knobs on top of ``base`` (a built-in profile name or a file path)."""

    space: ClassVar[str] = "hardware"

    base: str
    rows: int
    cols: int
    cell_bits: int
    adc_bits: int
    cols_per_adc: int
    rows_parallel: int

    def summary(self) -> str:
        return (f"{self.rows}x{self.cols} {self.cell_bits}b/cell adc{self.adc_bits} "
                f"{self.cols_per_adc}col/adc {self.rows_parallel}rows||")


@register_space
class HardwareSpace(SearchSpace):
    """Co-search knobs of an IMC base profile. ``profile(choice)`` gives the validated profile."""

    name: ClassVar[str] = "hardware"
    kind: ClassVar[str] = "hardware"
    arch_type: ClassVar[type[Architecture]] = HardwareChoice

    def __init__(
        self,
        *,
        base: str | Profile = "neurosim-rram-22nm",
        rows: Sequence[int] = (64, 128, 256, 512),
        cols: Sequence[int] = (64, 128, 256, 512),
        cell_bits: Sequence[int] = (1, 2, 4),
        adc_bits: Sequence[int] | None = None,
        cols_per_adc: Sequence[int] = (1, 2, 4, 8, 16),
        rows_parallel_div: Sequence[int] = (1, 2, 4, 8),
    ) -> None:
        try:
            self.base_profile = load_profile(base)
        except ProfileError as exc:
            raise SpaceError(f"hardware space: {exc}") from None
        if not isinstance(self.base_profile, IMCProfile):
            raise SpaceError(f"hardware co-search needs an IMC base profile; {self.base_profile.name!r} is "
                             f"{self.base_profile.kind!r}")
        self.base = base if isinstance(base, str) else self.base_profile.name
        self.rows, self.cols = tuple(int(r) for r in rows), tuple(int(c) for c in cols)
        self.cell_bits = tuple(int(b) for b in cell_bits)
        self.cols_per_adc = tuple(int(c) for c in cols_per_adc)
        self.rows_parallel_div = tuple(int(d) for d in rows_parallel_div)
        adc = self.base_profile.adc
        if adc_bits is None:
            adc_bits = sorted(adc.energy_pj_by_bits or {}) if adc.model == "table" else range(3, 9)
        self.adc_bits = tuple(int(b) for b in adc_bits)
        if adc.model == "table" and not set(self.adc_bits) <= set(adc.energy_pj_by_bits or {}):
            raise SpaceError(f"hardware space: the base's ADC table has no entries for bits "
                             f"{sorted(set(self.adc_bits) - set(adc.energy_pj_by_bits or {}))}")
        if max(self.cols_per_adc) > min(self.cols) or max(self.rows_parallel_div) > min(self.rows):
            raise SpaceError("hardware space: cols_per_adc must fit the smallest cols and rows_parallel_div "
                             "the smallest rows")
        every = (*self.rows, *self.cols, *self.cell_bits, *self.adc_bits, *self.cols_per_adc,
                 *self.rows_parallel_div)
        if min(every) < 1:
            raise SpaceError("hardware space: every choice must be a positive integer")
        self._base_dict = {k: v for k, v in profile_to_dict(self.base_profile).items() if k != "base"}
        self._cache: dict[tuple[int, ...], Profile] = {}
        self._dists: dict[str, BaseDistribution] = {
            "hw_rows": CategoricalDistribution(self.rows),
            "hw_cols": CategoricalDistribution(self.cols),
            "hw_cell_bits": CategoricalDistribution(self.cell_bits),
            "hw_adc_bits": _int_or_categorical(self.adc_bits),
            "hw_cols_per_adc": CategoricalDistribution(self.cols_per_adc),
            "hw_rows_parallel_div": CategoricalDistribution(self.rows_parallel_div),
        }

    def config(self) -> dict[str, Any]:
        return {"base": self.base, "rows": list(self.rows), "cols": list(self.cols),
                "cell_bits": list(self.cell_bits), "adc_bits": list(self.adc_bits),
                "cols_per_adc": list(self.cols_per_adc), "rows_parallel_div": list(self.rows_parallel_div)}

    def distributions(self) -> dict[str, BaseDistribution]:
        return dict(self._dists)

    def from_params(self, params: Mapping[str, Any]) -> HardwareChoice:
        self._check_params(params)
        rows = int(params["hw_rows"])
        return HardwareChoice(base=self.base, rows=rows, cols=int(params["hw_cols"]),
                              cell_bits=int(params["hw_cell_bits"]), adc_bits=int(params["hw_adc_bits"]),
                              cols_per_adc=int(params["hw_cols_per_adc"]),
                              rows_parallel=max(1, rows // int(params["hw_rows_parallel_div"])))

    def to_params(self, arch: Architecture) -> dict[str, Any]:
        c = self._own(arch)
        div = c.rows // c.rows_parallel
        if c.rows_parallel * div != c.rows:
            raise SpaceError(f"rows_parallel {c.rows_parallel} is not rows {c.rows} over a whole divisor")
        params = {"hw_rows": c.rows, "hw_cols": c.cols, "hw_cell_bits": c.cell_bits, "hw_adc_bits": c.adc_bits,
                  "hw_cols_per_adc": c.cols_per_adc, "hw_rows_parallel_div": div}
        self._check_params(params)
        return params

    def _own(self, arch: Architecture) -> HardwareChoice:
        if not isinstance(arch, HardwareChoice):
            raise SpaceError(f"hardware space expects a HardwareChoice, got {type(arch).__name__}")
        return arch

    def profile(self, choice: Architecture) -> Profile:
        """The base profile with the chosen knobs, validated (cached per choice)."""
        c = self._own(choice)
        key = (c.rows, c.cols, c.cell_bits, c.adc_bits, c.cols_per_adc, c.rows_parallel)
        prof = self._cache.get(key)
        if prof is None:
            data = dict(self._base_dict)
            data["name"] = f"{self.base_profile.name}@{c.rows}x{c.cols}-c{c.cell_bits}-adc{c.adc_bits}" \
                           f"-m{c.cols_per_adc}-p{c.rows_parallel}"
            data["array"] = {**data["array"], "rows": c.rows, "cols": c.cols, "cell_bits": c.cell_bits,
                             "cols_per_adc": c.cols_per_adc, "rows_parallel": c.rows_parallel}
            data["adc"] = {**data["adc"], "bits": c.adc_bits}
            try:
                prof = profile_from_dict(data, source=data["name"])
            except ProfileError as exc:
                raise SpaceError(f"hardware choice {c.summary()} is not a valid profile: {exc}") from None
            self._cache[key] = prof
        return prof


def _int_or_categorical(values: tuple[int, ...]) -> BaseDistribution:
    """Consecutive integers as an ordinal int parameter (better for GP and CMA-ES), else categorical."""
    if len(values) > 1 and list(values) == list(range(values[0], values[-1] + 1)):
        return IntDistribution(values[0], values[-1])
    return CategoricalDistribution(values)
