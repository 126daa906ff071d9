"""``run_search(method="dnas")`` / ``nas-edge search --method dnas``: the differentiable search as a search
method of :mod:`nas_edge.search.run` (registered there in ``BUILTIN_METHODS``).

:meth:`DNASMethod.prepare` runs before the study is touched: it checks every option and tabulates the cost
(:func:`~nas_edge.dnas.run.plan_dnas`), so bad input loses nothing. The method then trains and records each
derived architecture as an ordinary trial as soon as it is found (:meth:`SearchRun.record`). A rerun resumes:
points of the sweep already recorded in the study by the same plan are not searched again. The trial budget
(``n_trials``) is the samplers'; DNAS adds one trial per lambda and per target. ``timeout`` ends the sweep
before its next point.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from optuna.trial import TrialState

from nas_edge.dnas.run import USER_ATTR, DerivedArchitecture, DNASPlan, plan_dnas
from nas_edge.search import Constraint, Objective, SearchRun
from nas_edge.search.run import Callback


class DNASMethod:
    """The ``dnas`` search method: ``prepare(objective, options)`` first, then ``method(run, callbacks)``."""

    def prepare(self, objective: Objective, options: Mapping[str, Any]) -> DNASPlan:
        """Every check and the cost tables (no training); options as :func:`plan_dnas` takes them."""
        return plan_dnas(objective, **dict(options))

    def __call__(self, run: SearchRun, callbacks: Sequence[Callback]) -> None:
        from nas_edge.dnas.run import run_plan

        plan = run.prepared if isinstance(run.prepared, DNASPlan) else self.prepare(run.objective,
                                                                                     run.method_options)
        todo = remaining(run, plan)
        if not todo:
            return
        t0 = time.monotonic()
        shared = plan.shared()

        def record(point: DerivedArchitecture) -> None:
            run.record(point.architecture, user_attrs=point.user_attrs(shared), callbacks=callbacks)

        def stop() -> bool:
            return run.timeout is not None and time.monotonic() - t0 >= run.timeout

        run_plan(plan, points=todo, on_point=record, stop=stop)


def _same_point(attr: Any, plan: DNASPlan, lam: float | None, target: Constraint | None) -> bool:
    if not isinstance(attr, Mapping):
        return False
    want = {"metric": plan.metric, "lambda": lam, "target": None if target is None else str(target),
            **plan.shared()}
    return all(attr.get(k) == v for k, v in want.items() if k not in ("min_cost", "max_cost"))


def remaining(run: SearchRun, plan: DNASPlan) -> list[tuple[float | None, Constraint | None]]:
    """The plan's points that no complete trial of the study already records (a resumed sweep)."""
    done = [t.user_attrs.get(USER_ATTR) for t in run.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    return [(lam, target) for lam, target in plan.points
            if not any(_same_point(attr, plan, lam, target) for attr in done)]


dnas_method = DNASMethod()

__all__ = ["DNASMethod", "dnas_method", "remaining"]
