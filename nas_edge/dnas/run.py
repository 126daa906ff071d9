"""The entry points: :func:`run_dnas` (a sweep of lambdas and targets, each giving one derived architecture)
and :func:`record_dnas` (each derived architecture evaluated as an ordinary trial of an Optuna study)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from nas_edge.dnas.config import DNASConfig, DNASError
from nas_edge.dnas.cost_table import ADDITIVE_METRICS, CostTable, build_tables, check_additive
from nas_edge.dnas.relax import Relaxation, relax
from nas_edge.evaluate.data import Data
from nas_edge.hardware import Profile
from nas_edge.search import Constraint, Objective, parse_constraint
from nas_edge.spaces import Architecture, NetworkSpace, json_safe

DEFAULT_LAMBDAS = (0.1,)
USER_ATTR = "dnas"
"""The user attribute a recorded trial carries: how it was derived (see :meth:`DerivedArchitecture.record`)."""


@dataclass
class DerivedArchitecture:
    """The argmax of one search, with how it got there."""

    architecture: Architecture
    metric: str
    lam: float | None  # the fixed lambda, or None when a target steered it
    target: str | None
    cost: float  # the cost model's cost of the derived architecture (the table's value, exact)
    expected_cost: float  # the expected cost of the final probabilities
    probabilities: dict[str, list[list[float]]]  # factor -> per epoch -> per choice
    history: dict[str, list[float]]
    seconds: float

    @property
    def meets_target(self) -> bool | None:
        if self.target is None:
            return None
        return parse_constraint(self.target).violation(self.cost) <= 0

    def record(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The JSON-safe user attribute stored with the trial: metric, lambda or target, the lambda and
        temperature schedules, the expected and argmax cost and the probabilities per epoch."""
        return json_safe({
            "metric": self.metric, "lambda": self.lam, "target": self.target, "cost": self.cost,
            "expected_cost": self.expected_cost, "meets_target": self.meets_target,
            "seconds": round(self.seconds, 3), "lambda_schedule": self.history.get("lambda", []),
            "history": {k: v for k, v in self.history.items() if k != "lambda"},
            "probabilities": self.probabilities, **(extra or {}),
        })


@dataclass
class DNASResult:
    """Every point of a sweep and what they share."""

    metric: str
    profile: str
    points: list[DerivedArchitecture]
    relaxation: Relaxation
    table: CostTable
    min_cost: float
    max_cost: float
    config: DNASConfig
    seconds: dict[str, float] = field(default_factory=dict)  # tables, warmup, search (all points), total

    def shared(self) -> dict[str, Any]:
        """What every recorded trial of this sweep also stores."""
        return {"profile": self.profile, "min_cost": self.min_cost, "max_cost": self.max_cost,
                "relaxed": [f.name for f in self.relaxation.relaxed()], "config": self.config.describe()}


