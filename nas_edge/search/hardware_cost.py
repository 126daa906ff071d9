"""Hardware objectives and constraints of one candidate network: :class:`HardwareCost` (usable in any
objective function, a user's own included) and the :class:`HardwareResult` it records on a trial."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas_edge._json import json_safe
from nas_edge.cost import Cost, estimate
from nas_edge.hardware import Profile, ProfileError, load_profile, profile_to_dict
from nas_edge.samplers import LEGACY_CONSTRAINTS_KEY
from nas_edge.search.constraints import CAPACITY_KEY, ConstraintSpec, is_feasible, parse_constraints
from nas_edge.search.errors import SearchError
from nas_edge.search.metrics import CONSTRAINABLE, OBJECTIVES, Direction, check_objectives
from nas_edge.spaces import HardwareSpace, SpaceError
from nas_edge.workload.table import Workload

FLAT_ATTRS = ("area_mm2", "energy_uj", "latency_ms", "tops_per_w")
"""Cost totals also stored as plain numeric user attributes (beside ``cost``): sortable in optuna-dashboard and
plain columns of ``study.trials_dataframe()``, with ``chip`` and ``feasible``."""


def chip_summary(hw: Mapping[str, Any]) -> str:
    """The trial's chip in one short string: ``128x256 c2 adc6 m8 p32`` for co-searched knobs (rows x cols,
    bits per cell, ADC bits, columns per ADC, rows in parallel), else the profile's name."""
    if "rows" in hw:
        return (f"{hw['rows']}x{hw['cols']} c{hw['cell_bits']} adc{hw['adc_bits']} m{hw['cols_per_adc']} "
                f"p{hw['rows_parallel']}")
    return str(hw.get("profile", ""))


def record_for_tools(trial: Any, metrics: Mapping[str, float], violations: Mapping[str, float],
                     hw_attr: Mapping[str, Any]) -> None:
    """What Optuna's tools read without knowing nas-edge: flat user attributes (:data:`FLAT_ATTRS`, ``chip``,
    ``feasible``) and the constraint values as the one list optuna-dashboard reads for feasibility
    (:data:`~nas_edge.samplers.LEGACY_CONSTRAINTS_KEY`; Optuna keeps them by name too)."""
    for key in FLAT_ATTRS:
        if key in metrics:
            trial.set_user_attr(key, float(metrics[key]))
    trial.set_user_attr("chip", chip_summary(hw_attr))
    trial.set_user_attr("feasible", is_feasible(violations))
    storage, trial_id = getattr(trial, "storage", None), getattr(trial, "_trial_id", None)
    if storage is not None and trial_id is not None:  # an optuna.Trial (not a FixedTrial)
        storage.set_trial_system_attr(trial_id, LEGACY_CONSTRAINTS_KEY, [float(v) for v in violations.values()])


