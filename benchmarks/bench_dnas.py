"""Benchmark: a DNAS sweep against the ``hw`` sampler on (accuracy, energy), digits on ``neurosim-rram-22nm``.

DNAS (:func:`nas_edge.dnas.run_dnas`) derives one architecture per lambda (and per target); each is then
evaluated as an ordinary trial by the same :class:`nas_edge.Objective` (12 epochs of training, validation
accuracy, energy from the cost model). The ``hw`` sampler (:func:`nas_edge.run_search`, the default search)
then runs on a fresh study for ``--hw-factor`` times the DNAS wall time (default 3), and its front is read
both at the DNAS wall time (equal budget) and at the end (DNAS at 1/3 of the sampler's time).

Figures: wall time; hypervolume of the feasible front in (validation error, log10 energy), energy scaled
so that 0 is the cheapest and 1 the most expensive architecture of the whole space (exact, from the DNAS cost
table) and the error axis bounded at 0.10 (accuracy below 90 % counts nothing): the reference point is
(0.10, 1); the best accuracy the sampler found at or below each DNAS point's energy.

    python benchmarks/bench_dnas.py                                 # lambdas 0.01,0.1,1; hw for 3x the time
    python benchmarks/bench_dnas.py --lambdas 0,0.1 --targets energy_uj<=0.05 --hw-factor 3
    python benchmarks/bench_dnas.py --json results/bench_dnas.jsonl  # append the figures as one JSON line
    python benchmarks/bench_dnas.py --lambdas "" --targets energy_uj<=0.05,energy_uj<=0.1 --hw-factor 0  # DNAS only

With a target the argmax's own energy is printed too: where it overshoots, the derived architecture is the
likeliest one that meets the target (``derived``).

``--nb201``: the NAS-Bench-201 cell instead (the ``bench`` extra). The super-network trains a proxy on digits
(one cell per stage, ``--nb201-channels`` wide, 8x8 inputs); the cost table is the full CIFAR-10 network's
(5 cells per stage, 16 channels, 32x32) on the profile, so lambda and targets act on the real network's energy.
Each derived cell's published CIFAR-10 validation accuracy (``nb201_cifar10``) is looked up and set against the
table's best, the best and the median of the cells that cost no more, and the cell's rank among those.

    python benchmarks/bench_dnas.py --nb201 --lambdas 0,0.3,3 --targets energy_uj<=3
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import optuna

from nas_edge.dnas import record_dnas, run_dnas
from nas_edge.samplers import hypervolume
from nas_edge.search import Objective, run_search

HARDWARE = "neurosim-rram-22nm"
ERROR_REF = 0.10


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def points(trials: Sequence[optuna.trial.FrozenTrial], until: float | None = None, start: float = 0.0
           ) -> np.ndarray:
    """(accuracy, energy) of the complete, feasible trials finished by ``start + until`` (epoch seconds)."""
    out = []
    for t in trials:
        if t.state != optuna.trial.TrialState.COMPLETE or any(v > 0 for v in t.constraints.values()):
            continue
        if until is not None and t.datetime_complete.timestamp() > start + until:
            continue
        out.append(t.values)
    return np.asarray(out, dtype=float).reshape(-1, 2)


def hv(pts: np.ndarray, low: float, high: float) -> float:
    if not len(pts):
        return 0.0
    err = 1.0 - pts[:, 0]
    energy = (np.log10(pts[:, 1]) - math.log10(low)) / (math.log10(high) - math.log10(low))
    return hypervolume(np.stack([err, energy], axis=1), np.array([ERROR_REF, 1.0]))


def main(argv: Sequence[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lambdas", default="0.01,0.1,1")
    ap.add_argument("--targets", default="", help="comma-separated, e.g. energy_uj<=0.05,energy_uj<=0.2")
    ap.add_argument("--hw-factor", type=float, default=3.0, help="the sampler's wall time over DNAS's (0: none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default="", help="append the figures to this JSON-lines file")
    ap.add_argument("--nb201", action="store_true", help="the NAS-Bench-201 cell against its published accuracy")
    ap.add_argument("--nb201-channels", type=int, default=16, help="the digits proxy's first-stage width")
    args = ap.parse_args(argv)
    if args.nb201:
        return nb201_main(args)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    print(f"load average at start: {load()}", flush=True)
    objective = Objective("cnn", HARDWARE, "digits", objectives=("accuracy", "energy_uj"), seed=args.seed)

    t0 = time.perf_counter()
    result = run_dnas(objective, lambdas=args.lambdas or None,
                      targets=[t for t in args.targets.split(",") if t] or None, config={"seed": args.seed},
                      progress=lambda m: print(f"  [{time.perf_counter() - t0:6.0f} s] {m}", flush=True))
    dnas_study = optuna.create_study(directions=objective.directions)
    trials = record_dnas(dnas_study, objective, result)
    t_dnas = time.perf_counter() - t0
    low, high = result.plan.min_cost, result.plan.max_cost
    print(f"DNAS: {t_dnas:.0f} s (tables {result.seconds['tables']:.0f}, warm-up {result.seconds['warmup']:.0f}, "
          f"searches {result.seconds['search']:.0f}, {len(trials)} evaluations "
          f"{t_dnas - result.seconds['total']:.0f}); load {load()}", flush=True)
    rows = []
    for p, t in zip(result.points, trials, strict=True):
        rows.append({"lambda": p.lam, "target": p.target, "energy_uj": t.values[1], "accuracy": t.values[0],
                     "argmax_energy_uj": p.argmax_cost, "derived": "likeliest within" if p.repaired else "argmax",
                     "search_s": round(p.seconds, 1), "eval_s": t.user_attrs["evaluation"]["seconds"],
                     "arch": p.architecture.summary()})
        print(f"  {p.lam if p.target is None else p.target!s:>18}  energy {t.values[1]:.4f} uJ  accuracy "
              f"{t.values[0]:.4f}  ({rows[-1]['derived']}; argmax {p.argmax_cost:.4f} uJ)  search {p.seconds:.0f} s"
              f"  eval {rows[-1]['eval_s']:.0f} s  {rows[-1]['arch']}")
    if args.hw_factor <= 0:
        print(f"load average at end: {load()}")
        return {"dnas_s": round(t_dnas, 1), "dnas_points": rows}

    budget = args.hw_factor * t_dnas
    print(f"hw sampler for {budget:.0f} s ...", flush=True)
    t1 = time.time()
    hw_study = run_search(objective=objective, sampler="hw", storage=None, n_trials=None, timeout=budget,
                          seed=args.seed)
    t_hw = time.time() - t1
    hw_trials = hw_study.get_trials(deepcopy=False)
    dnas_pts = points(trials)
    hw_equal, hw_all = points(hw_trials, t_dnas, t1), points(hw_trials)
    figures = {
        "load_start_end": load(), "dnas_s": round(t_dnas, 1), "hw_s": round(t_hw, 1),
        "hw_trials_equal_time": len(hw_equal), "hw_trials": len(hw_all),
        "hv_dnas": hv(dnas_pts, low, high), "hv_hw_equal_time": hv(hw_equal, low, high),
        "hv_hw": hv(hw_all, low, high), "energy_range_uj": [low, high], "dnas_points": rows,
        "lambdas": args.lambdas, "targets": args.targets, "seed": args.seed,
    }
    print(f"\nload average at end: {load()}")
    print("| method | wall s | trials | HV | HV / hw's |")
    print("|---|---|---|---|---|")
    for name, secs, n, value in (("DNAS sweep", t_dnas, len(dnas_pts), figures["hv_dnas"]),
                                 ("hw, same wall time", t_dnas, len(hw_equal), figures["hv_hw_equal_time"]),
                                 (f"hw, {args.hw_factor:g}x the time", t_hw, len(hw_all), figures["hv_hw"])):
        print(f"| {name} | {secs:.0f} | {n} | {value:.5f} | {value / max(figures['hv_hw'], 1e-12):.3f} |")
    print("\nbest accuracy at equal (or lower) energy:")
    print("| DNAS point | energy uJ | DNAS accuracy | hw same time | hw full time |")
    print("|---|---|---|---|---|")
    for r in rows:
        best = [max((a for a, e in pts if e <= r["energy_uj"] * (1 + 1e-9)), default=float("nan"))
                for pts in (hw_equal, hw_all)]
        r["hw_best_accuracy_equal_time"], r["hw_best_accuracy"] = best
        label = r["target"] or f"lambda={r['lambda']:g}"
        print(f"| {label} | {r['energy_uj']:.4f} | {r['accuracy']:.4f} | {best[0]:.4f} | {best[1]:.4f} |")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            f.write(json.dumps(figures) + "\n")
    return figures


def nb201_main(args: argparse.Namespace) -> dict:
    """DNAS on the NAS-Bench-201 cell: derived cells against the table's published accuracies."""
    import torch

    from nas_edge.bench import load as load_bench
    from nas_edge.dnas import plan_dnas, run_plan
    from nas_edge.spaces import create_space
    from nas_edge.spaces.nb201 import N_CELLS, OPS, PARAM_NAMES, NB201Architecture, ops_of_index

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    print(f"load average at start: {load()}", flush=True)
    accuracy = load_bench().column("nb201_cifar10")
    proxy = Objective("nb201", HARDWARE, "digits", objectives=("accuracy", "energy_uj"), seed=args.seed,
                      space_options={"cells": 1, "channels": args.nb201_channels})
    t0 = time.perf_counter()
    plan = plan_dnas(proxy, lambdas=args.lambdas or None, targets=[t for t in args.targets.split(",") if t] or None,
                     cost_space=create_space("nb201"), config={"seed": args.seed})
    energy = np.array([plan.table.cost({p: OPS.index(op) for p, op in zip(PARAM_NAMES, ops_of_index(i),
                                                                          strict=True)}) for i in range(N_CELLS)])
    print(f"  [{time.perf_counter() - t0:6.0f} s] cost table of the CIFAR-10 network: {plan.table.metric} "
          f"{energy.min():.3f}-{energy.max():.3f} uJ on {plan.profile}; searching", flush=True)
    result = run_plan(plan, progress=lambda m: print(f"  [{time.perf_counter() - t0:6.0f} s] {m}", flush=True))
    best = float(np.nanmax(accuracy))
    print(f"DNAS: {time.perf_counter() - t0:.0f} s (tables {result.seconds['tables']:.0f}, warm-up "
          f"{result.seconds['warmup']:.0f}, searches {result.seconds['search']:.0f}); load {load()}")
    print(f"table's best CIFAR-10 validation accuracy: {best:.2f} % (cell {int(np.nanargmax(accuracy))}, "
          f"{energy[int(np.nanargmax(accuracy))]:.3f} uJ); median of all cells {np.nanmedian(accuracy):.2f} %\n")
    print("| point | cell | energy uJ | published % | best at <= energy | median at <= energy | rank at <= energy |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for p in result.points:
        assert isinstance(p.architecture, NB201Architecture)
        cell = p.architecture.index
        cheaper = accuracy[energy <= energy[cell] * (1 + 1e-9)]
        cheaper = cheaper[np.isfinite(cheaper)]
        rank = int((cheaper > accuracy[cell]).sum()) + 1
        rows.append({"lambda": p.lam, "target": p.target, "cell": p.architecture.summary(), "index": cell,
                     "energy_uj": float(energy[cell]), "accuracy": float(accuracy[cell]),
                     "best_at_energy": float(cheaper.max()), "median_at_energy": float(np.median(cheaper)),
                     "rank": rank, "of": len(cheaper), "derived": "likeliest within" if p.repaired else "argmax"})
        label = p.target or f"lambda={p.lam:g}"
        print(f"| {label} | {p.architecture.summary()} | {energy[cell]:.3f} | {accuracy[cell]:.2f} | "
              f"{cheaper.max():.2f} | {np.median(cheaper):.2f} | {rank} of {len(cheaper)} |")
    print(f"\nload average at end: {load()}")
    figures = {"nb201": True, "seconds": round(time.perf_counter() - t0, 1), "table_best": best, "points": rows,
               "lambdas": args.lambdas, "targets": args.targets, "seed": args.seed, "load_end": load()}
    if args.json:
        with Path(args.json).open("a") as f:
            f.write(json.dumps(figures) + "\n")
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
