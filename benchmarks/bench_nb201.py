"""Benchmark: the NAS-Bench-201 x IMC benchmark (``nas_edge.bench``): parameter counts, table time, findings,
and samplers against the exact optimum.

    python benchmarks/bench_nb201.py params      # all 15,625 cells x 3 datasets vs model_size; lists the 204
    python benchmarks/bench_nb201.py table       # time `bench table` on every built-in profile
    python benchmarks/bench_nb201.py findings    # the four findings of benchmarks/README.md
    python benchmarks/bench_nb201.py samplers --seeds 10 --trials 100 [--samplers ...] [--json FILE]

Timings print the load average beside them (a shared 2-core machine is noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from nas_edge.bench import load
from nas_edge.bench.costs import cell_costs, cell_networks
from nas_edge.spaces import NB201Architecture, create_space
from nas_edge.spaces.nb201 import N_CELLS, arch_string, ops_of_index

PROBLEMS = {  # objectives, profile, accuracy per network (mean over its cells) instead of per cell
    "hwt30d-energy-latency-rram": (["anb_hwt_30d", "energy_uj", "latency_ms"], "neurosim-rram-22nm", False),
    "cifar10-energy-pcm": (["nb201_cifar10", "energy_uj"], "pcm-aihwkit-14nm", False),
    "hwt30d-energy-latency-rram-per-network": (["anb_hwt_30d", "energy_uj", "latency_ms"], "neurosim-rram-22nm",
                                               True),
    "cifar10-energy-pcm-per-network": (["nb201_cifar10", "energy_uj"], "pcm-aihwkit-14nm", True),
}


def load_avg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def cmd_params() -> None:
    data = load()
    t0 = time.perf_counter()
    for dataset, shape, classes in (("cifar10", (3, 32, 32), 10), ("cifar100", (3, 32, 32), 100),
                                    ("imagenet16", (3, 16, 16), 120)):
        space = create_space("nb201", input_shape=shape, num_classes=classes)
        recs = data.model_size[dataset]
        ours = [space.param_count(NB201Architecture.from_index(i)) for i in range(N_CELLS)]
        bad = [i for i in range(N_CELLS) if round(ours[i] * 1e-6, 6) not in recs[i]]
        first = sum(round(ours[i] * 1e-6, 6) == recs[i][0] for i in range(N_CELLS))
        print(f"{dataset}: {N_CELLS - len(bad)}/{N_CELLS} cells equal a model_size record; "
              f"{first} equal the first record; mismatches: {bad}")
    dis = data.disagreeing_cells()
    print(f"{len(dis)} cells whose per-seed model_size records disagree (checked in {time.perf_counter() - t0:.1f} s):")
    for i in dis:
        print(f"  {i:5d} {arch_string(ops_of_index(i))} records {data.model_size['cifar10'][i]}")


def cmd_table() -> None:
    from nas_edge.bench.table import build_table

    load()
    t0 = time.perf_counter()
    nets = cell_networks()
    t1 = time.perf_counter()
    table = build_table()
    t2 = time.perf_counter()
    header = table.write("/tmp/nb201_bench_table.csv")
    t3 = time.perf_counter()
    print(f"workloads of the {len(nets)} distinct networks of the {N_CELLS} cells ({len(nets.packed.columns[0])} "
          f"rows): {t1 - t0:.1f} s; table on "
          f"{len(header['profiles'])} profiles: {t2 - t1:.1f} s; CSV write {t3 - t2:.1f} s; total {t3 - t0:.1f} s "
          f"(data already loaded; {load_avg()})")


def _front(acc: np.ndarray, energy: np.ndarray) -> set[int]:
    from nas_edge.samplers import pareto_mask

    return set(np.flatnonzero(pareto_mask(np.stack([-acc, energy], axis=1))).tolist())


def _variant(base: str, name: str, **changes: dict) -> object:
    from nas_edge.hardware.loader import load_profile, profile_from_dict, profile_to_dict

    d = profile_to_dict(load_profile(base))
    for key, value in changes.items():
        d[key] = {**d[key], **value}
    d["name"] = name
    return profile_from_dict(d)


def cmd_findings() -> None:
    from scipy.stats import kendalltau

    data = load()
    digital, hwt30, nohwt30 = data.column("anb_digital"), data.column("anb_hwt_30d"), data.column("anb_nohwt_30d")
    bd, bh = int(np.argmax(digital)), int(np.argmax(hwt30))
    rank = int((hwt30 > hwt30[bd]).sum()) + 1
    print("1. best digital cell vs best after 30 days of drift (AnalogNAS-Bench, CIFAR-10 test %):")
    print(f"   best digital   {arch_string(ops_of_index(bd))}: digital {digital[bd]:.2f}, HWT 30 d {hwt30[bd]:.2f} "
          f"(rank {rank} of {N_CELLS}), no-HWT 30 d {nohwt30[bd]:.2f}")
    print(f"   best HWT 30 d  {arch_string(ops_of_index(bh))}: digital {digital[bh]:.2f}, HWT 30 d {hwt30[bh]:.2f}, "
          f"no-HWT 30 d {nohwt30[bh]:.2f}; gap {hwt30[bh] - hwt30[bd]:.2f} points")
    bn = int(np.argmax(nohwt30))
    print(f"   best no-HWT 30 d {arch_string(ops_of_index(bn))}: {nohwt30[bn]:.2f} "
          f"(the digital best: {nohwt30[bd]:.2f})")

    chips = ["neurosim-rram-22nm", "neurosim-sram-22nm", "pcm-aihwkit-14nm", "mobile-cpu-a78"]
    costs = cell_costs(chips)
    fronts = {c: _front(hwt30, costs.column("energy_uj", c)) for c in chips}
    print("2. Pareto fronts (max HWT 30 d accuracy, min energy) per chip: size, energy span, shared cells:")
    for c in chips:
        e = costs.column("energy_uj", c)[sorted(fronts[c])]
        print(f"   {c:20s} {len(fronts[c]):3d} cells, energy {e.min():.3g} .. {e.max():.3g} uJ")
    for a, b in [(chips[0], chips[1]), (chips[0], chips[2]), (chips[0], chips[3]), (chips[2], chips[3])]:
        inter, union = fronts[a] & fronts[b], fronts[a] | fronts[b]
        tau = kendalltau(costs.column("energy_uj", a), costs.column("energy_uj", b)).statistic
        print(f"   {a} vs {b}: {len(inter)} shared front cells of {len(union)} "
              f"(Jaccard {len(inter) / len(union):.2f}); Kendall tau of energy over all cells {tau:.3f}")

    base = "neurosim-rram-22nm"
    variants = [_variant(base, f"rram-adc{b}", adc={"bits": b}) for b in (3, 5, 6, 8)]
    variants += [_variant(base, f"rram-{r}x{r}", array={"rows": r, "cols": r, "rows_parallel": min(r, 32)})
                 for r in (64, 256, 512)]
    vcosts = cell_costs([base, *variants])
    e0 = vcosts.column("energy_uj", base)
    f0 = _front(hwt30, e0)
    print("3. co-search knobs on neurosim-rram-22nm (4-bit ADC, 128x128): energy ranking and front vs the base chip:")
    for v in variants:
        ev = vcosts.column("energy_uj", v.name)
        fv = _front(hwt30, ev)
        tau = kendalltau(e0, ev).statistic
        lat = kendalltau(vcosts.column("latency_ms", base), vcosts.column("latency_ms", v.name)).statistic
        print(f"   {v.name:14s} energy x{np.median(ev / e0):.2f} (median), Kendall tau energy {tau:.3f}, latency "
              f"{lat:.3f}; front {len(fv)} cells, {len(fv & f0)} shared with the base ({len(f0)})")

    e = costs.column("energy_uj", base)
    print("4. hardware-aware pick vs digital-accuracy pick at equal energy (neurosim-rram-22nm, HWT 30 d %):")
    for q in (10, 25, 50, 75, 100):
        budget = np.percentile(e, q)
        ok = np.flatnonzero(e <= budget)
        pd_, ph = ok[np.argmax(digital[ok])], ok[np.argmax(hwt30[ok])]
        print(f"   energy <= {budget:7.3f} uJ (p{q:3d}): digital pick {hwt30[pd_]:.2f} (digital {digital[pd_]:.2f}), "
              f"HW-aware pick {hwt30[ph]:.2f} (digital {digital[ph]:.2f}); +{hwt30[ph] - hwt30[pd_]:.2f} points")


def cmd_samplers(args: argparse.Namespace) -> None:
    from nas_edge.bench.problem import make_problem
    from nas_edge.bench.run import markdown, run

    for key in args.problems.split(","):
        objectives, profile, per_network = PROBLEMS[key]
        problem = make_problem(objectives, profile, per_network=per_network)
        t0 = time.perf_counter()
        results = run(problem, args.samplers.split(","), range(args.seeds), args.trials, jobs=args.jobs)
        wall = time.perf_counter() - t0
        if args.json:
            with open(args.json, "a") as fh:
                for r in results:
                    fh.write(json.dumps({"problem": key, **r}) + "\n")
        print(markdown(results, [50, 100] if args.trials >= 100 else [args.trials],
                       f"{key}: {problem.describe()}; front {len(problem.pareto_cells())} cells"))
        print(f"{len(results)} runs ({args.samplers}; {args.seeds} seeds x {args.trials} trials, {args.jobs} jobs) "
              f"in {wall:.0f} s ({load_avg()})\n", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("params", "table", "findings", "samplers"))
    ap.add_argument("--problems", default=",".join(PROBLEMS))
    ap.add_argument("--samplers", default="random,tpe,nsga2,nsga3,qmc,hw")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    {"params": cmd_params, "table": cmd_table, "findings": cmd_findings}.get(args.what, lambda: cmd_samplers(args))()


if __name__ == "__main__":
    main()
