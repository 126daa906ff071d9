"""HWScreeningSampler on synthetic hardware-aware problems: screening, constraints, seeds, pickling, storages.

The synthetic problem mimics HW-NAS: an expensive accuracy (maximise) and two cheap hardware objectives
(minimise) of a mixed int/log-int/categorical/log-float/stepped space, with a cheap area constraint that
rules out about half of the space.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from nas_edge.samplers import HWScreeningSampler, hypervolume

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = {
    "depth": IntDistribution(1, 8),
    "width": IntDistribution(8, 128, log=True),
    "kernel": CategoricalDistribution((3, 5, 7)),
    "block": CategoricalDistribution(("mb", "dense", "res")),
    "expand": CategoricalDistribution((1, 3, 6)),
    "lr": FloatDistribution(1e-4, 1e-1, log=True),
    "bits": IntDistribution(2, 8, step=2),
}
DIRECTIONS = ["maximize", "minimize", "minimize"]
REFERENCE = np.array([0.0, 60.0, 60.0])  # minimisation form: (-accuracy, energy, latency)


def _capacity_and_macs(p: dict[str, Any]) -> tuple[float, float]:
    cap = (p["depth"] * np.log2(p["width"]) * {3: 1.0, 5: 1.15, 7: 1.25}[p["kernel"]]
           * (1 + 0.1 * p["expand"]) * {"mb": 1.1, "dense": 1.0, "res": 1.2}[p["block"]])
    macs = (p["depth"] * p["width"] ** 2 * p["kernel"] ** 2 * (p["expand"] if p["block"] == "mb" else 1)
            * {"mb": 0.3, "dense": 1.0, "res": 2.0}[p["block"]])
    return float(cap), float(macs)


def accuracy(p: dict[str, Any]) -> float:
    cap, _ = _capacity_and_macs(p)
    return float(1 - np.exp(-cap / 12) - 0.08 * (np.log10(p["lr"]) + 2.2) ** 2 - 0.15 / p["bits"])


def cheap_objectives(p: dict[str, Any]) -> list[float]:
    _, macs = _capacity_and_macs(p)
    return [macs * p["bits"] / 8e3, macs / (4 + p["width"] / 16) * 1e-3 + p["depth"]]


def cheap_constraints(p: dict[str, Any]) -> dict[str, float]:
    return {"area": float(p["depth"] * p["width"] * p["bits"] * (2 if p["block"] != "mb" else 1) - 2500)}


def suggest(trial: optuna.Trial) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, d in SPACE.items():
        if isinstance(d, CategoricalDistribution):
            out[name] = trial.suggest_categorical(name, d.choices)
        elif isinstance(d, IntDistribution):
            out[name] = trial.suggest_int(name, d.low, d.high, step=d.step, log=d.log)
        else:
            out[name] = trial.suggest_float(name, d.low, d.high, log=d.log)
    return out


def objective(trial: optuna.Trial) -> tuple[float, float, float]:
    p = suggest(trial)
    trial.set_constraint("area", cheap_constraints(p)["area"])
    return (accuracy(p), *cheap_objectives(p))


def screened(seed: int, **kw: Any) -> HWScreeningSampler:
    return HWScreeningSampler(seed=seed, cheap_objectives=cheap_objectives, cheap_objective_indices=[1, 2],
                              cheap_constraints=cheap_constraints, search_space=SPACE, **kw)


def infeasible(study: optuna.Study) -> int:
    return sum(any(v > 0 for v in t.constraints.values()) for t in study.trials)


def feasible_hv(study: optuna.Study) -> float:
    pts = [[-t.values[0], t.values[1], t.values[2]] for t in study.trials
           if t.state == TrialState.COMPLETE and all(v <= 0 for v in t.constraints.values())]
    return hypervolume(np.array(pts).reshape(-1, 3), REFERENCE)


def test_cheap_constraints_screen_every_trial_including_the_first() -> None:
    study = optuna.create_study(directions=DIRECTIONS, sampler=screened(0, n_candidates=64))
    study.optimize(objective, n_trials=25)
    assert infeasible(study) == 0
    rand = optuna.create_study(directions=DIRECTIONS, sampler=optuna.samplers.RandomSampler(seed=0))
    rand.optimize(objective, n_trials=25)
    assert infeasible(rand) >= 5  # the constraint bites: screening is what removes infeasible trials


def test_seed_reproduces_and_differs() -> None:
    def run(seed: int) -> list[dict[str, Any]]:
        study = optuna.create_study(directions=DIRECTIONS, sampler=screened(seed, n_candidates=48,
                                                                              n_startup_trials=4))
        study.optimize(objective, n_trials=12)
        return [t.params for t in study.trials]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_pickled_sampler_continues_identically() -> None:
    study = optuna.create_study(directions=DIRECTIONS, sampler=screened(1, n_candidates=48, n_startup_trials=4))
    study.optimize(objective, n_trials=8)
    clone = pickle.loads(pickle.dumps(study.sampler))
    storage_copy = optuna.create_study(directions=DIRECTIONS, sampler=clone)
    for t in study.trials:
        storage_copy.add_trial(t)
    study.optimize(objective, n_trials=3)
    storage_copy.optimize(objective, n_trials=3)
    assert [t.params for t in study.trials[-3:]] == [t.params for t in storage_copy.trials[-3:]]


def test_vectorized_cheap_functions_give_the_same_proposals() -> None:
    def batch_obj(ps: list[dict[str, Any]]) -> np.ndarray:
        return np.array([cheap_objectives(p) for p in ps])

    def batch_con(ps: list[dict[str, Any]]) -> np.ndarray:
        return np.array([[cheap_constraints(p)["area"]] for p in ps])

    runs = []
    for sampler in (
        screened(5, n_candidates=48, n_startup_trials=4),
        HWScreeningSampler(seed=5, cheap_objectives=batch_obj, cheap_objective_indices=[1, 2],
                           cheap_constraints=batch_con, vectorized=True, search_space=SPACE, n_candidates=48,
                           n_startup_trials=4),
    ):
        study = optuna.create_study(directions=DIRECTIONS, sampler=sampler)
        study.optimize(objective, n_trials=10)
        runs.append([t.params for t in study.trials])
    assert runs[0] == runs[1]


def test_beats_random_on_the_synthetic_problem() -> None:
    """Judged in the box ``REFERENCE``, which the sampler is told: this problem's energies span five orders
    of magnitude, and by default the sampler (like Optuna's) values the whole observed range."""
    hv = {"screened": [], "random": []}
    ref = [-REFERENCE[0], REFERENCE[1], REFERENCE[2]]  # in the study's directions
    for seed in range(2):
        for name, sampler in (("screened", screened(seed, n_candidates=128, reference_point=ref)),
                              ("random", optuna.samplers.RandomSampler(seed=seed))):
            study = optuna.create_study(directions=DIRECTIONS, sampler=sampler)
            study.optimize(objective, n_trials=35)
            hv[name].append(feasible_hv(study))
    assert min(hv["screened"]) > max(hv["random"])


def test_cheap_only_objective_is_optimised_exactly() -> None:
    """With every objective cheap the sampler sees exact gains and walks to the optimum of a 21^4 grid."""
    space = {f"x{i}": IntDistribution(-10, 10) for i in range(4)}

    def f(p: dict[str, Any]) -> list[float]:
        return [float(sum((p[f"x{i}"] - (i - 1) * 3) ** 2 for i in range(4)))]

    sampler = HWScreeningSampler(seed=0, cheap_objectives=f, cheap_objective_indices=[0], search_space=space,
                                 n_startup_trials=3)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: f({k: t.suggest_int(k, -10, 10) for k in space})[0], n_trials=25)
    assert study.best_value == 0.0


