"""Your own Optuna study, objective and sampler gain a hardware objective and a constraint from nas-edge.

The user's objective below tunes a small PyTorch MLP on scikit-learn's digits with their own training loop.
Three lines (marked ``# nas-edge``) add the energy of the model on an RRAM in-memory-computing chip as a
second objective and a chip-area limit as a constraint; ``study.best_trials`` is then the feasible Pareto
front of accuracy against energy. The second half runs nas-edge's full ``Objective`` (architecture search)
in a study made the user's way.

    python examples/extend_existing_study.py [STORAGE_URL]     # default: in memory
"""

from __future__ import annotations

import os
import sys

import optuna
import torch
from torch import nn

from nas_edge.evaluate import digits
from nas_edge.search import HardwareCost, Objective
from nas_edge.spaces import Architecture
from nas_edge.workload import Workload

TRIALS = int(os.environ.get("NAS_EDGE_EXAMPLE_TRIALS", "8"))
storage = sys.argv[1] if len(sys.argv) > 1 else None
optuna.logging.set_verbosity(optuna.logging.WARNING)
torch.set_num_threads(1)  # small models: one thread is fastest, and leaves cores for parallel trials
data = digits()
x_train, y_train = torch.from_numpy(data.x_train).flatten(1), torch.from_numpy(data.y_train)
x_val, y_val = torch.from_numpy(data.x_val).flatten(1), torch.from_numpy(data.y_val)

hw = HardwareCost("neurosim-rram-22nm", objectives=["energy_uj"], constraints={"area_mm2": 6.4})  # nas-edge


def objective(trial: optuna.Trial) -> tuple[float, float]:
    """The user's own objective: an MLP, their training loop, validation accuracy."""
    torch.manual_seed(0)
    width, depth = trial.suggest_int("width", 16, 512, log=True), trial.suggest_int("depth", 1, 3)
    lr = trial.suggest_float("lr", 1e-3, 3e-2, log=True)
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(64 if i == 0 else width, width), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(width, 10))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(6):
        for idx in torch.randperm(len(x_train)).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x_train[idx]), y_train[idx]).backward()
            opt.step()
    with torch.no_grad():
        accuracy = (model(x_val).argmax(1) == y_val).float().mean().item()
    (energy,) = hw(trial, Workload.from_torch(model, torch.zeros(1, 64)))  # nas-edge
    return accuracy, energy


study = optuna.create_study(directions=["maximize", *hw.directions], storage=storage,  # nas-edge: + directions
                            sampler=optuna.samplers.NSGAIISampler(seed=0, population_size=4))
study.optimize(objective, n_trials=TRIALS)
print(f"MLP study: {len(study.best_trials)} feasible Pareto trials (area <= 6.4 mm2) of {len(study.trials)}")
for t in sorted(study.best_trials, key=lambda t: -t.values[0]):
    c = t.user_attrs["cost"]
    print(f"  #{t.number}: accuracy {t.values[0]:.3f}, energy {t.values[1] * 1e3:.2f} nJ, "
          f"area {c['area_mm2']:.2f} mm2, width {t.params['width']}, depth {t.params['depth']}")

# nas-edge's architecture-search objective, in a study created and sampled the user's way
search = Objective("cnn", "neurosim-sram-22nm", data, objectives=("naswot", "energy_uj"),
                   constraints={"area_mm2": 40})
study2 = optuna.create_study(directions=search.directions, storage=storage, sampler=optuna.samplers.TPESampler(seed=1))
study2.optimize(search, n_trials=TRIALS)
print(f"CNN search: {len(study2.best_trials)} feasible Pareto trials of {len(study2.trials)}")
for t in study2.best_trials:
    arch = Architecture.from_dict(t.user_attrs["arch"])
    print(f"  #{t.number}: NASWOT {t.values[0]:.1f}, energy {t.values[1]:.3f} uJ, {arch.summary()}")
