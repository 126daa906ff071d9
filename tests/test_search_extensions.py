"""The search package's extension points: a new metric and accuracy source (evaluator), a new search method
that records derived architectures as ordinary trials."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import optuna
import pytest

from nas_edge.samplers import named_constraints
from nas_edge.search import (
    MODEL_METRICS,
    OBJECTIVES,
    Objective,
    SearchError,
    SearchRun,
    TrialContext,
    create_evaluator,
    list_evaluators,
    list_methods,
    open_study,
    register_evaluator,
    register_method,
    register_metric,
    run_search,
)
from nas_edge.search import evaluators as ev_mod
from nas_edge.search import run as run_mod
from nas_edge.spaces import create_space

optuna.logging.set_verbosity(optuna.logging.WARNING)


class TableEvaluator:
    """A stand-in for a benchmark table: 'table_acc' is a function of the architecture, no training."""

    name = "table"
    metrics = frozenset({"table_acc"})
    trained: frozenset[str] = frozenset()

    def __init__(self, scale: str = "1") -> None:
        self.scale = float(scale)
        self.prepared = False

    def prepare(self, objective: Any) -> None:
        self.prepared = True

    def evaluate(self, ctx: TrialContext, names: Sequence[str]) -> dict[str, float]:
        ctx.trial.set_user_attr("evaluation", {"mode": "table"})
        return {"table_acc": self.scale / (1.0 + ctx.hardware.metrics["params"])}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "scale": self.scale}


@pytest.fixture
def table_metric() -> Iterator[None]:
    register_metric("table_acc", "maximize")
    register_evaluator("table", TableEvaluator)
    try:
        yield
    finally:
        for d in (MODEL_METRICS, OBJECTIVES):
            d.pop("table_acc", None)
        ev_mod._REGISTERED.pop("table", None)


def test_register_metric_rules(table_metric: None) -> None:
    register_metric("table_acc", "maximize")  # the same again: a no-op
    with pytest.raises(SearchError, match="already defined"):
        register_metric("table_acc", "minimize")
    with pytest.raises(SearchError, match="already defined"):
        register_metric("energy_uj", "minimize")
    with pytest.raises(SearchError, match="direction"):
        register_metric("other_acc", "up")
    assert "table" in list_evaluators() and "train" in list_evaluators()
    with pytest.raises(SearchError, match="unknown evaluator 'nope'"):
        create_evaluator("nope")
    with pytest.raises(SearchError, match="lacks the Evaluator interface"):
        create_evaluator(object())  # type: ignore[arg-type]


def test_a_registered_evaluator_scores_trials(table_metric: None, tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 't.db'}"
    kw: dict[str, Any] = {"data": None, "objectives": ("table_acc", "energy_uj"), "storage": url,
                          "study_name": "t", "sampler": "random", "constraints": {"params": 30000}}
    study = run_search(n_trials=6, evaluator="table:2", **kw)
    assert study.user_attrs["nas_edge"]["evaluator"] == {"name": "table", "scale": 2.0}
    assert study.user_attrs["nas_edge"]["training"] is None  # nothing here trains
    for t in study.trials:
        assert t.values[0] == pytest.approx(2.0 / (1.0 + t.user_attrs["cost"]["params"]))
        assert t.user_attrs["evaluation"] == {"mode": "table"}  # not trained: never skipped, even if infeasible
    assert any(any(v > 0 for v in t.constraints.values()) for t in study.trials)
    with pytest.raises(SearchError, match="different evaluator"):
        run_search(n_trials=7, evaluator="table:3", **kw)
    # the train evaluator does not compute this metric
    with pytest.raises(SearchError, match="'train' evaluator does not compute table_acc"):
        Objective("cnn", data=None, objectives=("table_acc",))
    # an instance works as well as a name, and is prepared against the objective
    inst = TableEvaluator()
    obj = Objective("cnn", data=None, objectives=("table_acc",), evaluator=inst)
    assert inst.prepared and obj.evaluator is inst


def test_a_search_method_records_derived_architectures(tmp_path: Any) -> None:
    """A method that derives architectures itself (as a differentiable search does) records each as an
    ordinary trial: parameters, attributes, constraints and values as if a sampler had proposed it."""
    space = create_space("cnn")
    derived = [space.sample(seed) for seed in (3, 4)]

    def derive(run: SearchRun, callbacks: list[Any]) -> None:
        for i, arch in enumerate(derived):
            run.record(arch, user_attrs={"derived_by": "test", "step": i}, callbacks=callbacks)

    register_method("derive", derive)
    try:
        assert "derive" in list_methods()
        seen: list[int] = []
        study = run_search(data=None, objectives=("energy_uj", "params"), storage=None, method="derive",
                           hardware_search=True, callbacks=[lambda s, t: seen.append(t.number)])
        assert seen == [0, 1]
        plain = Objective("cnn", data=None, objectives=("energy_uj", "params"), hardware_search=True)
        for t, arch in zip(study.trials, derived, strict=True):
            assert t.state == optuna.trial.TrialState.COMPLETE
            assert t.user_attrs["arch"] == arch.to_dict() and t.user_attrs["derived_by"] == "test"
            assert plain.hardware_metrics(t.params)["energy_uj"] == pytest.approx(t.values[0])
            assert set(named_constraints(t)) == {"fits_on_chip"}
        with pytest.raises(SearchError, match="already registered"):
            register_method("derive", lambda run, cb: None)
        with pytest.raises(SearchError, match="unknown search method"):
            run_search(data=None, objectives=("energy_uj",), storage=None, method="nope")
    finally:
        run_mod._REGISTERED.pop("derive", None)


def test_record_refuses_a_chip_without_co_search() -> None:
    obj = Objective("cnn", data=None, objectives=("energy_uj",))
    run = SearchRun(objective=obj, study=open_study(obj, storage=None))
    hw = create_space("hardware").sample(0)
    with pytest.raises(SearchError, match="without hardware co-search"):
        run.record(create_space("cnn").sample(0), hardware=hw)  # type: ignore[arg-type]
    assert run.record(create_space("cnn").sample(0)).state == optuna.trial.TrialState.COMPLETE
