"""``nas-edge bench run``: samplers x seeds x trials on a table problem, scored against the exact optimum.

Each run is an Optuna study (in-memory storage) over the ``nb201`` space whose objective looks the cell up in
the problem's columns and sets the problem's constraints (``trial.set_constraint``). Recorded per run: the
hypervolume ratio (:meth:`~nas_edge.bench.problem.Problem.hv_ratio`) after every trial, the number of
infeasible trials so far, the wall time per trial (the sampler's time: the objective is a lookup) and the
cells evaluated (so the share of trials that repeat a network already evaluated can be read off).

Samplers by name: Optuna's ``random``, ``tpe``, ``nsga2``, ``nsga3``, ``gp``, ``qmc``, ``grid`` and ``bruteforce``
(both: every cell once, in a seeded random order; Optuna's CMA-ES takes one objective only), and nas-edge's ``hw``
(:func:`nas_edge.search.screening_sampler`, as ``nas-edge search`` builds it for the nb201 space: the hardware
objectives and constraints are its cheap, exact functions, the accuracy, which a real search would train for,
is the one it models, and it proposes one cell per network, :meth:`nas_edge.spaces.NB201Space.canonical`).
"""

from __future__ import annotations

import os
import statistics
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution

from nas_edge.bench.fields import is_field
from nas_edge.bench.problem import Problem, cell_indices
from nas_edge.samplers import HWScreeningSampler
from nas_edge.search.screening import canonical_params, screening_sampler
from nas_edge.spaces.nb201 import OPS, PARAM_NAMES, NB201Architecture, NB201Space, network_representatives

SAMPLERS = ("random", "tpe", "nsga2", "nsga3", "gp", "qmc", "grid", "bruteforce", "hw")
DEFAULT_SAMPLERS = ("random", "tpe", "nsga2", "nsga3", "qmc", "hw")


class HardwareScreen:
    """The hw sampler's cheap functions for a problem (a :class:`nas_edge.search.screening.Screen`): hardware
    objectives and every constraint, looked up in the problem's columns."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.space = NB201Space()
        self.cheap_objective_indices = tuple(i for i, o in enumerate(problem.objectives) if not is_field(o))

    @property
    def search_space(self) -> dict[str, BaseDistribution]:
        return self.space.distributions()

    def cheap_objectives(self, params: Sequence[Mapping[str, Any]]) -> np.ndarray:
        cells = cell_indices(params)
        return self.problem.values[np.ix_(cells, np.asarray(self.cheap_objective_indices, dtype=np.int64))]

    def cheap_constraints(self, params: Sequence[Mapping[str, Any]]) -> list[dict[str, float]]:
        cells = cell_indices(params)
        return [{k: float(v[c]) for k, v in self.problem.violations.items()} for c in cells]

    def canonical(self, params: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return canonical_params(self.space, params)


def hw_sampler(problem: Problem, seed: int | None = None, **kwargs: Any) -> HWScreeningSampler:
    """The sampler ``nas-edge search`` uses (:func:`nas_edge.search.screening_sampler`), with the problem's
    columns as its exact cheap functions: the accuracy, which a real search would train for, is modelled."""
    return screening_sampler(HardwareScreen(problem), seed=seed, **kwargs)


def make_sampler(name: str, problem: Problem, seed: int) -> optuna.samplers.BaseSampler:
    s = optuna.samplers
    factories: dict[str, Callable[[], optuna.samplers.BaseSampler]] = {
        "random": lambda: s.RandomSampler(seed=seed),
        "tpe": lambda: s.TPESampler(seed=seed),
        "nsga2": lambda: s.NSGAIISampler(seed=seed),
        "nsga3": lambda: s.NSGAIIISampler(seed=seed),
        "gp": lambda: s.GPSampler(seed=seed),
        "qmc": lambda: s.QMCSampler(seed=seed),
        "grid": lambda: s.GridSampler({name: list(OPS) for name in PARAM_NAMES}, seed=seed),
        "bruteforce": lambda: s.BruteForceSampler(seed=seed),
        "hw": lambda: hw_sampler(problem, seed=seed),
    }
    if name not in factories:
        raise ValueError(f"unknown sampler {name!r}; valid: {', '.join(SAMPLERS)}")
    return factories[name]()


def run_one(problem: Problem, sampler: str, seed: int, trials: int) -> dict[str, Any]:
    """One study; the raw record written to the JSONL file."""
    space = NB201Space()
    smp = make_sampler(sampler, problem, seed)
    cells: list[int] = []

    def objective(trial: optuna.Trial) -> tuple[float, ...]:
        arch = space.suggest(trial)
        assert isinstance(arch, NB201Architecture)
        cell = arch.index
        cells.append(cell)
        for key, v in problem.violations.items():
            trial.set_constraint(key, float(v[cell]))
        return tuple(float(v) for v in problem.values[cell])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = optuna.create_study(directions=[optuna.study.StudyDirection[d.upper()] for d in problem.directions],
                                    sampler=smp)
        t0 = time.perf_counter()
        study.optimize(objective, n_trials=trials)
        wall = time.perf_counter() - t0
    feas = problem.feasible
    hv: list[float] = []
    front: list[int] = []
    infeasible: list[int] = []
    current = 0.0
    for k, c in enumerate(cells):
        if feas[c] and c not in front:
            front.append(c)
            current = problem.hv_ratio(front)
        hv.append(current)
        infeasible.append((infeasible[-1] if k else 0) + int(not feas[c]))
    return {"objectives": list(problem.objectives), "profile": problem.profile,
            "constraints": list(problem.constraints), "sampler": sampler, "seed": seed, "trials": trials,
            "per_network": problem.per_network, "hv_ratio": hv, "infeasible": infeasible,
            "ms_per_trial": 1e3 * wall / max(1, trials), "wall_s": wall, "cells": cells}


def _work(args: tuple[Problem, str, int, int]) -> dict[str, Any]:
    return run_one(*args)


def run(problem: Problem, samplers: Sequence[str], seeds: Sequence[int], trials: int, *, jobs: int = 1,
        on_result: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Every (sampler, seed) run; ``jobs`` processes (each single-threaded); results in submission order."""
    for name in samplers:
        if name not in SAMPLERS:
            raise ValueError(f"unknown sampler {name!r}; valid: {', '.join(SAMPLERS)}")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    tasks = [(problem, name, seed, trials) for seed in seeds for name in samplers]
    out: list[dict[str, Any]] = []
    if jobs <= 1:
        for t in tasks:
            out.append(_work(t))
            if on_result:
                on_result(out[-1])
        return out
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with ProcessPoolExecutor(max_workers=jobs, initializer=_quiet) as pool:
        for r in pool.map(_work, tasks):
            out.append(r)
            if on_result:
                on_result(r)
    return out


