"""Objective, HardwareCost, constraints, storages, samplers, pruning and run_search (resume)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nas_edge.cost import estimate
from nas_edge.hardware import profile_from_dict
from nas_edge.search import (
    CAPACITY_KEY,
    OBJECTIVES,
    Constraint,
    HardwareCost,
    Objective,
    SearchError,
    make_pruner,
    make_sampler,
    open_storage,
    open_study,
    parse_constraint,
    parse_constraints,
    run_search,
)
from nas_edge.spaces import Architecture, HardwareSpace, create_space

optuna.logging.set_verbosity(optuna.logging.WARNING)

TINY_CHIP = {"base": "neurosim-rram-22nm", "name": "tiny-chip", "provenance": "test: a 4-array chip",
             "chip": {"tiles": 1, "arrays_per_pe": 2, "pes_per_tile": 2, "on_overflow": "infeasible"}}


def sqlite(tmp_path: Path, name: str = "s.db") -> str:
    return f"sqlite:///{tmp_path / name}"


# -- constraints and names ----------------------------------------------------------------------------------

@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(["area_mm2", "energy_uj", "tops_per_w", "params"]), op=st.sampled_from(["<=", ">="]),
       limit=st.floats(-1e6, 1e6, allow_nan=False).filter(lambda v: abs(v) > 1e-9), value=st.floats(-1e7, 1e7))
def test_constraint_parsing_and_violation_sign(name: str, op: str, limit: float, value: float) -> None:
    c = parse_constraint(f" {name} {op} {limit!r} ")
    assert (c.name, c.op) == (name, op) and c.limit == pytest.approx(limit)
    feasible = value <= c.limit if op == "<=" else value >= c.limit
    assert (c.violation(value) <= 0) == feasible
    assert parse_constraint(str(c)) == Constraint(name, op, float(f"{c.limit:g}"))


@pytest.mark.parametrize(("text", "message"), [
    ("area_mm2<50", "malformed"), ("area_mm2<=", "malformed"), ("<=5", "malformed"), ("area_mm2<=5x", "malformed"),
    ("area<=5", "unknown constraint name 'area'"), ("accuracy>=0.9", "only known after training"),
])
def test_bad_constraints(text: str, message: str) -> None:
    with pytest.raises(SearchError, match=message):
        parse_constraint(text)


def test_constraint_mappings_and_duplicates() -> None:
    cs = parse_constraints({"area_mm2": 100, "tops_per_w": ">=5", "latency_ms": "<=2"})
    assert [str(c) for c in cs] == ["area_mm2<=100", "tops_per_w>=5", "latency_ms<=2"]
    with pytest.raises(SearchError, match="duplicate"):
        parse_constraints(["area_mm2<=1", "area_mm2<=2"])
    with pytest.raises(SearchError, match="expected a number"):
        parse_constraints({"area_mm2": [1]})


def test_objective_names_and_directions() -> None:
    obj = Objective("cnn", data=None, objectives="energy_uj, tops_per_w,params")
    assert obj.directions == ["minimize", "maximize", "minimize"]
    assert OBJECTIVES["accuracy"] == "maximize" and "fits" not in OBJECTIVES
    with pytest.raises(SearchError, match="unknown objective 'energy'"):
        Objective("cnn", data=None, objectives=("energy",))
    with pytest.raises(SearchError, match="need data"):
        Objective("cnn", data=None, objectives=("accuracy",))
    with pytest.raises(SearchError, match="unknown search space"):
        Objective("mlp", data=None, objectives=("energy_uj",))
    with pytest.raises(SearchError, match="not a network space"):
        Objective("hardware", data=None, objectives=("energy_uj",))
    with pytest.raises(SearchError, match="no such profile file"):
        Objective("cnn", "no-such-chip", data=None, objectives=("energy_uj",))
    with pytest.raises(SearchError, match="training options"):
        Objective("cnn", objectives=("accuracy",), training={"epoch": 3})


# -- the objective in studies -------------------------------------------------------------------------------

def test_hardware_only_trials_store_json_safe_attrs_and_constraints(tmp_path: Path) -> None:
    obj = Objective("cnn", data=None, objectives=("energy_uj", "latency_ms"), constraints={"area_mm2": 40})
    study = obj.create_study(storage=sqlite(tmp_path), sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(obj, n_trials=8)
    reloaded = optuna.load_study(study_name=study.study_name, storage=sqlite(tmp_path))
    assert reloaded.metric_names == ["energy_uj", "latency_ms"]
    space = create_space("cnn")
    for t in reloaded.trials:
        assert t.state == optuna.trial.TrialState.COMPLETE
        json.dumps(t.user_attrs)
        arch = Architecture.from_dict(t.user_attrs["arch"])
        assert space.to_params(arch) == t.params
        cost = estimate(space.layers(arch), "neurosim-rram-22nm").totals
        assert t.values == [cost["energy_uj"], cost["latency_ms"]]
        assert t.user_attrs["cost"]["area_mm2"] == pytest.approx(cost["area_mm2"])
        cons = {k.split(":", 1)[1]: v for k, v in t.system_attrs.items() if k.startswith("constraints:")}
        assert cons == {"area_mm2<=40": pytest.approx((cost["area_mm2"] - 40) / 40), CAPACITY_KEY: 0.0}
    feasible = {t.number for t in reloaded.trials if t.user_attrs["cost"]["area_mm2"] <= 40}
    assert {t.number for t in reloaded.best_trials} <= feasible


def test_a_candidate_that_does_not_fit_is_never_trained() -> None:
    obj = Objective("cnn", profile_from_dict(TINY_CHIP), "digits", objectives=("accuracy", "energy_uj"))
    study = obj.create_study()
    study.optimize(obj, n_trials=3)
    for t in study.trials:
        assert t.state == optuna.trial.TrialState.COMPLETE
        assert t.user_attrs["evaluation"] == {"skipped": "does not fit on the chip"}
        assert t.values[0] == 0.0
        assert t.system_attrs[f"constraints:{CAPACITY_KEY}"] == 1.0
    assert study.best_trials == []  # nothing feasible


def test_constraint_breakers_skip_training_and_feasible_ones_train() -> None:
    obj = Objective("cnn", objectives=("accuracy", "params"), constraints={"params": 20000},
                    training={"epochs": 1, "max_train_samples": 128})
    study = obj.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(obj, n_trials=8)
    kinds = set()
    for t in study.trials:
        small = t.user_attrs["cost"]["params"] <= 20000
        ev = t.user_attrs["evaluation"]
        assert ("skipped" not in ev) == small
        if not small:
            assert ev["skipped"] == "breaks a hardware constraint"
        kinds.add(small)
    assert kinds == {True, False}
    assert all(t.user_attrs["cost"]["params"] <= 20000 for t in study.best_trials)


SAMPLERS: dict[str, Any] = {
    "tpe": lambda: optuna.samplers.TPESampler(seed=0, n_startup_trials=3),
    "nsga2": lambda: optuna.samplers.NSGAIISampler(seed=0, population_size=4),
    "nsga3": lambda: optuna.samplers.NSGAIIISampler(seed=0, population_size=4),
    "random": lambda: optuna.samplers.RandomSampler(seed=0),
    "qmc": lambda: optuna.samplers.QMCSampler(seed=0, warn_independent_sampling=False),
    "gp": lambda: optuna.samplers.GPSampler(seed=0, n_startup_trials=4),
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n == "gp" else n for n in SAMPLERS])
def test_every_sampler_runs_the_proxy_search(name: str, tmp_path: Path) -> None:
    # GP fits one Gaussian process per objective and constraint: give it the smaller transformer space
    space = "transformer" if name == "gp" else "cnn"
    obj = Objective(space, objectives=("synflow", "energy_uj"), constraints={"area_mm2": 30}, hardware_search=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = SAMPLERS[name]()
    study = obj.create_study(sampler=sampler, storage=sqlite(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.optimize(obj, n_trials=6)
    assert len(study.trials) == 6
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert all(math.isfinite(v) for t in study.trials for v in t.values)
    for t in study.best_trials:
        assert t.user_attrs["cost"]["area_mm2"] <= 30


def test_nas_edge_screening_sampler_uses_the_cheap_hardware_metrics() -> None:
    obj = Objective("cnn", objectives=("synflow", "energy_uj"), constraints={"area_mm2": 25}, hardware_search=True)
    assert obj.cheap_objective_indices == [1]
    assert set(obj.search_space()) == set(obj.space.distributions()) | set(obj.hardware.space.distributions())
    study = obj.create_study(sampler=make_sampler("hw", seed=0, n_objectives=2, objective=obj))
    study.optimize(obj, n_trials=12)
    for t in study.trials:
        assert obj.cheap_objectives(t.params) == [pytest.approx(t.values[1])]
        recorded = {k.split(":", 1)[1]: v for k, v in t.system_attrs.items() if k.startswith("constraints:")}
        assert obj.cheap_constraints(t.params) == pytest.approx(recorded)
    # after the start-up trials every proposal is screened feasible
    assert all(t.user_attrs["cost"]["area_mm2"] <= 25 for t in study.trials[10:])
    with pytest.raises(SearchError, match="needs the objective"):
        make_sampler("hw")


def test_cmaes_single_objective() -> None:
    pytest.importorskip("cmaes")
    obj = Objective("transformer", objectives=("synflow",), constraints={"latency_ms": 1.0})
    study = obj.create_study(sampler=optuna.samplers.CmaEsSampler(seed=0, n_startup_trials=2,
                                                                  warn_independent_sampling=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "constraints set, but CmaEsSampler will not use them"
        study.optimize(obj, n_trials=6)
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    with pytest.raises(SearchError, match="single objective"):
        make_sampler("cmaes", n_objectives=2)


def test_edge_profiles_are_objectives_too() -> None:
    obj = Objective("cnn", "mobile-cpu-a78", data=None, objectives=("latency_ms", "energy_uj"))
    study = obj.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(obj, n_trials=4)
    assert all(t.user_attrs["hardware"] == {"profile": "mobile-cpu-a78"} for t in study.trials)
    assert len(study.best_trials) >= 1  # an edge device has no capacity limit


def test_hardware_co_search_proposes_chips() -> None:
    obj = Objective("transformer", data=None, objectives=("energy_uj", "area_mm2"), hardware_search=True)
    study = obj.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(obj, n_trials=10)
    space = obj.hardware.space
    assert isinstance(space, HardwareSpace)
    profiles = {t.user_attrs["hardware"]["profile"] for t in study.trials}
    assert len(profiles) > 1
    for t in study.trials:
        hw = t.user_attrs["hardware"]
        assert 1 <= hw["rows_parallel"] <= hw["rows"]
        # the screening-sampler hook gives what the trial recorded, from the parameters alone
        assert obj.hardware_metrics(t.params)["energy_uj"] == pytest.approx(t.values[0])


def test_pruners_stop_weak_trials_in_single_objective_studies() -> None:
    obj = Objective("cnn", objectives=("accuracy",), training={"epochs": 3, "max_train_samples": 128})
    study = obj.create_study(sampler=optuna.samplers.RandomSampler(seed=0),
                             pruner=optuna.pruners.ThresholdPruner(lower=0.999))
    study.optimize(obj, n_trials=2)
    for t in study.trials:
        assert t.state == optuna.trial.TrialState.PRUNED
        assert list(t.intermediate_values) == [0]
    with pytest.raises(SearchError, match="single objective"):
        make_pruner("median", n_objectives=2)
    with pytest.raises(SearchError, match="unknown pruner"):
        make_pruner("early")
    assert isinstance(make_pruner("hyperband"), optuna.pruners.HyperbandPruner)


@pytest.mark.parametrize("pruner", ["median", "sha", "hyperband"])
def test_named_pruners_run_on_reported_accuracy(pruner: str) -> None:
    small = create_space("cnn", resolutions=(8,), widths=[[8], [8, 16], [16]], max_depth=1, stem_widths=(8,))
    study = run_search(space=small, data="digits", objectives=("accuracy",), pruner=pruner, sampler="random",
                       n_trials=4, storage=None, training={"epochs": 3, "max_train_samples": 96}, seed=0)
    finished = [t for t in study.trials if t.state in (optuna.trial.TrialState.COMPLETE,
                                                         optuna.trial.TrialState.PRUNED)]
    assert len(finished) == 4
    for t in finished:
        assert t.intermediate_values and set(t.intermediate_values) <= {0, 1, 2}
        if t.state == optuna.trial.TrialState.COMPLETE and "skipped" not in t.user_attrs["evaluation"]:
            assert t.value == t.intermediate_values[2]


# -- a user's own objective and study -----------------------------------------------------------------------

def test_hardware_cost_extends_a_users_objective(tmp_path: Path) -> None:
    from optuna.storages.journal import JournalFileBackend

    hw = HardwareCost("neurosim-sram-22nm", objectives=("energy_uj",), constraints=["area_mm2<=5"])
    space = create_space("cnn")

    def users_objective(trial: optuna.Trial) -> tuple[float, float]:
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        arch = space.suggest(trial)
        (energy,) = hw(trial, space.layers(arch))
        return -abs(math.log10(lr) + 2), energy

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(tmp_path / "j.log")))
    study = optuna.create_study(directions=["maximize", *hw.directions], storage=storage,
                                sampler=optuna.samplers.NSGAIISampler(seed=0, population_size=4))
    study.optimize(users_objective, n_trials=6)
    assert all(t.user_attrs["hardware"] == {"profile": "neurosim-sram-22nm"} for t in study.trials)
    assert all("constraints:area_mm2<=5" in t.system_attrs for t in study.trials)
    assert hw.directions == ["minimize"]
    with pytest.raises(SearchError, match="not a hardware metric"):
        HardwareCost(objectives=("accuracy",))


# -- storages and run_search --------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "message"), [
    ("sqlite:////no/such/dir/x.db", "does not exist"),
    ("nosuchdb://host/x", "cannot open storage"),
    ("plainname", "expected a database URL"),
    ("/no/such/dir/j.log", "does not exist"),
])
def test_storages_that_cannot_be_opened(url: str, message: str) -> None:
    with pytest.raises(SearchError, match=message):
        open_storage(url)


def test_sqlite_storage_uses_wal(tmp_path: Path) -> None:
    storage = open_storage(sqlite(tmp_path))
    assert isinstance(storage, optuna.storages.RDBStorage)
    with storage.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_run_search_resumes_and_refuses_a_different_search(tmp_path: Path) -> None:
    kw: dict[str, Any] = {"data": None, "objectives": ("energy_uj", "latency_ms"), "storage": sqlite(tmp_path),
                          "study_name": "s", "sampler": "random", "seed": 1}
    study = run_search(n_trials=3, **kw)
    assert len(study.trials) == 3
    study = run_search(n_trials=5, **kw)
    assert len(study.trials) == 5 and [t.number for t in study.trials] == [0, 1, 2, 3, 4]
    assert study.user_attrs["nas_edge"]["objectives"] == ["energy_uj", "latency_ms"]
    assert len(run_search(n_trials=5, **kw).trials) == 5  # already there: nothing to do
    with pytest.raises(SearchError, match="different objectives"):
        run_search(n_trials=6, **{**kw, "objectives": ("energy_uj", "area_mm2")})
    with pytest.raises(SearchError, match="different constraints"):
        run_search(n_trials=6, **{**kw, "constraints": {"area_mm2": 5}})
    assert len(optuna.load_study(study_name="s", storage=sqlite(tmp_path)).trials) == 5
    with pytest.raises(SearchError, match="unknown sampler"):
        run_search(n_trials=1, **{**kw, "sampler": "bayes", "study_name": "t"})
    assert optuna.get_all_study_names(sqlite(tmp_path)) == ["s"]


def test_resume_refuses_other_training_or_analog_options(tmp_path: Path) -> None:
    def objective(**kw: Any) -> Objective:
        return Objective("cnn", "pcm-aihwkit-14nm", "digits", objectives=("analog_accuracy", "energy_uj"), **kw)

    first = objective(training={"lr": 1e-3, "epochs": 2}, analog={"repeats": 2})
    study = open_study(first, storage=sqlite(tmp_path), study_name="a")
    assert study.user_attrs["nas_edge"]["training"] == {"epochs": 2, "batch_size": 64, "lr": 1e-3,
                                                        "weight_decay": 1e-4, "max_train_samples": None}
    same = objective(training={"lr": 1e-3, "epochs": 2, "threads": 2}, analog={"repeats": 2})  # threads: no matter
    assert open_study(same, storage=sqlite(tmp_path), study_name="a").study_name == "a"
    with pytest.raises(SearchError, match="different training"):
        open_study(objective(training={"lr": 2e-3, "epochs": 2}, analog={"repeats": 2}), storage=sqlite(tmp_path),
                   study_name="a")
    with pytest.raises(SearchError, match="different analog"):
        open_study(objective(training={"lr": 1e-3, "epochs": 2}, analog={"repeats": 3}), storage=sqlite(tmp_path),
                   study_name="a")
    # a study recorded before these keys existed: its trials leave them open
    legacy = optuna.load_study(study_name="a", storage=sqlite(tmp_path))
    meta = {k: v for k, v in legacy.user_attrs["nas_edge"].items() if k not in ("training", "analog")}
    legacy.set_user_attr("nas_edge", meta)
    assert open_study(objective(training={"lr": 2e-3}), storage=sqlite(tmp_path), study_name="a").study_name == "a"
    # proxies train nothing: no training options are recorded (changing them does not block a resume)
    proxy = Objective("cnn", "neurosim-rram-22nm", "digits", objectives=("synflow", "energy_uj"))
    assert proxy.describe()["training"] is None


def test_resume_refuses_an_edited_hardware_profile(tmp_path: Path) -> None:
    """Issue 12.9: resuming after editing the hardware file was accepted, and the study mixed two chips. The
    resolved profile's content hash is recorded; a changed one is refused (layout and comments do not count)."""
    profile = tmp_path / "chip.yaml"
    profile.write_text("name: my-chip\nbase: neurosim-rram-22nm\n")
    kw: dict[str, Any] = {"data": None, "objectives": ("energy_uj", "latency_ms"), "storage": sqlite(tmp_path),
                          "study_name": "s", "sampler": "random", "seed": 1, "hardware": str(profile)}
    study = run_search(n_trials=2, **kw)
    assert len(study.user_attrs["nas_edge"]["hardware_sha256"]) == 64
    profile.write_text("# the same chip, reformatted\nbase: neurosim-rram-22nm\nname: my-chip\n")
    assert len(run_search(n_trials=3, **kw).trials) == 3
    profile.write_text("name: my-chip\nbase: neurosim-rram-22nm\nadc: {bits: 6}\n")
    with pytest.raises(SearchError, match=r"with other contents .* the profile changed since"):
        run_search(n_trials=4, **kw)
    assert len(optuna.load_study(study_name="s", storage=sqlite(tmp_path)).trials) == 3
    # a study recorded before the hash existed resumes as before
    legacy = optuna.load_study(study_name="s", storage=sqlite(tmp_path))
    legacy.set_user_attr("nas_edge", {k: v for k, v in legacy.user_attrs["nas_edge"].items()
                                      if k != "hardware_sha256"})
    assert len(run_search(n_trials=4, **kw).trials) == 4


def test_default_sampler_is_the_screening_sampler() -> None:
    from nas_edge.samplers import HWScreeningSampler

    kw: dict[str, Any] = {"data": None, "objectives": ("energy_uj", "latency_ms"), "constraints": {"area_mm2": 10},
                          "storage": None, "n_trials": 12, "hardware_search": True}
    study = run_search(**kw)
    assert isinstance(study.sampler, HWScreeningSampler)
    # screened before evaluation: every trial meets the constraint, the first ten (random start-up) included,
    # where random sampling breaks it on most trials
    assert all(all(v <= 0 for v in t.constraints.values()) for t in study.trials)
    rand = run_search(**kw, sampler="random")
    assert sum(any(v > 0 for v in t.constraints.values()) for t in rand.trials) >= 6
