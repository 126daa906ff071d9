"""HWScreeningSampler on a toy hardware-aware problem: run ``python example.py`` from this folder.

Three objectives: accuracy (maximise; stands in for a training run, the expensive part), energy and latency
(minimise; a closed-form cost model, cheap and exact), and an area budget (a cheap constraint). The sampler
evaluates the cheap functions on hundreds of candidates per trial and spends "training" only on the one with
the best expected hypervolume gain; no trial breaks the area budget.
"""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import optunahub

# From the registry this would be optunahub.load_module("samplers/hw_screening").
module = optunahub.load_local_module(package="samplers/hw_screening",
                                     registry_root=str(Path(__file__).resolve().parents[2]))
HWScreeningSampler = module.HWScreeningSampler

SPACE = {
    "depth": optuna.distributions.IntDistribution(1, 12),
    "width": optuna.distributions.IntDistribution(16, 256, log=True),
    "kernel": optuna.distributions.CategoricalDistribution((3, 5, 7)),
    "bits": optuna.distributions.IntDistribution(2, 8, step=2),
}


def hardware_cost(params: dict) -> list[float]:
    """Cheap and exact: (energy in uJ, latency in ms)."""
    macs = params["depth"] * params["width"] ** 2 * params["kernel"] ** 2 * 64
    return [macs * params["bits"] * 1e-7, params["depth"] * 0.05 + macs / params["width"] * 1e-5]


def area_budget(params: dict) -> dict[str, float]:
    """Cheap constraint, feasible when <= 0: weights x bits within a 0.25 Mbit budget."""
    weights = params["depth"] * params["width"] ** 2 * params["kernel"] ** 2
    return {"area": weights * params["bits"] / 2.5e5 - 1.0}


def objective(trial: optuna.Trial) -> tuple[float, float, float]:
    params = {
        "depth": trial.suggest_int("depth", 1, 12),
        "width": trial.suggest_int("width", 16, 256, log=True),
        "kernel": trial.suggest_categorical("kernel", (3, 5, 7)),
        "bits": trial.suggest_int("bits", 2, 8, step=2),
    }
    trial.set_constraint("area", area_budget(params)["area"])
    capacity = params["depth"] * math.log2(params["width"]) * (1 + 0.1 * params["kernel"])
    accuracy = 1.0 - math.exp(-capacity / 15.0) - 0.2 / params["bits"]  # the "expensive" objective
    return (accuracy, *hardware_cost(params))


if __name__ == "__main__":
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = HWScreeningSampler(
        cheap_objectives=hardware_cost, cheap_objective_indices=[1, 2],  # energy, latency
        cheap_constraints=area_budget, search_space=SPACE, seed=0,
    )
    study = optuna.create_study(directions=["maximize", "minimize", "minimize"], sampler=sampler)
    study.optimize(objective, n_trials=40)
    infeasible = sum(any(v > 0 for v in t.constraints.values()) for t in study.trials)
    print(f"{len(study.best_trials)} Pareto-optimal trials, {infeasible} infeasible trials out of 40")
    for t in sorted(study.best_trials, key=lambda t: t.values[0])[-5:]:
        print(f"  accuracy {t.values[0]:.3f}  energy {t.values[1]:.2f} uJ  latency {t.values[2]:.3f} ms  {t.params}")
