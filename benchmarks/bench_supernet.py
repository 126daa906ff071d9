"""How good a proxy is a supernet? Inherited vs stand-alone accuracy of random architectures on digits.

    .venv/bin/python benchmarks/bench_supernet.py                       # both spaces, 30 architectures each
    .venv/bin/python benchmarks/bench_supernet.py --spaces cnn --epochs 20 --archs 30 --ceiling

For each space: ``--archs`` architectures drawn uniformly (seeded), each trained alone with the search's own
training (``train_and_evaluate``, ``TrainConfig(epochs=12)``, torch seeded before ``build``) — cached in
``benchmarks/results/bench_supernet_standalone.jsonl`` so that reruns only pay for the supernet; one
supernet trained with ``train_supernet``; every architecture scored by ``SupernetScorer`` (inherited
weights, batch norms recalibrated). Printed: Kendall tau between the two accuracies, top-5 overlap, the
stand-alone accuracy of the supernet's best pick against the best stand-alone one, the wall time of the
supernet training against the stand-alone trainings of the same architectures, and the median time of one
subnet evaluation. ``--ceiling`` also trains every architecture alone with a second seed: the tau between
two stand-alone seeds is the most any proxy can reach on this data. One torch thread throughout.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from scipy.stats import kendalltau

from nas_edge.evaluate import TrainConfig, load_data, train_and_evaluate
from nas_edge.spaces import Architecture, create_space
from nas_edge.supernet import SupernetConfig, SupernetScorer, train_supernet

RESULTS = Path(__file__).parent / "results"
CACHE = RESULTS / "bench_supernet_standalone.jsonl"


def standalone(space, arch: Architecture, data, seed: int, cache: dict) -> dict:
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


def run_space(name: str, args: argparse.Namespace, cache: dict) -> dict:
    data = load_data("digits")
    space = create_space(name, **data.space_kwargs())
    rng = np.random.default_rng(args.seed)
    archs = [space.sample(rng) for _ in range(args.archs)]
    alone = [standalone(space, a, data, 0, cache) for a in archs]
    acc_alone = np.array([r["accuracy"] for r in alone])
    if args.standalone_only:
        seeds = [[standalone(space, a, data, 1, cache)["accuracy"] for a in archs]] if args.ceiling else []
        return {"space": name, "standalone": [round(v, 4) for v in acc_alone], "seed1": seeds}
    out = Path(args.out) / f"supernet-{name}-e{args.epochs}-s{args.sandwich}-lr{args.lr:g}-w{args.warmup:g}.pt"
    t0 = time.perf_counter()
    cfg = SupernetConfig(epochs=args.epochs, sandwich=args.sandwich, threads=1, device="cpu", lr=args.lr,
                         warmup=args.warmup, checkpoint_seconds=600)
    result = train_supernet(space, data, cfg, out=out)
    train_s = result.seconds if result.already_finished else time.perf_counter() - t0
    evaluator = SupernetScorer(out, device="cpu", calibration_samples=args.calibration)
    evaluator(archs[0], data)  # warm-up
    times, acc_inh = [], []
    for a in archs:
        t = time.perf_counter()
        acc_inh.append(evaluator(a, data)["accuracy"])
        times.append(time.perf_counter() - t)
    acc_inh = np.array(acc_inh)
    tau = kendalltau(acc_inh, acc_alone).statistic
    best_pick = float(acc_alone[int(np.argmax(acc_inh))])
    row = {"space": name, "archs": len(archs), "epochs": args.epochs, "sandwich": args.sandwich, "lr": args.lr,
           "warmup": args.warmup,
           "kendall_tau": round(float(tau), 3), "top5_overlap": top_k_overlap(acc_inh, acc_alone),
           "best_standalone": round(float(acc_alone.max()), 4), "supernet_pick_standalone": round(best_pick, 4),
           "gap_points": round(100 * (float(acc_alone.max()) - best_pick), 2),
           "supernet_train_s": round(train_s, 1), "standalone_train_s": round(sum(r["seconds"] for r in alone), 1),
           "eval_median_ms": round(1000 * float(np.median(times)), 1),
           "inherited_mean": round(float(acc_inh.mean()), 4), "standalone_mean": round(float(acc_alone.mean()), 4),
           "load": [round(v, 2) for v in os.getloadavg()]}
    if args.ceiling:
        acc_seed1 = np.array([standalone(space, a, data, 1, cache)["accuracy"] for a in archs])
        row["ceiling_tau_seed0_vs_seed1"] = round(float(kendalltau(acc_seed1, acc_alone).statistic), 3)
        row["tau_inherited_vs_seed_mean"] = round(float(kendalltau(acc_inh, (acc_alone + acc_seed1) / 2).statistic), 3)
    if args.verbose:
        for a, i, s in zip(archs, acc_inh, acc_alone, strict=True):
            print(f"  {a.summary():70s} inherited {i:.4f} alone {s:.4f}")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", default="cnn,transformer")
    parser.add_argument("--archs", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=30, help="supernet training epochs")
    parser.add_argument("--sandwich", type=int, default=2, help="random subnets per step")
    parser.add_argument("--lr", type=float, default=4e-3)
    parser.add_argument("--warmup", type=float, default=0.25, help="fraction of epochs on the largest subnet")
    parser.add_argument("--calibration", type=int, default=256, help="batch-norm recalibration samples")
    parser.add_argument("--seed", type=int, default=0, help="seed of the architecture draw")
    parser.add_argument("--ceiling", action="store_true", help="also train alone with a second seed")
    parser.add_argument("--out", default="/tmp/nas-edge-bench-supernet", help="folder for the supernets")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--standalone-only", action="store_true", help="only fill the stand-alone cache")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cache = load_cache()
    print(f"uptime load average at start: {os.getloadavg()}")
    for name in args.spaces.split(","):
        print(json.dumps(run_space(name, args, cache)), flush=True)


if __name__ == "__main__":
    main()