def parse_lambdas(value: float | str | Sequence[float | str] | None) -> tuple[float, ...]:
    """``0.1``, ``"0.01,0.1,1"`` or a list; each a finite number >= 0."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, Sequence) else [value]
    out = []
    for item in items:
        try:
            lam = float(item)
        except (TypeError, ValueError):
            raise DNASError(f"lambda {item!r} is not a number; expected e.g. 0.01,0.1,1") from None
        if not math.isfinite(lam) or lam < 0:
            raise DNASError(f"lambda must be a finite number >= 0 (it weighs the hardware cost against the task "
                            f"loss), got {item!r}")
        out.append(lam)
    return tuple(out)


def parse_targets(value: str | Constraint | Sequence[str | Constraint] | None) -> tuple[Constraint, ...]:
    """``"energy_uj<=0.3"`` or a list of such; upper bounds only."""
    if value is None:
        return ()
    items = [value] if isinstance(value, (str, Constraint)) else list(value)
    out = []
    for item in items:
        c = item if isinstance(item, Constraint) else parse_constraint(str(item))
        if c.op != "<=":
            raise DNASError(f"DNAS target {c}: a target bounds the cost from above (NAME<=LIMIT)")
        out.append(c)
    return tuple(out)


def _metric(objective: Objective, metric: str | None, targets: Sequence[Constraint]) -> str:
    """The penalised metric: given, else the targets', else the objective's first hardware objective that is a
    sum over layers (its first hardware objective when none is: refused later), else energy."""
    names = {c.name for c in targets}
    if metric is None and names:
        metric = sorted(names)[0]
    if metric is None:
        hw = list(objective.hardware.objectives)
        metric = next((o for o in hw if o in ADDITIVE_METRICS), hw[0] if hw else "energy_uj")
    extra = sorted(names - {metric})
    if extra:
        raise DNASError(f"DNAS penalises one metric per run ({metric}); the targets also bound {', '.join(extra)}")
    return metric


def run_dnas(
    objective: Objective | None = None,
    *,
    space: str | NetworkSpace = "cnn",
    hardware: str | Path | Profile = "neurosim-rram-22nm",
    data: str | Data = "digits",
    metric: str | None = None,
    lambdas: float | str | Sequence[float | str] | None = None,
    targets: str | Constraint | Sequence[str | Constraint] | None = None,
    fixed: Mapping[str, Any] | None = None,
    config: DNASConfig | Mapping[str, Any] | None = None,
    space_options: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> DNASResult:
    """Differentiable hardware-aware search: one derived architecture per lambda and per target.

    ``objective`` gives the space, the hardware profile and the data (without one, an :class:`Objective` is
    built from ``space``, ``hardware``, ``data`` and ``space_options``; pass the same objective to
    :func:`record_dnas`). ``metric`` is the penalised cost (default: the target's metric, else the
    objective's first hardware objective that is a sum over layers). ``lambdas`` weigh the expected cost,
    divided by its value at uniform probabilities, against the cross-entropy; ``targets`` (``"energy_uj<=0.3"``)
    steer lambda instead. ``fixed`` pins parameters of the space (``{"cnn_resolution": 8}``). Every input is
    checked — and every target against the cheapest architecture — before any training; the shared weights
    are warmed up once for the whole sweep.
    """
    t0 = time.perf_counter()
    say = progress or (lambda _msg: None)
    cfg = DNASConfig.coerce(dict(config) if isinstance(config, Mapping) else config)
    lams = parse_lambdas(lambdas)
    goals = parse_targets(targets)
    if not lams and not goals:
        lams = DEFAULT_LAMBDAS
    if objective is None:
        objective = Objective(space, hardware, data, objectives=("accuracy", metric or "energy_uj"),
                              space_options=space_options, seed=cfg.seed)
    if objective.hardware.space is not None:
        raise DNASError("DNAS cannot relax hardware co-search: the chip's knobs (array size, ADC bits, cell bits) "
                        "change every layer's mapping in steps, not smoothly; search the network on one profile, "
                        "or co-search with a sampler")
    if objective.data is None:
        raise DNASError("DNAS trains a super-network and needs data (e.g. data='digits')")
    name = _metric(objective, metric, goals)
    profile = objective.hardware.base
    check_additive(name, profile)
    rx = relax(objective.space, fixed)
    say(f"tabulating {name} on {profile.name} for {len(rx.relaxed())} relaxed choices")
    table = build_tables(rx, profile, [name])[name]
    t_tables = time.perf_counter() - t0
    low, cheapest = table.extremum("min")
    high, _ = table.extremum("max")
    for goal in goals:
        if goal.limit < low:
            raise DNASError(f"no architecture meets the target {goal}: the cheapest one of the relaxed space costs "
                            f"{low:.4g} ({name} on {profile.name}: {rx.architecture(cheapest).summary()})")

    from nas_edge.dnas.train import Searcher

    searcher = Searcher(rx, objective.data, cfg)
    say(f"warming up the super-network ({cfg.warmup_epochs} epochs)")
    t1 = time.perf_counter()
    start = searcher.warmup()
    t_warm = time.perf_counter() - t1
    plan: list[tuple[float | None, Constraint | None]] = [(lam, None) for lam in lams] + [(None, g) for g in goals]
    points = []
    for lam, bound in plan:
        say(f"searching with {f'lambda={lam:g}' if bound is None else f'target {bound}'} ({cfg.epochs} epochs)")
        out = searcher.search(start, table, lam=lam, limit=None if bound is None else bound.limit)
        points.append(DerivedArchitecture(
            architecture=rx.architecture(out.indices), metric=name, lam=lam,
            target=None if bound is None else str(bound), cost=table.cost(out.indices),
            expected_cost=out.history["expected_cost"][-1], probabilities=out.probabilities, history=out.history,
            seconds=out.seconds))
    total = time.perf_counter() - t0
    return DNASResult(metric=name, profile=profile.name, points=points, relaxation=rx, table=table, min_cost=low,
                      max_cost=high, config=cfg,
                      seconds={"tables": t_tables, "warmup": t_warm, "search": sum(p.seconds for p in points),
                               "total": total})


def record_architecture(study: optuna.Study, objective: Objective, arch: Architecture, *,
                        user_attrs: Mapping[str, Any] | None = None,
                        callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = ()) -> FrozenTrial:
    """Evaluate ``arch`` as an ordinary trial of ``study`` (enqueued, then run by ``objective``)."""
    study.enqueue_trial(objective.space.to_params(arch), user_attrs=dict(user_attrs or {}))
    done: list[FrozenTrial] = []
    study.optimize(objective, n_trials=1, catch=(), callbacks=[lambda _s, t: done.append(t), *callbacks])
    return done[-1]


def record_dnas(study: optuna.Study, objective: Objective, result: DNASResult,
                callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = ()) -> list[FrozenTrial]:
    """Each derived architecture of ``result`` as a trial of ``study``, its derivation in the ``dnas`` user
    attribute (so ``best_trials``, export and report treat it like any other trial)."""
    return [record_architecture(study, objective, p.architecture, callbacks=callbacks,
                                user_attrs={USER_ATTR: p.record(result.shared())}) for p in result.points]


def dnas_search(study: optuna.Study, objective: Objective, *,
                callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
                **options: Any) -> DNASResult:
    """:func:`run_dnas` with ``objective`` and ``options``, then :func:`record_dnas` into ``study``: the whole
    method for a front end (a ``--method dnas`` passes its study, objective and options here)."""
    result = run_dnas(objective, **options)
    record_dnas(study, objective, result, callbacks)
    return result
