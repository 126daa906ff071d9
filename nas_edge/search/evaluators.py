"""Evaluators: where a trial's model metrics (accuracy and the like) come from.

An evaluator turns a trial's architecture into the values of the model metrics the study asks for
(:data:`~nas_edge.search.metrics.MODEL_METRICS`). The built-in ``train`` evaluator trains the network
briefly (``accuracy``), scores zero-cost proxies (``naswot``, ``synflow``) or trains and simulates it on the
trial's analog chip (``analog_accuracy*``). Another accuracy source — a benchmark table, weights inherited
from a supernet — is another evaluator: a class with the methods of :class:`Evaluator`, made by a factory
registered under a name (:func:`register_evaluator`, or one line in :data:`BUILTIN_EVALUATORS` for one that
ships with nas-edge) and chosen with ``Objective(evaluator="name")`` / ``"name:ARGUMENT"`` or
``nas-edge search --evaluator name:ARGUMENT``. An evaluator module need not import this package: the
interface is structural, and the context it is given carries everything it reads.

The objective, not the evaluator, skips the metrics an evaluator declares ``trained`` for candidates that
break a constraint (value 0, ``evaluation = {"skipped": reason}``), so that rule lives in one place.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from nas_edge.analog.config import ANALOG_OBJECTIVES
from nas_edge.search.errors import SearchError
from nas_edge.search.metrics import TRAINED_METRICS

if TYPE_CHECKING:
    from nas_edge.search.hardware_cost import HardwareResult
    from nas_edge.search.objective import Objective
    from nas_edge.spaces import Architecture


@dataclass(frozen=True)
class TrialContext:
    """What an evaluator may read about the trial being evaluated.

    ``objective`` gives the search's space, data (``objective.data``), training options
    (``objective.training``), seed, analog options and proxy batch; ``hardware`` the trial's chip, cost and
    constraint values (already set on the trial).
    """

    trial: Any  # optuna.Trial (or anything with its set_user_attr / report / should_prune)
    objective: Objective
    arch: Architecture
    hardware: HardwareResult

    def build(self) -> Any:
        """A freshly built ``torch.nn.Module`` of the architecture, seeded with the search's seed."""
        import torch

        torch.manual_seed(self.objective.seed)
        return self.objective.space.build(self.arch)

    def reporter(self) -> Callable[[float, int], None] | None:
        """``report(value, step)`` for pruners (raises ``optuna.TrialPruned``); ``None`` where Optuna cannot
        prune (multi-objective studies)."""
        import optuna

        trial = self.trial
        study = getattr(trial, "study", None)
        if study is None or len(study.directions) != 1:
            return None

        def report(value: float, step: int) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {step} (val accuracy {value:.4f})")

        return report


@runtime_checkable
class Evaluator(Protocol):
    """The interface of an accuracy source (structural: no need to subclass)."""

    name: str
    metrics: frozenset[str]  # the model metrics it computes (registered names, see metrics.register_metric)
    trained: frozenset[str]  # those among them that cost a training run (skipped for infeasible candidates)

    def prepare(self, objective: Objective) -> None:
        """Check, before any study is touched, that this evaluator can serve ``objective`` (raise
        :class:`~nas_edge.search.SearchError` with one line if not)."""

    def evaluate(self, ctx: TrialContext, names: Sequence[str]) -> dict[str, float]:
        """The values of ``names`` (a subset of :attr:`metrics`) for ``ctx.arch``; may set user attributes
        (``evaluation``) on ``ctx.trial`` and raise ``optuna.TrialPruned``."""

    def describe(self) -> dict[str, Any]:
        """JSON-safe: what decides its results (stored with a study; a resume must match it)."""


