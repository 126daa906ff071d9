"""Transformer search: ViT-style encoders on digits (trained) and on token sequences (zero-cost proxy).

On an IMC chip the attention's activation x activation matmuls (QK^T, A.V), softmax and LayerNorm run on
the chip's digital unit, not in the crossbars; the table shows how much of each network's energy that is.

    python examples/transformer_search.py [STORAGE_URL]     # default: in memory
"""

from __future__ import annotations

import os
import sys

import numpy as np
import optuna

from nas_edge.evaluate import from_arrays
from nas_edge.search import run_search
from nas_edge.spaces import Architecture

TRIALS = int(os.environ.get("NAS_EDGE_EXAMPLE_TRIALS", "8"))
storage = sys.argv[1] if len(sys.argv) > 1 else None
optuna.logging.set_verbosity(optuna.logging.WARNING)

# 1. images: accuracy after a short training against energy on an RRAM chip, latency under 0.05 ms
study = run_search(space="transformer", hardware="neurosim-rram-22nm", data="digits",
                   objectives=("accuracy", "energy_uj"), constraints={"latency_ms": 0.05},
                   training={"epochs": 6, "max_train_samples": 800}, n_trials=TRIALS,
                   storage=storage, study_name="vit-digits", seed=0)
print(f"ViT on digits: {len(study.best_trials)} feasible Pareto trials of {len(study.trials)}")
print(f"  {'trial':>5} {'accuracy':>8} {'energy uJ':>9} {'digital %':>9}  architecture")
for t in sorted(study.best_trials, key=lambda t: -t.values[0]):
    c = t.user_attrs["cost"]
    share = 100 * c["energy_digital_uj"] / c["energy_uj"]
    print(f"  {t.number:>5} {t.values[0]:>8.3f} {t.values[1]:>9.3f} {share:>9.1f}  "
          f"{Architecture.from_dict(t.user_attrs['arch']).summary()}")

# 2. token sequences: a synthetic task (is the sequence mostly high tokens?), NASWOT proxy, no training
rng = np.random.default_rng(0)
x = rng.integers(0, 64, (600, 32))
y = ((x >= 32).sum(axis=1) > 16).astype(int)
tokens = from_arrays("synthetic-tokens", x[:500], y[:500], x[500:], y[500:])
study = run_search(space="transformer", hardware="npu-int8-4tops", data=tokens,
                   objectives=("naswot", "latency_ms"), n_trials=2 * TRIALS, sampler="nsga2",
                   storage=storage, study_name="vit-tokens", seed=0)
print(f"Encoder on token sequences (mobile NPU): {len(study.best_trials)} Pareto trials of {len(study.trials)}")
for t in sorted(study.best_trials, key=lambda t: -t.values[0]):
    print(f"  #{t.number}: NASWOT {t.values[0]:.1f}, latency {t.values[1] * 1e3:.1f} us, "
          f"{Architecture.from_dict(t.user_attrs['arch']).summary()}")
