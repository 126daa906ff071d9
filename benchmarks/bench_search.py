"""Benchmark: HWScreeningSampler against Optuna's samplers on hardware-aware NAS (CNN and transformer spaces).

Each run searches a network space together with the chip's knobs (hardware co-search on
``neurosim-rram-22nm``) on three objectives — the SynFlow zero-cost proxy (maximise; it stands in for
accuracy: training every candidate of every run is out of reach on 2 cores), energy (uJ) and latency (ms),
both from the cost model — under an area constraint (``area_mm2 <= 20`` for the CNN, ``<= 10`` for the
transformer; each rules out about half of the space) plus ``fits_on_chip``. The objective mirrors
``nas_edge.Objective`` with its public pieces (``space.suggest``, ``HardwareCost.evaluate``,
``evaluate.proxies.synflow``, seeded like the objective) and caches the proxy per network: it is
deterministic, so the cache changes nothing but the run time (checked at start-up against
``nas_edge.Objective``).

Figures: hypervolume of the feasible Pareto front after 50, 100 and 200 trials (median over seeds), with one
fixed reference point per space: each objective is scaled so that 0 is the best and 1 the 75th-percentile
worst value over 2000 random feasible candidates (proxy over 96 of them); the number of infeasible trials;
the sampler's own time per trial (all its methods, cheap functions included; thread CPU time, and wall
time which on a shared machine also counts other processes), mean over trials 181-200.

    python benchmarks/bench_search.py                      # the full benchmark (hours on 2 cores)
    python benchmarks/bench_search.py --seeds 1 --trials 60 --samplers hw,random   # a smoke run
    python benchmarks/bench_search.py --optimum --spaces transformer   # exact best HV (5 min; finite space)
    python benchmarks/bench_search.py --summarise a.jsonl b.jsonl        # tables from saved runs (--json)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from nas_edge.samplers import HWScreeningSampler, hypervolume
from nas_edge.search import Objective, ObjectiveScreen, screening_sampler

SPACES = {"cnn": 20.0, "transformer": 10.0}  # area_mm2 limit per space
OBJECTIVES = ("synflow", "energy_uj", "latency_ms")
HARDWARE = "neurosim-rram-22nm"
SAMPLERS = ("hw", "hw-generic", "tpe", "nsga2", "gp", "random")  # also available: "hw-64", "hw-256"
BUDGETS = (50, 100, 200)
SEED = 0  # the objective's seed (network initialisation for the proxy)
CHEAP_CPU = [0.0]  # CPU seconds spent in the screens' cost-model calls (see Problem.fresh_screen)


@dataclass
class Problem:
    """One benchmark problem: the nas-edge objective, its screen and the fixed HV normalisation."""

    name: str
    objective: Objective
    screen: ObjectiveScreen
    ideal: np.ndarray  # minimisation form
    ref: np.ndarray
    proxy_cache: dict[str, float]

    def fresh_screen(self) -> ObjectiveScreen:
        """A screen with cold caches (its own objective, hardware space and profiles) for one run, timed
        through :data:`CHEAP_CPU` so that the report can tell the cost model's share of the sampler time."""
        objective = Objective(self.name, HARDWARE, "digits", objectives=OBJECTIVES,
                              constraints={"area_mm2": SPACES[self.name]}, hardware_search=True, seed=SEED)
        screen = ObjectiveScreen.from_objective(objective)
        inner = screen.evaluate

        def evaluate(params: Any) -> Any:
            c0 = time.thread_time()
            try:
                return inner(params)
            finally:
                CHEAP_CPU[0] += time.thread_time() - c0

        screen.evaluate = evaluate  # type: ignore[method-assign]
        return screen

    def proxy(self, arch: Any) -> float:
        import torch

        from nas_edge.evaluate import proxies

        key = json.dumps(arch.to_dict(), sort_keys=True)
        if key not in self.proxy_cache:
            torch.manual_seed(SEED)
            model = self.objective.space.build(arch)
            self.proxy_cache[key] = float(proxies.synflow(model, self.objective.space.example_input()))
        return self.proxy_cache[key]

    def __call__(self, trial: optuna.Trial) -> tuple[float, float, float]:
        """``nas_edge.Objective.__call__`` for (synflow, energy, latency), with the proxy cached."""
        space = self.objective.space
        arch = space.suggest(trial)
        trial.set_user_attr("arch", arch.to_dict())
        hw = self.objective.hardware.evaluate(trial, space.layers(arch))
        return self.proxy(arch), hw.metrics["energy_uj"], hw.metrics["latency_ms"]

    def hv(self, trials: Sequence[optuna.trial.FrozenTrial]) -> float:
        pts = [t.values for t in trials if t.state == optuna.trial.TrialState.COMPLETE
               and all(v <= 0 for v in t.constraints.values())]
        if not pts:
            return 0.0
        y = np.asarray(pts) * np.array([-1.0, 1.0, 1.0])
        return hypervolume((y - self.ideal) / (self.ref - self.ideal), np.ones(3))