def profile_sha256(profile: Profile) -> str:
    """The content hash of a profile as resolved (``base:`` applied): what its costs depend on, not its layout."""
    text = json.dumps(profile_to_dict(profile), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def candidate_metrics(totals: Mapping[str, Any], workload: Workload) -> dict[str, float]:
    """The metrics known before training: every cost total plus the network's ``params`` and ``macs``."""
    metrics = {k: float(v) for k, v in totals.items()}
    metrics["params"], metrics["macs"] = float(workload.total_params), float(workload.total_macs)
    return metrics


@dataclass(frozen=True, eq=False)
class HardwareResult:
    """One candidate on one chip: the profile, the cost, the metrics and the constraint values set on the trial."""

    profile: Profile
    cost: Cost
    metrics: dict[str, float]
    violations: dict[str, float]

    @property
    def feasible(self) -> bool:
        return is_feasible(self.violations)

    @property
    def fits(self) -> bool:
        return self.violations.get(CAPACITY_KEY, 0.0) <= 0


class HardwareCost:
    """Hardware objectives and constraints for any objective function, yours included.

    ``hw(trial, workload)`` (co-)suggests the chip's knobs when ``search`` is on, costs the workload,
    sets the constraints (``trial.set_constraint``) and the ``hardware`` / ``cost`` user attributes (and the
    flat ones of :func:`record_for_tools`), and returns the values of ``objectives`` (directions in :attr:`directions`).
    """

    def __init__(
        self,
        hardware: str | Path | Profile = "neurosim-rram-22nm",
        *,
        objectives: str | Sequence[str] = ("energy_uj", "latency_ms"),
        constraints: ConstraintSpec = None,
        search: bool | HardwareSpace = False,
    ) -> None:
        names = check_objectives(objectives) if objectives else ()
        bad = [n for n in names if n not in CONSTRAINABLE]
        if bad:
            raise SearchError(f"{bad[0]!r} is not a hardware metric; hardware objectives: "
                              f"{', '.join(sorted(CONSTRAINABLE))}")
        self.objectives = names
        self.constraints = parse_constraints(constraints)
        try:
            self.base = load_profile(hardware if not isinstance(hardware, Path) else str(hardware))
        except ProfileError as exc:
            raise SearchError(str(exc)) from None
        self.space: HardwareSpace | None
        if isinstance(search, HardwareSpace):
            self.space = search
        elif search:
            try:
                self.space = HardwareSpace(base=self.base)
            except SpaceError as exc:
                raise SearchError(str(exc)) from None
        else:
            self.space = None
        self.hardware_name = str(hardware) if isinstance(hardware, (str, Path)) else self.base.name

    @property
    def directions(self) -> list[Direction]:
        return [OBJECTIVES[n] for n in self.objectives]

    def describe(self) -> dict[str, Any]:
        """What a resumed study must share: the profile's name or file, its content hash (an edited file would
        make one study mix two chips), the co-search space and the constraints."""
        return {"hardware": self.hardware_name, "hardware_sha256": profile_sha256(self.base),
                "search": self.space.config() if self.space else None,
                "constraints": [str(c) for c in self.constraints]}

    def profile_for(self, params: Mapping[str, Any]) -> Profile:
        """The profile a set of trial parameters selects (the base profile without co-search)."""
        if self.space is None:
            return self.base
        return self.space.profile(self.space.from_params({k: params[k] for k in self.space.distributions()}))

    def metrics(self, workload: Workload, profile: Profile) -> tuple[Cost, dict[str, float]]:
        """The cost of ``workload`` on ``profile`` and the metrics it gives (:func:`candidate_metrics`)."""
        cost = estimate(workload, profile)
        return cost, candidate_metrics(cost.totals, workload)

    def violations(self, metrics: Mapping[str, float], profile: Profile | None = None) -> dict[str, float]:
        """The constraint values a trial with these metrics sets, keyed as in ``trial.set_constraint``."""
        out = {str(c): c.violation(metrics[c.name]) for c in self.constraints}
        out[CAPACITY_KEY] = 0.0 if metrics.get("feasible", metrics.get("fits", 1.0)) > 0.5 else 1.0
        return out

    def evaluate(self, trial: Any, workload: Workload) -> HardwareResult:
        """Suggest the chip (co-search), cost ``workload``, set the constraints and user attributes."""
        hw_attr: dict[str, Any]
        if self.space is not None:
            choice = self.space.suggest(trial)
            profile = self.space.profile(choice)
            hw_attr = {"profile": profile.name, **choice.to_dict()}
        else:
            profile = self.base
            hw_attr = {"profile": profile.name}
        cost, metrics = self.metrics(workload, profile)
        violations = self.violations(metrics, profile)
        for key, value in violations.items():
            trial.set_constraint(key, value)
        trial.set_user_attr("hardware", hw_attr)
        trial.set_user_attr("cost", json_safe(metrics))
        record_for_tools(trial, metrics, violations, hw_attr)
        return HardwareResult(profile=profile, cost=cost, metrics=metrics, violations=violations)

    def __call__(self, trial: Any, workload: Workload) -> tuple[float, ...]:
        res = self.evaluate(trial, workload)
        return tuple(res.metrics[n] for n in self.objectives)
