"""The entry points: :func:`run_dnas` (a sweep of lambdas and targets, each giving one derived architecture)
and :func:`record_dnas` (each derived architecture evaluated as an ordinary trial of an Optuna study)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from nas_edge.dnas.config import DNASConfig, DNASError
from nas_edge.dnas.cost_table import ADDITIVE_METRICS, CostTable, build_tables, check_additive
from nas_edge.dnas.relax import Relaxation, relax
from nas_edge.evaluate.data import Data
from nas_edge.hardware import Profile
from nas_edge.search import TRACE_ATTR, Constraint, Objective, SearchRun, Trace, TracePlot, parse_constraint
from nas_edge.spaces import Architecture, NetworkSpace, json_safe

DEFAULT_LAMBDAS = (0.1,)
USER_ATTR = "dnas"
"""The user attribute a recorded trial carries: how it was derived (see :meth:`DerivedArchitecture.record`)."""


@dataclass
class DerivedArchitecture:
    """What one search derived, with how it got there: the argmax of the architecture distribution or, when a
    target was given and the argmax overshoots it, the likeliest architecture that meets it
    (:meth:`CostTable.most_likely_within`; ``repaired`` true, ``argmax_cost`` the overshooting cost)."""

    architecture: Architecture
    metric: str
    lam: float | None  # the fixed lambda, or None when a target steered it
    target: str | None
    cost: float  # the cost model's cost of the derived architecture (the table's value, exact)
    expected_cost: float  # the expected cost of the final probabilities
    probabilities: dict[str, list[list[float]]]  # factor -> per epoch -> per choice
    history: dict[str, list[float]]
    seconds: float
    choices: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # factor -> its choices (trace labels)
    argmax_cost: float | None = None  # the argmax's cost (None: ``cost``)
    repaired: bool = False

    @property
    def meets_target(self) -> bool | None:
        if self.target is None:
            return None
        return parse_constraint(self.target).violation(self.cost) <= 0

    def record(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The JSON-safe ``dnas`` user attribute: metric, lambda or target (and the last lambda), the expected
        and argmax cost, whether the target is met, and ``extra`` (the sweep's shared settings)."""
        lams = self.history.get("lambda", [])
        return json_safe({
            "metric": self.metric, "lambda": self.lam, "target": self.target, "cost": self.cost,
            "expected_cost": self.expected_cost, "meets_target": self.meets_target,
            "final_lambda": lams[-1] if lams else self.lam, "seconds": round(self.seconds, 3),
            "argmax_cost": self.cost if self.argmax_cost is None else self.argmax_cost,
            "derived": "likeliest within the target" if self.repaired else "argmax", **(extra or {}),
        })

    def trace(self) -> Trace:
        """The per-epoch curves (lambda, cost, training, every factor's probabilities) for the study report."""
        h = self.history
        epochs = len(h.get("lambda", []))
        steered = self.target is not None
        cost = {"expected": h.get("expected_cost", []), "argmax": h.get("argmax_cost", [])}
        if steered:
            cost["target"] = [parse_constraint(str(self.target)).limit] * epochs
        plots = [
            TracePlot(f"lambda {'steered to ' + str(self.target) if steered else 'fixed'}", "lambda",
                      {"lambda": h.get("lambda", [])}, log_y=steered),
            TracePlot(f"{self.metric}: expected and argmax", self.metric, cost),
            TracePlot("losses on the two splits", "cross-entropy / accuracy",
                      {k: h[k] for k in ("weight_loss", "arch_loss", "arch_accuracy") if k in h}, group="training"),
            TracePlot("temperature", "tau", {"tau": h.get("tau", [])}, group="training"),
        ]
        for name, rows in self.probabilities.items():
            labels = [str(c) for c in self.choices.get(name, range(len(rows[0]) if rows else 0))]
            plots.append(TracePlot(name, "probability", {lab: [r[j] for r in rows] for j, lab in enumerate(labels)},
                                   group="architecture probabilities"))
        return Trace("dnas", "epoch", [float(e) for e in range(1, epochs + 1)], plots)

    def user_attrs(self, shared: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """What a recorded trial stores: :meth:`record` (``dnas``) and :meth:`trace` (``search_trace``)."""
        return {USER_ATTR: self.record(shared), TRACE_ATTR: self.trace().to_attr()}


@dataclass
class DNASPlan:
    """A differentiable search checked and costed, before any training: what :func:`run_plan` runs.

    ``relaxation`` is the objective's space (the super-network trains on it, the derived architectures are
    its own); ``table`` holds the penalised metric of the cost space's networks (the same space unless a
    ``cost_space`` was given). ``points`` is the sweep: a fixed lambda, or a target steering it, per point.
    """

    objective: Objective
    relaxation: Relaxation
    table: CostTable
    metric: str
    profile: str
    points: tuple[tuple[float | None, Constraint | None], ...]
    config: DNASConfig
    min_cost: float
    max_cost: float
    seconds: float  # tabulating

    def shared(self) -> dict[str, Any]:
        """What every recorded trial of this sweep also stores (beside its own :meth:`DerivedArchitecture.record`)."""
        return {"profile": self.profile, "min_cost": self.min_cost,
                "max_cost": self.max_cost, "relaxed": [f.name for f in self.relaxation.relaxed()],
                "config": self.config.describe()}

    @property
    def trials(self) -> int:
        """Trials a full run adds to a study: one per point."""
        return len(self.points)


@dataclass
class DNASResult:
    """Every point of a sweep and the plan they share (metric, profile, table, cost range, settings)."""

    plan: DNASPlan
    points: list[DerivedArchitecture]
    seconds: dict[str, float] = field(default_factory=dict)  # tables, warmup, search (all points), total


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


PLAN_OPTIONS = ("lambdas", "targets", "metric", "fixed", "config", "cost_space")
"""What :func:`plan_dnas` takes besides the objective (and the :class:`DNASConfig` fields, flat)."""


def plan_dnas(
    objective: Objective,
    *,
    metric: str | None = None,
    lambdas: float | str | Sequence[float | str] | None = None,
    targets: str | Constraint | Sequence[str | Constraint] | None = None,
    fixed: Mapping[str, Any] | None = None,
    config: DNASConfig | Mapping[str, Any] | None = None,
    cost_space: NetworkSpace | None = None,
    **settings: Any,
) -> DNASPlan:
    """Check a differentiable search and tabulate its cost (no torch, no training): every refusal happens here.

    ``metric`` is the penalised cost (default: the target's metric, else the objective's first hardware
    objective that is a sum over layers). ``lambdas`` weigh the expected cost, divided by its value at uniform
    probabilities, against the cross-entropy; ``targets`` (``"energy_uj<=0.3"``) steer lambda instead.
    ``fixed`` pins parameters of the space (``{"cnn_resolution": 8}``). ``config`` and ``settings`` (its fields,
    flat: ``epochs=5``) are the :class:`DNASConfig`; its seed defaults to the objective's. ``cost_space``
    costs other networks of the same parameters than the objective's space trains (e.g. the full-size
    NAS-Bench-201 network while the super-network trains a small proxy). Every target is checked against the
    cheapest architecture.
    """
    t0 = time.perf_counter()
    fields = set(DNASConfig.__dataclass_fields__)
    unknown = sorted(set(settings) - fields)
    if unknown:
        raise DNASError(f"unknown DNAS option {', '.join(unknown)}; options: {', '.join(PLAN_OPTIONS)} and the "
                        f"settings {', '.join(sorted(fields))}")
    given = asdict(config) if isinstance(config, DNASConfig) else dict(config or {})
    cfg = DNASConfig.coerce({"seed": objective.seed, **given, **settings})
    lams = parse_lambdas(lambdas)
    goals = parse_targets(targets)
    if not lams and not goals:
        lams = DEFAULT_LAMBDAS
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
    cost_rx = rx if cost_space is None else relax(cost_space, fixed)
    if cost_rx.factors != rx.factors:
        raise DNASError(f"the cost space ({cost_rx.space.name}) and the trained space ({rx.space.name}) must have "
                        "the same parameters and choices")
    table = build_tables(cost_rx, profile, [name])[name]
    low, cheapest = table.extremum("min")
    high, _ = table.extremum("max")
    for goal in goals:
        if goal.limit < low:
            raise DNASError(f"no architecture meets the target {goal}: the cheapest one of the relaxed space costs "
                            f"{low:.4g} ({name} on {profile.name}: {cost_rx.architecture(cheapest).summary()})")
    points = tuple([(lam, None) for lam in lams] + [(None, g) for g in goals])
    return DNASPlan(objective=objective, relaxation=rx, table=table, metric=name, profile=profile.name,
                    points=points, config=cfg, min_cost=low, max_cost=high, seconds=time.perf_counter() - t0)


def run_plan(plan: DNASPlan, *, points: Sequence[tuple[float | None, Constraint | None]] | None = None,
             on_point: Callable[[DerivedArchitecture], None] | None = None,
             stop: Callable[[], bool] | None = None,
             progress: Callable[[str], None] | None = None) -> DNASResult:
    """Train: warm the shared weights up once, then search each point (``points``: a subset of the plan's,
    default all) from them; ``on_point`` sees each derived architecture as soon as it is found, and ``stop()``
    true ends the sweep before the next point."""
    from nas_edge.dnas.train import Searcher

    t0 = time.perf_counter()
    say = progress or (lambda _msg: None)
    cfg, table, rx = plan.config, plan.table, plan.relaxation
    assert plan.objective.data is not None  # checked by plan_dnas
    searcher = Searcher(rx, plan.objective.data, cfg)
    say(f"warming up the super-network ({cfg.warmup_epochs} epochs)")
    start = searcher.warmup()
    t_warm = time.perf_counter() - t0
    found: list[DerivedArchitecture] = []
    for lam, bound in plan.points if points is None else points:
        if found and stop is not None and stop():
            break
        say(f"searching with {f'lambda={lam:g}' if bound is None else f'target {bound}'} ({cfg.epochs} epochs)")
        out = searcher.search(start, table, lam=lam, limit=None if bound is None else bound.limit)
        indices, argmax_cost = out.indices, table.cost(out.indices)
        if bound is not None and argmax_cost > bound.limit:  # the argmax overshoots: the likeliest that meets it
            indices = table.most_likely_within(out.log_probs, bound.limit) or indices  # None: checked by the plan
        derived = DerivedArchitecture(
            architecture=rx.architecture(indices), metric=plan.metric, lam=lam,
            target=None if bound is None else str(bound), cost=table.cost(indices),
            expected_cost=out.history["expected_cost"][-1], probabilities=out.probabilities, history=out.history,
            seconds=out.seconds, choices={f.name: f.choices for f in rx.relaxed()}, argmax_cost=argmax_cost,
            repaired=indices is not out.indices)
        found.append(derived)
        if on_point is not None:
            on_point(derived)
    return DNASResult(plan=plan, points=found,
                      seconds={"tables": plan.seconds, "warmup": t_warm, "search": sum(p.seconds for p in found),
                               "total": plan.seconds + time.perf_counter() - t0})


def run_dnas(
    objective: Objective | None = None,
    *,
    space: str | NetworkSpace = "cnn",
    hardware: str | Path | Profile = "neurosim-rram-22nm",
    data: str | Data = "digits",
    space_options: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    **options: Any,
) -> DNASResult:
    """Differentiable hardware-aware search: one derived architecture per lambda and per target
    (:func:`plan_dnas` with ``options``, then :func:`run_plan`).

    ``objective`` gives the space, the hardware profile and the data (without one, an :class:`Objective` is
    built from ``space``, ``hardware``, ``data`` and ``space_options``; pass the same objective to
    :func:`record_dnas`). Every input is checked before any training; the shared weights are warmed up once
    for the whole sweep. Within a study, ``run_search(method="dnas", method_options=options)`` (``nas-edge
    search --method dnas``) runs and records it in one go.
    """
    if objective is None:
        seed = options.get("seed", DNASConfig.coerce(options.get("config")).seed)
        objective = Objective(space, hardware, data, objectives=("accuracy", options.get("metric") or "energy_uj"),
                              space_options=space_options, seed=seed)
    say = progress or (lambda _msg: None)
    say("tabulating the hardware cost of every choice")
    return run_plan(plan_dnas(objective, **options), progress=progress)


def record_dnas(study: optuna.Study, objective: Objective, result: DNASResult,
                callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = ()) -> list[FrozenTrial]:
    """Each derived architecture of ``result`` as an ordinary trial of ``study`` (:meth:`SearchRun.record`),
    its derivation in the ``dnas`` user attribute and its per-epoch curves in ``search_trace`` (drawn by the
    study report); ``best_trials``, export and report treat it like any other trial."""
    run = SearchRun(objective=objective, study=study)
    return [run.record(p.architecture, user_attrs=p.user_attrs(result.plan.shared()), callbacks=callbacks)
            for p in result.points]