def make_problem(name: str) -> Problem:
    objective = Objective(name, HARDWARE, "digits", objectives=OBJECTIVES,
                          constraints={"area_mm2": SPACES[name]}, hardware_search=True, seed=SEED)
    screen = ObjectiveScreen.from_objective(objective)
    problem = Problem(name, objective, screen, np.zeros(3), np.ones(3), {})
    # the fixed normalisation: a seeded pool of random feasible candidates
    pool_study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=12345))
    params = [pool_study.ask(screen.search_space).params for _ in range(4000)]
    results = screen.evaluate(params)
    feas = [(p, m) for p, (m, v) in zip(params, results, strict=True) if all(x <= 0 for x in v.values())][:2000]
    energy = np.array([m["energy_uj"] for _, m in feas])
    latency = np.array([m["latency_ms"] for _, m in feas])
    proxies = np.array([problem.proxy(objective.space.from_params({k: p[k] for k in screen.net_names}))
                        for p, _ in feas[:96]])
    problem.ideal = np.array([-proxies.max(), energy.min(), latency.min()])
    problem.ref = np.array([-np.percentile(proxies, 25), np.percentile(energy, 75), np.percentile(latency, 75)])
    _check_against_objective(problem, [p for p, _ in feas[:3]])
    return problem


def _check_against_objective(problem: Problem, params: list[dict[str, Any]]) -> None:
    """The benchmark's objective gives the values of ``nas_edge.Objective`` (proxy cache included)."""
    for p in params:
        for _ in range(2):  # the second call hits the proxy cache
            a = optuna.create_study(directions=problem.objective.directions)
            a.enqueue_trial(p)
            a.optimize(problem.objective, n_trials=1)
            b = optuna.create_study(directions=problem.objective.directions)
            b.enqueue_trial(p)
            b.optimize(problem, n_trials=1)
            assert np.allclose(a.trials[0].values, b.trials[0].values, rtol=1e-9), (a.trials[0].values,
                                                                                    b.trials[0].values)
            assert a.trials[0].constraints == b.trials[0].constraints


def best_attainable_hv(problem: Problem) -> float:
    """The exact optimum of the benchmark's HV for a finite space: every (network, chip) pair is costed.

    Per network the proxy is one number, so its candidates reduce to the feasible (energy, latency) Pareto
    set over all chips; the union of those sets gives the true feasible front.
    """
    import itertools

    from nas_edge.samplers import pareto_mask

    space = problem.screen.search_space
    values = {k: (d.choices if hasattr(d, "choices") else range(d.low, d.high + 1, d.step)) for k, d in space.items()}
    if math.prod(len(v) for v in values.values()) > 5e6:
        raise SystemExit(f"{problem.name}: the space is too large to enumerate")
    net, hw = problem.screen.net_names, [k for k in space if k not in problem.screen.net_names]
    chips = [dict(zip(hw, c, strict=True)) for c in itertools.product(*(values[k] for k in hw))]
    front: list[list[float]] = []
    for combo in itertools.product(*(values[k] for k in net)):
        net_params = dict(zip(net, combo, strict=True))
        results = problem.screen.evaluate([net_params | c for c in chips])
        el = np.array([[m["energy_uj"], m["latency_ms"]] for m, v in results if all(x <= 0 for x in v.values())])
        if len(el):
            synflow = problem.proxy(problem.objective.space.from_params(net_params))
            front += [[-synflow, e, t] for e, t in el[pareto_mask(el)]]
        problem.screen._results.clear()  # keep memory flat: nothing is evaluated twice here
    y = np.asarray(front)
    y = y[pareto_mask(y)]
    return hypervolume((y - problem.ideal) / (problem.ref - problem.ideal), np.ones(3))