def test_expensive_constraint_from_set_constraint_is_learned() -> None:
    """A constraint only known after evaluation (no cheap function) is modelled: fewer violations than random."""

    def obj(trial: optuna.Trial) -> tuple[float, float]:
        x, y = trial.suggest_float("x", 0, 1), trial.suggest_float("y", 0, 1)
        trial.set_constraint("c", x + y - 0.8)  # feasible iff x + y <= 0.8
        return x, (1 - x) ** 2 + y

    # The constrained front lies on the boundary, so proposals hug it from both sides; what the model must
    # learn is to stay away from the clearly infeasible region (x + y > 1, over half of the square).
    deep = {}
    for name, sampler in (("screened", HWScreeningSampler(seed=0, n_candidates=64)),
                          ("random", optuna.samplers.RandomSampler(seed=0))):
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
        study.optimize(obj, n_trials=40)
        deep[name] = sum(t.constraints["c"] > 0.2 for t in study.trials[10:])
        if name == "screened":
            assert {k[1] for k in sampler._gp_cache} == {"obj0", "obj1", "con:c"}
    assert deep["random"] >= 10
    assert deep["screened"] <= deep["random"] / 4


def test_cheap_constraint_keys_are_not_modelled_again() -> None:
    sampler = screened(0, n_candidates=32, n_startup_trials=3)
    study = optuna.create_study(directions=DIRECTIONS, sampler=sampler)
    rand = optuna.samplers.RandomSampler(seed=1)
    study.sampler = rand
    study.optimize(objective, n_trials=12)  # random history with violated "area" constraints
    assert infeasible(study) > 0
    study.sampler = sampler
    study.optimize(objective, n_trials=4)
    targets = {k[1] for k in sampler._gp_cache}
    assert targets == {"obj0"}  # accuracy only: energy/latency are cheap, "area" is a cheap constraint


