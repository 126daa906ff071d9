"""How good a proxy is a supernet? Inherited vs stand-alone accuracy of random architectures on digits.

    .venv/bin/python benchmarks/bench_supernet.py                        # both spaces, 30 architectures each
    .venv/bin/python benchmarks/bench_supernet.py --spaces cnn --ceiling --search 1000

For each space: ``--archs`` architectures drawn uniformly (seeded), each trained alone with the search's own
training (``train_and_evaluate``, ``TrainConfig(epochs=12)``, torch seeded before ``build``) — cached in
``benchmarks/results/bench_supernet_standalone.jsonl`` so that reruns only pay for what is new; one
supernet trained with ``train_supernet`` (kept in ``--out``: a rerun reuses a finished one and reports its
recorded training time); every architecture scored by ``SupernetScorer`` (inherited weights, batch norms
recalibrated on each of ``--calibration`` sample counts). Printed, one JSON line per space: Kendall tau between
the two accuracies, top-5 overlap, the stand-alone accuracy of the supernet's best pick against the best
stand-alone one, the wall time of the supernet training against the stand-alone trainings of the same
architectures, and the median time of one subnet evaluation.

``--ceiling`` also trains every architecture alone with a second seed: the tau between two stand-alone seeds
bounds what any proxy can reach on this data. ``--search N`` runs an N-trial random search through
``nas_edge.Objective`` with the ``supernet`` evaluator under ``energy_uj`` <= the energy (on
neurosim-rram-22nm) of the best stand-alone architecture above, retrains its pick alone and reports the gap.
One torch thread throughout; the load average is printed beside every timing.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from scipy.stats import kendalltau

from nas_edge.cost import estimate
from nas_edge.evaluate import Data, TrainConfig, load_data, train_and_evaluate
from nas_edge.spaces import Architecture, NetworkSpace, create_space
from nas_edge.supernet import SupernetConfig, SupernetEvaluator, SupernetScorer, train_supernet

RESULTS = Path(__file__).parent / "results"
CACHE = RESULTS / "bench_supernet_standalone.jsonl"
HARDWARE = "neurosim-rram-22nm"


def standalone(space: NetworkSpace, arch: Architecture, data: Data, seed: int, cache: dict) -> dict:
    training = TrainConfig(epochs=12, seed=seed, device="cpu")
    key = json.dumps({"arch": arch.to_dict(), "training": training.describe(), "seed": seed,
                      "data": data.fingerprint[:16]}, sort_keys=True)
    if key not in cache:
        torch.manual_seed(seed)
        res = train_and_evaluate(space.build(arch), data, training)
        cache[key] = {"accuracy": res.accuracy, "seconds": res.seconds, "load": os.getloadavg()[0]}
        RESULTS.mkdir(exist_ok=True)
        with CACHE.open("a") as fh:
            fh.write(json.dumps({"key": key, **cache[key]}) + "\n")
    return cache[key]


def load_cache() -> dict:
    if not CACHE.exists():
        return {}
    return {row["key"]: row for row in map(json.loads, CACHE.read_text().splitlines())}


def top_k_overlap(a: np.ndarray, b: np.ndarray, k: int = 5) -> int:
    return len(set(np.argsort(-a)[:k]) & set(np.argsort(-b)[:k]))


def tau(a: np.ndarray, b: np.ndarray) -> float:
    return round(float(kendalltau(a, b).statistic), 3)


def train(space: NetworkSpace, data: Data, args: argparse.Namespace) -> tuple[Path, float]:
    out = Path(args.out) / f"supernet-{space.name}-e{args.epochs}-s{args.sandwich}-lr{args.lr:g}-w{args.warmup:g}.pt"
    t0 = time.perf_counter()
    cfg = SupernetConfig(epochs=args.epochs, sandwich=args.sandwich, threads=1, device="cpu", lr=args.lr,
                         warmup=args.warmup, checkpoint_seconds=600)
    result = train_supernet(space, data, cfg, out=out)
    return out, result.seconds if result.already_finished else time.perf_counter() - t0


def inherited(path: Path, archs: list[Architecture], data: Data, calibration: int) -> tuple[np.ndarray, float]:
    """Inherited accuracies and the median evaluation time (ms)."""
    scorer = SupernetScorer(path, device="cpu", calibration_samples=calibration)
    scorer(archs[0], data)  # warm-up
    accs, times = [], []
    for a in archs:
        t = time.perf_counter()
        accs.append(scorer(a, data)["accuracy"])
        times.append(time.perf_counter() - t)
    return np.array(accs), 1000 * float(np.median(times))


def search(space: NetworkSpace, data: Data, path: Path, archs: list[Architecture], acc_alone: np.ndarray,
           args: argparse.Namespace, cache: dict) -> dict[str, Any]:
    """An N-trial random search with the supernet evaluator at <= the energy of the best stand-alone pick."""
    import optuna

    from nas_edge.search import Objective
    from nas_edge.search.constraints import trial_feasible

    energy = [estimate(space.layers(a), HARDWARE).totals for a in archs]
    fits = [i for i, t in enumerate(energy) if t["fits"]]
    best = max(fits, key=lambda i: acc_alone[i])
    limit = float(energy[best]["energy_uj"])
    objective = Objective(space, HARDWARE, data, objectives=("accuracy",), constraints={"energy_uj": limit},
                          evaluator=SupernetEvaluator(path, device="cpu"))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = objective.create_study(sampler=optuna.samplers.RandomSampler(seed=args.seed + 1))
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=args.search)
    seconds = time.perf_counter() - t0
    feasible = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE and trial_feasible(t)]
    pick = max(feasible, key=lambda t: t.values[0])
    arch = space.arch_type.from_dict(pick.user_attrs["arch"])
    retrained = standalone(space, arch, data, 0, cache)["accuracy"]
    return {"search_trials": args.search, "search_s": round(seconds, 1), "energy_limit_uj": round(limit, 4),
            "feasible_trials": len(feasible), "pick": arch.summary(), "pick_inherited": round(pick.values[0], 4),
            "pick_standalone": round(retrained, 4), "best_of_archs_standalone": round(float(acc_alone[best]), 4),
            "search_gap_points": round(100 * (float(acc_alone[best]) - retrained), 2)}


def run_space(name: str, args: argparse.Namespace, cache: dict) -> dict[str, Any]:
    data = load_data("digits")
    space = create_space(name, **data.space_kwargs())
    assert isinstance(space, NetworkSpace)
    rng = np.random.default_rng(args.seed)
    archs = [space.sample(rng) for _ in range(args.archs)]
    alone = [standalone(space, a, data, 0, cache) for a in archs]
    acc_alone = np.array([r["accuracy"] for r in alone])
    acc_seed1 = np.array([standalone(space, a, data, 1, cache)["accuracy"] for a in archs]) if args.ceiling else None
    if args.standalone_only:
        return {"space": name, "standalone": acc_alone.round(4).tolist()}
    path, train_s = train(space, data, args)
    row: dict[str, Any] = {"space": name, "archs": len(archs), "epochs": args.epochs, "sandwich": args.sandwich,
                           "lr": args.lr, "warmup": args.warmup, "supernet_train_s": round(train_s, 1),
                           "standalone_train_s": round(sum(r["seconds"] for r in alone), 1),
                           "standalone_mean": round(float(acc_alone.mean()), 4),
                           "best_standalone": round(float(acc_alone.max()), 4)}
    if acc_seed1 is not None:
        row["ceiling_tau_seed0_vs_seed1"] = tau(acc_seed1, acc_alone)
    for calibration in (int(c) for c in args.calibration.split(",")):
        acc_inh, eval_ms = inherited(path, archs, data, calibration)
        best_pick = float(acc_alone[int(np.argmax(acc_inh))])
        row[f"cal{calibration}"] = {
            "kendall_tau": tau(acc_inh, acc_alone), "top5_overlap": top_k_overlap(acc_inh, acc_alone),
            "supernet_pick_standalone": round(best_pick, 4),
            "gap_points": round(100 * (float(acc_alone.max()) - best_pick), 2),
            "eval_median_ms": round(eval_ms, 1), "inherited_mean": round(float(acc_inh.mean()), 4),
            "inherited_range": [round(float(acc_inh.min()), 4), round(float(acc_inh.max()), 4)]}
        if acc_seed1 is not None:
            row[f"cal{calibration}"]["tau_vs_mean_of_seeds"] = tau(acc_inh, (acc_alone + acc_seed1) / 2)
        if args.verbose:
            for a, i, s in zip(archs, acc_inh, acc_alone, strict=True):
                print(f"  {a.summary():70s} inherited {i:.4f} alone {s:.4f}")
    if args.search:
        row.update(search(space, data, path, archs, acc_alone, args, cache))
    row["load"] = [round(v, 2) for v in os.getloadavg()]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", default="cnn,transformer")
    parser.add_argument("--archs", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=30, help="supernet training epochs")
    parser.add_argument("--sandwich", type=int, default=2, help="random subnets per step")
    parser.add_argument("--lr", type=float, default=4e-3)
    parser.add_argument("--warmup", type=float, default=0.25, help="fraction of epochs on the largest subnet")
    parser.add_argument("--calibration", default="256", help="batch-norm recalibration samples (comma-separated)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the architecture draw")
    parser.add_argument("--ceiling", action="store_true", help="also train alone with a second seed")
    parser.add_argument("--search", type=int, default=0, help="trials of a supernet search (0: none)")
    parser.add_argument("--out", default="/tmp/nas-edge-bench-supernet", help="folder for the supernets")
    parser.add_argument("--standalone-only", action="store_true", help="only fill the stand-alone cache")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cache = load_cache()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    for name in args.spaces.split(","):
        print(json.dumps(run_space(name, args, cache)), flush=True)


if __name__ == "__main__":
    main()