def make_sampler(name: str, problem: Problem, seed: int) -> optuna.samplers.BaseSampler:
    s = optuna.samplers
    factories: dict[str, Callable[[], optuna.samplers.BaseSampler]] = {
        "hw": lambda: screening_sampler(problem.fresh_screen(), seed=seed),  # 128 candidates per trial
        "hw-256": lambda: screening_sampler(problem.fresh_screen(), seed=seed, n_candidates=256),
        "hw-64": lambda: screening_sampler(problem.fresh_screen(), seed=seed, n_candidates=64),
        "hw-generic": lambda: HWScreeningSampler(seed=seed),  # no cheap functions: a plain GP-EHVI sampler
        "tpe": lambda: s.TPESampler(seed=seed),
        "nsga2": lambda: s.NSGAIISampler(seed=seed),
        "gp": lambda: s.GPSampler(seed=seed),
        "random": lambda: s.RandomSampler(seed=seed),
    }
    return factories[name]()


def time_sampler(
    sampler: optuna.samplers.BaseSampler,
) -> tuple[dict[int, float], dict[int, float], dict[int, float]]:
    """Wrap the sampler's methods (on the instance); sum wall, thread-CPU and cost-model CPU time per trial.

    CPU time is the figure to trust on a shared machine: wall time also counts other processes' turns.
    """
    wall: dict[int, float] = defaultdict(float)
    cpu: dict[int, float] = defaultdict(float)
    cheap: dict[int, float] = defaultdict(float)
    for method in ("infer_relative_search_space", "sample_relative", "sample_independent", "before_trial",
                   "after_trial"):
        inner = getattr(sampler, method)

        def timed(study: Any, trial: Any, *args: Any, _inner: Any = inner) -> Any:
            t0, c0, k0 = time.perf_counter(), time.thread_time(), CHEAP_CPU[0]
            try:
                return _inner(study, trial, *args)
            finally:
                wall[trial.number] += time.perf_counter() - t0
                cpu[trial.number] += time.thread_time() - c0
                cheap[trial.number] += CHEAP_CPU[0] - k0

        setattr(sampler, method, timed)
    return wall, cpu, cheap


def run_one(problem: Problem, sampler_name: str, seed: int, n_trials: int) -> dict[str, Any]:
    sampler = make_sampler(sampler_name, problem, seed)
    wall_spent, cpu_spent, cheap_spent = time_sampler(sampler)
    study = optuna.create_study(directions=problem.objective.directions, sampler=sampler)
    t0 = time.perf_counter()
    study.optimize(problem, n_trials=n_trials)
    wall = time.perf_counter() - t0
    trials = study.trials
    budgets = [b for b in BUDGETS if b <= n_trials] or [n_trials]
    tail = range(max(0, n_trials - 20), n_trials)
    return {
        "space": problem.name, "sampler": sampler_name, "seed": seed, "trials": n_trials,
        "hv": {str(b): float(problem.hv(trials[:b])) for b in budgets},
        "infeasible": {str(b): sum(any(v > 0 for v in t.constraints.values()) for t in trials[:b])
                       for b in budgets},
        "sampler_cpu_ms_last20": 1e3 * statistics.fmean(cpu_spent[n] for n in tail),
        "sampler_wall_ms_last20": 1e3 * statistics.fmean(wall_spent[n] for n in tail),
        "cost_model_cpu_ms_last20": 1e3 * statistics.fmean(cheap_spent[n] for n in tail),
        "sampler_cpu_ms_mean": 1e3 * statistics.fmean(cpu_spent[n] for n in range(n_trials)),
        "wall_s": wall,
    }