def test_study_with_existing_trials_and_foreign_params() -> None:
    study = optuna.create_study(directions=["minimize", "minimize"])
    study.add_trial(optuna.create_trial(params={"a": 1, "b": "u", "other": 0.5},
                                        distributions={"a": IntDistribution(0, 3),
                                                       "b": CategoricalDistribution(("u", "v")),
                                                       "other": FloatDistribution(0, 1)}, values=[1.0, 1.0]))
    study.add_trial(optuna.create_trial(state=TrialState.FAIL, params={"a": 2},
                                        distributions={"a": IntDistribution(0, 3)}))
    for a, b in [(0, "u"), (3, "v"), (2, "u")]:
        study.add_trial(optuna.create_trial(params={"a": a, "b": b},
                                            distributions={"a": IntDistribution(0, 3),
                                                           "b": CategoricalDistribution(("u", "v"))},
                                            values=[a, 1.0 if b == "u" else 0.0]))
    study.sampler = HWScreeningSampler(seed=0, n_startup_trials=2, n_candidates=16)

    def obj(t: optuna.Trial) -> tuple[float, float]:
        a = t.suggest_int("a", 0, 3)
        b = t.suggest_categorical("b", ("u", "v"))
        return a, 1.0 if b == "u" else 0.0

    study.optimize(obj, n_trials=4)
    done = [(t.params["a"], t.params["b"]) for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(done) == 8 and len(set(done)) == 8  # the 8-point space, no configuration repeated


def test_running_trials_are_not_proposed_twice() -> None:
    space = {"k": CategoricalDistribution(tuple(range(6)))}
    study = optuna.create_study(sampler=HWScreeningSampler(seed=0, search_space=space, n_startup_trials=1,
                                                           n_candidates=16))
    first = study.ask()
    study.tell(first, float(first.suggest_categorical("k", tuple(range(6)))))
    pending = [study.ask() for _ in range(5)]
    values = [t.suggest_categorical("k", tuple(range(6))) for t in pending]
    assert sorted([first.params["k"], *values]) == list(range(6))


def test_canonical_proposes_one_parameter_set_per_network() -> None:
    """With ``canonical`` (here: ``b`` does nothing when ``a`` is 0, so such sets are set to ``b = 0``), every
    proposal is canonical and none repeats a network already evaluated, an enqueued equivalent one included."""
    space = {"a": CategoricalDistribution((0, 1, 2)), "b": CategoricalDistribution((0, 1, 2, 3)),
             "c": CategoricalDistribution((0, 1, 2))}

    def canonical(params: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**p, "b": 0} if p.get("a") == 0 else dict(p) for p in params]

    def key(p: dict[str, Any]) -> tuple[int, int, int]:
        q = canonical([p])[0]
        return q["a"], q["b"], q["c"]

    networks = {key({"a": a, "b": b, "c": c}) for a in range(3) for b in range(4) for c in range(3)}
    assert len(networks) == 27  # of 36 parameter sets
    study = optuna.create_study(sampler=HWScreeningSampler(seed=0, search_space=space, canonical=canonical,
                                                           n_startup_trials=4, n_candidates=16))
    study.enqueue_trial({"a": 0, "b": 3, "c": 1})  # a network given in a non-canonical form

    def value(t: optuna.Trial) -> float:
        p = {n: t.suggest_categorical(n, d.choices) for n, d in space.items()}
        return float(p["a"] + p["c"] + (p["b"] if p["a"] else 0) + 0.1 * p["b"])  # b still shows when a == 0

    study.optimize(value, n_trials=27)
    proposed = [t.params for t in study.trials[1:]]
    assert all(canonical([p])[0] == p for p in proposed)
    assert len({key(t.params) for t in study.trials}) == 27  # every network once, none twice