class TrainEvaluator:
    """The built-in evaluator: short training, zero-cost proxies, analog simulation after training."""

    name = "train"
    metrics = frozenset({"accuracy", "naswot", "synflow", *ANALOG_OBJECTIVES})
    trained = TRAINED_METRICS

    def prepare(self, objective: Objective) -> None:
        if any(m in self.metrics for m in objective.model_metrics) and objective.data is None:
            raise SearchError(f"objectives {', '.join(objective.model_metrics)} need data (e.g. data='digits')")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}

    def evaluate(self, ctx: TrialContext, names: Sequence[str]) -> dict[str, float]:
        from nas_edge.evaluate.train import torch_threads

        with torch_threads(ctx.objective.training.threads):
            return self._evaluate(ctx, names)

    def _evaluate(self, ctx: TrialContext, names: Sequence[str]) -> dict[str, float]:
        out: dict[str, float] = {}
        analog = [m for m in names if m in ANALOG_OBJECTIVES]
        if analog:
            out.update(self._analog(ctx, analog))
        for metric in names:
            if metric in out:  # "accuracy" comes with the analog objectives: the same trained network
                continue
            out[metric] = self._accuracy(ctx) if metric == "accuracy" else self._proxy(ctx, metric)
        return out

    @staticmethod
    def _analog(ctx: TrialContext, names: Sequence[str]) -> dict[str, float]:
        """One training (plain or hardware-aware), then the chip at every requested time."""
        from nas_edge.analog.objective import analog_objective_values

        obj = ctx.objective
        assert obj.data is not None
        values, record = analog_objective_values(ctx.build(), obj.data, ctx.hardware.profile, names, obj.training,
                                                 obj.analog, seed=obj.seed, report=ctx.reporter())
        ctx.trial.set_user_attr("evaluation", {"mode": record["mode"], "epochs": record["epochs"],
                                               "seconds": record["train_seconds"], "history": record["history"]})
        ctx.trial.set_user_attr("analog", record)
        return values

    @staticmethod
    def _accuracy(ctx: TrialContext) -> float:
        from nas_edge.evaluate.train import train_and_evaluate

        obj = ctx.objective
        assert obj.data is not None
        res = train_and_evaluate(ctx.build(), obj.data, obj.training, report=ctx.reporter())
        ctx.trial.set_user_attr("evaluation", {"mode": "train", "epochs": len(res.history),
                                               "seconds": round(res.seconds, 3),
                                               "history": [round(h, 5) for h in res.history]})
        return res.accuracy

    @staticmethod
    def _proxy(ctx: TrialContext, metric: str) -> float:
        import optuna
        import torch

        from nas_edge.evaluate import proxies

        obj = ctx.objective
        model = ctx.build()
        if metric == "naswot":
            assert obj.data is not None
            gen = torch.Generator().manual_seed(obj.seed)
            idx = torch.randperm(len(obj.data.x_train), generator=gen)[:obj.proxy_batch].numpy()
            score = proxies.naswot(model, torch.from_numpy(obj.data.x_train[idx]))
        else:
            score = proxies.synflow(model, obj.space.example_input())
        if not math.isfinite(score):
            ctx.trial.set_user_attr("evaluation", {"pruned": f"{metric} score is not finite"})
            raise optuna.TrialPruned(f"{metric} score is not finite")
        return score


EvaluatorFactory = Callable[..., Evaluator]

BUILTIN_EVALUATORS: dict[str, str] = {
    "train": "nas_edge.search.evaluators:TrainEvaluator",
    "bench": "nas_edge.bench.evaluator:BenchEvaluator",  # NAS-Bench-201 table lookups (the bench extra)
    "supernet": "nas_edge.supernet.evaluator:SupernetEvaluator",  # supernet:CHECKPOINT
}
"""Evaluators that ship with nas-edge, as ``"module:factory"`` (imported on first use, so that a heavy one
costs nothing until chosen; importing its module may register the metrics it computes). A factory is called
with the text after ``name:`` when there is one, else with no argument."""

_REGISTERED: dict[str, EvaluatorFactory] = {}


def register_evaluator(name: str, factory: EvaluatorFactory) -> None:
    """Make ``factory()`` / ``factory(argument)`` available as ``evaluator="name"`` / ``"name:argument"``."""
    if not name.isidentifier():
        raise SearchError(f"evaluator name {name!r} must be an identifier")
    if name in BUILTIN_EVALUATORS or (name in _REGISTERED and _REGISTERED[name] is not factory):
        raise SearchError(f"an evaluator named {name!r} is already registered")
    _REGISTERED[name] = factory


def list_evaluators() -> list[str]:
    return sorted({*BUILTIN_EVALUATORS, *_REGISTERED})


def create_evaluator(spec: str | Evaluator | None) -> Evaluator:
    """An evaluator from ``"name"`` / ``"name:argument"`` (``None``: ``train``), or the given instance."""
    if spec is None:
        spec = "train"
    if not isinstance(spec, str):
        if not isinstance(spec, Evaluator):
            raise SearchError(f"evaluator {spec!r} lacks the Evaluator interface (name, metrics, trained, "
                              "prepare, evaluate, describe)")
        return spec
    name, _, arg = spec.partition(":")
    factory: Any = _REGISTERED.get(name)
    if factory is None and name in BUILTIN_EVALUATORS:
        module, _, attr = BUILTIN_EVALUATORS[name].partition(":")
        factory = getattr(importlib.import_module(module), attr)
    if factory is None:
        raise SearchError(f"unknown evaluator {name!r}; known: {', '.join(list_evaluators())}")
    made = factory(arg) if arg else factory()
    if isinstance(made, str):
        raise SearchError(f"evaluator factory {name!r} returned a string, not an evaluator")
    return create_evaluator(made)


def check_metrics(evaluator: Evaluator, names: Sequence[str]) -> None:
    """Refuse model metrics the evaluator cannot compute (one line naming what it can)."""
    missing = [n for n in names if n not in evaluator.metrics]
    if missing:
        raise SearchError(f"the {evaluator.name!r} evaluator does not compute {', '.join(missing)}; it computes "
                          f"{', '.join(sorted(evaluator.metrics))} (evaluators: {', '.join(list_evaluators())}; "
                          "choose one with --evaluator)")