def summarise(results: list[dict[str, Any]]) -> str:
    lines = []
    for space in dict.fromkeys(r["space"] for r in results):
        rows = [r for r in results if r["space"] == space]
        budgets = list(rows[0]["hv"])
        lines.append(f"\n{space} (hardware co-search; median over {len({r['seed'] for r in rows})} seeds)")
        head = ["sampler", *[f"HV@{b}" for b in budgets], f"infeasible@{budgets[-1]}",
                "sampler CPU ms/trial (last 20)", "of which cost model", "wall ms", "run s"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for name in dict.fromkeys(r["sampler"] for r in rows):
            rs = [r for r in rows if r["sampler"] == name]
            med = [statistics.median(r["hv"][b] for r in rs) for b in budgets]
            inf = statistics.median(r["infeasible"][budgets[-1]] for r in rs)
            ms = statistics.median(r["sampler_cpu_ms_last20"] for r in rs)
            wms = statistics.median(r["sampler_wall_ms_last20"] for r in rs)
            cms = statistics.median(r.get("cost_model_cpu_ms_last20", 0.0) for r in rs)
            wall = statistics.median(r["wall_s"] for r in rs)
            lines.append("| " + " | ".join([name, *[f"{v:.4f}" for v in med], f"{inf:g}", f"{ms:.1f}",
                                            f"{cms:.1f}", f"{wms:.1f}", f"{wall:.0f}"]) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spaces", default=",".join(SPACES))
    ap.add_argument("--samplers", default=",".join(SAMPLERS))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0, help="run seeds first-seed .. first-seed + seeds - 1")
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--json", default=None, help="append each run's figures to this JSON-lines file")
    ap.add_argument("--resume", action="store_true", help="skip runs already in --json")
    ap.add_argument("--summarise", nargs="+", metavar="JSONL", help="only print the tables of these files")
    ap.add_argument("--optimum", action="store_true",
                    help="print the best attainable HV of each (finite, small enough) space and exit")
    args = ap.parse_args(argv)
    if args.optimum:
        warnings.filterwarnings("ignore")
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        for space in args.spaces.split(","):
            print(f"{space}: best attainable HV {best_attainable_hv(make_problem(space)):.4f}", flush=True)
        return
    if args.summarise:
        rows = []
        for path in args.summarise:
            with open(path) as fh:
                rows += [json.loads(line) for line in fh if line.strip()]
        print(summarise(sorted(rows, key=lambda r: (list(SPACES).index(r["space"]), r["seed"]))))
        return
    warnings.filterwarnings("ignore")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    done: list[dict[str, Any]] = []
    if args.json and args.resume and os.path.exists(args.json):
        with open(args.json) as fh:
            done = [json.loads(line) for line in fh if line.strip()]
    results = [r for r in done if r["trials"] == args.trials]
    for space in args.spaces.split(","):
        problem = make_problem(space)
        print(f"{space}: reference point (min form) {np.round(problem.ref, 4).tolist()}, "
              f"ideal {np.round(problem.ideal, 4).tolist()}", flush=True)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for name in args.samplers.split(","):
                if any(r["space"] == space and r["sampler"] == name and r["seed"] == seed for r in results):
                    continue
                r = run_one(problem, name, seed, args.trials)
                results.append(r)
                print(f"  {space} {name:10s} seed {seed}: HV {[round(v, 4) for v in r['hv'].values()]} "
                      f"infeasible {list(r['infeasible'].values())} sampler CPU {r['sampler_cpu_ms_last20']:.1f} "
                      f"ms/trial (cost model {r['cost_model_cpu_ms_last20']:.1f}, "
                      f"wall {r['sampler_wall_ms_last20']:.1f}, mean CPU {r['sampler_cpu_ms_mean']:.1f}) "
                      f"run {r['wall_s']:.0f} s", flush=True)
                if args.json:
                    with open(args.json, "a") as fh:
                        fh.write(json.dumps(r) + "\n")
    print(summarise(results))
    if not math.isfinite(sum(r["wall_s"] for r in results)):  # pragma: no cover - defensive
        sys.exit(1)


if __name__ == "__main__":
    main()