def test_single_objective_and_log_params() -> None:
    study = optuna.create_study(sampler=HWScreeningSampler(seed=0, n_startup_trials=5))
    study.optimize(lambda t: (np.log10(t.suggest_float("lr", 1e-5, 1, log=True)) + 3) ** 2
                   + (t.suggest_int("n", 1, 1024, log=True) - 64) ** 2 / 1e4, n_trials=30)
    assert study.best_value < 0.05


def test_bad_arguments_are_reported() -> None:
    with pytest.raises(ValueError, match="together"):
        HWScreeningSampler(cheap_objectives=cheap_objectives)
    with pytest.raises(ValueError, match="distinct"):
        HWScreeningSampler(cheap_objectives=cheap_objectives, cheap_objective_indices=[1, 1])
    study = optuna.create_study(directions=DIRECTIONS, sampler=HWScreeningSampler(
        cheap_objectives=cheap_objectives, cheap_objective_indices=[1], search_space=SPACE, n_startup_trials=1))
    study.optimize(objective, n_trials=1)
    with pytest.raises(ValueError, match="expected 1"):
        study.optimize(objective, n_trials=1)
    study = optuna.create_study(sampler=HWScreeningSampler(
        cheap_objectives=cheap_objectives, cheap_objective_indices=[3], search_space=SPACE))
    with pytest.raises(ValueError, match="do not fit"):
        study.optimize(lambda t: float(len(suggest(t))), n_trials=1)
    study = optuna.create_study(directions=DIRECTIONS, sampler=screened(0, reference_point=[1.0, 2.0],
                                                                          n_startup_trials=1))
    study.optimize(objective, n_trials=1)
    with pytest.raises(ValueError, match="reference_point has 2 values"):
        study.optimize(objective, n_trials=1)


_WORKER = textwrap.dedent("""
    import sys
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    sys.path.insert(0, {tests!r})
    import test_sampler_behaviour as m
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend({path!r}))
    study = optuna.load_study(study_name="s", storage=storage, sampler=m.screened(int(sys.argv[1]),
                              n_candidates=48, n_startup_trials=4))
    study.optimize(m.objective, n_trials=8)
""")


@pytest.mark.slow
def test_several_processes_share_one_storage(tmp_path: Path) -> None:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = str(tmp_path / "journal.log")
    storage = JournalStorage(JournalFileBackend(path))
    optuna.create_study(study_name="s", storage=storage, directions=DIRECTIONS)
    script = _WORKER.format(tests=str(Path(__file__).parent), path=path)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(i)], env=env) for i in range(2)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    study = optuna.load_study(study_name="s", storage=storage)
    assert len(study.trials) == 16
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert infeasible(study) == 0
