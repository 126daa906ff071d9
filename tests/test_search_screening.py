"""The screening glue (nas_edge.search.screening): cheap objectives/constraints equal what a trial computes."""

from __future__ import annotations

import pickle

import numpy as np
import optuna
import pytest

from nas_edge.samplers import named_constraints
from nas_edge.search import HardwareCost, Objective, ObjectiveScreen, screening_sampler
from nas_edge.spaces import create_space

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _random_params(screen: ObjectiveScreen, n: int, seed: int) -> list[dict]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return [study.ask(screen.search_space).params for _ in range(n)]


@pytest.mark.parametrize("space", ["cnn", "transformer"])
def test_screen_matches_the_objective(space: str) -> None:
    obj = Objective(space, "neurosim-rram-22nm", "digits", objectives=("accuracy", "energy_uj", "area_mm2"),
                    constraints={"latency_ms": 0.05, "tops_per_w": ">=5"}, hardware_search=True)
    screen = ObjectiveScreen.from_objective(obj)
    assert screen.cheap_objective_indices == (1, 2)
    assert set(screen.search_space) == set(obj.space.distributions()) | set(obj.hardware.space.distributions())
    params = _random_params(screen, 40, seed=1)
    rows = screen.cheap_objectives(params)
    cons = screen.cheap_constraints(params)
    for p, row, con in zip(params, rows, cons, strict=True):
        # the trial's path, one network at a time (nas_edge.cost.estimate), not the screen's batched one
        profile = obj.hardware.profile_for(p)
        arch = obj.space.from_params({k: p[k] for k in obj.space.distributions()})
        metrics = obj.hardware.metrics(obj.space.layers(arch), profile)[1]
        assert obj.hardware_metrics(p) == pytest.approx(metrics, rel=1e-12)
        assert row.tolist() == pytest.approx([metrics["energy_uj"], metrics["area_mm2"]], rel=1e-12)
        assert con == pytest.approx(obj.hardware.violations(metrics, profile), rel=1e-12)
    # the keys are those the objective gives trial.set_constraint
    study = obj.create_study()
    study.enqueue_trial(params[0])
    study.optimize(lambda t: obj.hardware(t, obj.space.layers(obj.space.suggest(t))), n_trials=1)
    assert set(named_constraints(study.trials[0])) == set(cons[0])
    assert sum(any(v > 0 for v in c.values()) for c in cons) > 0  # the constraints bite on random points


def test_screening_sampler_keeps_every_trial_feasible_and_pickles() -> None:
    obj = Objective("transformer", "neurosim-rram-22nm", "digits", objectives=("params", "energy_uj", "latency_ms"),
                    constraints={"area_mm2": 10}, hardware_search=True)
    sampler = screening_sampler(obj, seed=0, n_startup_trials=4)
    restored = pickle.loads(pickle.dumps(sampler))
    assert isinstance(restored, type(sampler))
    study = obj.create_study(sampler=sampler)
    study.optimize(obj, n_trials=15)
    assert all(all(v <= 0 for v in t.constraints.values()) for t in study.trials)
    rand = obj.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    rand.optimize(obj, n_trials=15)
    assert sum(any(v > 0 for v in t.constraints.values()) for t in rand.trials) >= 4
    # every objective here is cheap: nothing but constraints the screen covers, so no GP is fitted
    assert not sampler._gp_cache


def test_screen_for_a_users_own_study() -> None:
    """A study with its own objective gains a screened hardware objective through HardwareCost."""
    space = create_space("cnn", input_shape=(1, 8, 8), num_classes=10)
    hw = HardwareCost("neurosim-rram-22nm", objectives=("energy_uj",), constraints={"area_mm2": 20})
    screen = ObjectiveScreen(space, hw, objectives=("my_score", "energy_uj"))
    assert screen.cheap_objective_indices == (1,)

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        arch = space.suggest(trial)
        workload = space.layers(arch)
        (energy,) = hw(trial, workload)
        return float(np.log(workload.total_params)), energy  # the user's own "expensive" score

    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=screening_sampler(screen, seed=1, n_startup_trials=3, n_candidates=32))
    study.optimize(objective, n_trials=8)
    assert all(all(v <= 0 for v in t.constraints.values()) for t in study.trials)


def test_screen_names_a_missing_parameter_and_shares_chips() -> None:
    obj = Objective("cnn", "neurosim-rram-22nm", "digits", objectives=("accuracy", "energy_uj"), hardware_search=True)
    screen = ObjectiveScreen.from_objective(obj)
    params = _random_params(screen, 30, seed=3)
    broken = dict(params[0])
    del broken["hw_adc_bits"]
    with pytest.raises(ValueError, match="hw_adc_bits"):
        screen.evaluate([broken])
    # same chip knobs, different networks: one profile object serves them all
    chip = {k: params[0][k] for k in screen.hw_names}
    same_chip = [p | chip for p in params]
    screen.evaluate(same_chip)
    assert len(screen._profiles) == 1
    assert screen.evaluate(same_chip) == [screen.evaluate([p])[0] for p in same_chip]
