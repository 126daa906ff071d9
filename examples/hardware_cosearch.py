"""Hardware co-search: each trial proposes a CNN *and* the chip's crossbar and ADC knobs.

Array rows and columns, bits per cell, ADC bits, columns per ADC and rows read in parallel are searched
around a base profile (NeuroSim-like 22 nm RRAM); the score is the NASWOT proxy (no training) against
energy and chip area, with a latency limit. The chips on the Pareto front show what the trade-off favours.

    python examples/hardware_cosearch.py [STORAGE_URL]     # default: in memory
"""

from __future__ import annotations

import os
import sys

import optuna

from nas_edge.search import run_search
from nas_edge.spaces import Architecture

TRIALS = int(os.environ.get("NAS_EDGE_EXAMPLE_TRIALS", "8"))
storage = sys.argv[1] if len(sys.argv) > 1 else None
optuna.logging.set_verbosity(optuna.logging.WARNING)

study = run_search(space="cnn", hardware="neurosim-rram-22nm", hardware_search=True, data="digits",
                   objectives=("naswot", "energy_uj", "area_mm2"), constraints=["latency_ms<=0.2"],
                   n_trials=3 * TRIALS, storage=storage, study_name="cosearch", seed=0)
print(f"{len(study.best_trials)} feasible Pareto trials of {len(study.trials)} (latency <= 0.2 ms)")
print(f"  {'trial':>5} {'naswot':>7} {'energy uJ':>9} {'area mm2':>8} {'util %':>6}  chip | network")
for t in sorted(study.best_trials, key=lambda t: t.values[1]):
    hw, c = t.user_attrs["hardware"], t.user_attrs["cost"]
    chip = (f"{hw['rows']}x{hw['cols']} {hw['cell_bits']}b/cell ADC {hw['adc_bits']}b/{hw['cols_per_adc']}col "
            f"{hw['rows_parallel']} rows||")
    print(f"  {t.number:>5} {t.values[0]:>7.1f} {t.values[1]:>9.3f} {t.values[2]:>8.2f} {100 * c['utilisation']:>6.1f}"
          f"  {chip} | {Architecture.from_dict(t.user_attrs['arch']).summary()}")