def _quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """(median, 25th, 75th percentile)."""
    q = np.percentile(np.asarray(values, dtype=float), [50, 25, 75])
    return float(q[0]), float(q[1]), float(q[2])


def repeat_share(cells: Sequence[int]) -> float:
    """The share of trials whose network was evaluated before (another cell building the same network: a
    retraining in a real search, a new draw of the table's training noise here)."""
    rep = network_representatives()
    return (len(cells) - len({int(rep[c]) for c in cells})) / max(1, len(cells))


def summary_rows(results: Sequence[dict[str, Any]], budgets: Sequence[int]) -> list[dict[str, Any]]:
    """Per sampler: HV ratio (median, IQR) at each budget, infeasible share, share of repeated networks,
    ms per trial, seeds."""
    rows = []
    for name in dict.fromkeys(r["sampler"] for r in results):
        rs = [r for r in results if r["sampler"] == name]
        row: dict[str, Any] = {"sampler": name, "seeds": len(rs)}
        for b in budgets:
            ok = [r for r in rs if len(r["hv_ratio"]) >= b]
            row[f"hv@{b}"] = quartiles([r["hv_ratio"][b - 1] for r in ok]) if ok else None
        last = max(budgets)
        row["infeasible_share"] = statistics.median(r["infeasible"][min(last, len(r["infeasible"])) - 1]
                                                    / min(last, len(r["infeasible"])) for r in rs)
        row["repeat_share"] = statistics.median(repeat_share(r["cells"][:last]) for r in rs) if all(
            "cells" in r for r in rs) else None
        row["ms_per_trial"] = statistics.median(r["ms_per_trial"] for r in rs)
        rows.append(row)
    return rows


def markdown(results: Sequence[dict[str, Any]], budgets: Sequence[int], title: str = "") -> str:
    head = ["sampler", *[f"HV/optimum @{b} (median [IQR])" for b in budgets], f"infeasible @{max(budgets)}",
            f"repeated networks @{max(budgets)}", "ms/trial", "seeds"]
    lines = [f"**{title}**", ""] if title else []
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in summary_rows(results, budgets):
        cells = [row["sampler"]]
        for b in budgets:
            q = row[f"hv@{b}"]
            cells.append("-" if q is None else f"{q[0]:.4f} [{q[1]:.4f}, {q[2]:.4f}]")
        repeats = "-" if row["repeat_share"] is None else f"{100 * row['repeat_share']:.0f} %"
        cells += [f"{100 * row['infeasible_share']:.0f} %", repeats, f"{row['ms_per_trial']:.1f}", str(row["seeds"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_svg(results: Sequence[dict[str, Any]], title: str = "") -> str:
    """Median HV ratio (IQR band) vs trials, one line per sampler."""
    from nas_edge.export._svg import lines_svg

    series: dict[str, tuple[list[float], list[float], list[float], list[float]]] = {}
    for name in dict.fromkeys(r["sampler"] for r in results):
        curves = np.array([r["hv_ratio"] for r in results if r["sampler"] == name], dtype=float)
        q = np.percentile(curves, [50, 25, 75], axis=0)
        series[name] = ([float(k) for k in range(1, curves.shape[1] + 1)], q[0].tolist(), q[1].tolist(), q[2].tolist())
    return lines_svg(series, x_label="trials", y_label="hypervolume / exact optimum", title=title)
