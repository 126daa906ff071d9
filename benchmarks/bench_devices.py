"""Training and evaluation throughput on each device torch sees, side by side: the CPU always, CUDA and MPS
when present. The same code paths as the product (``train_and_evaluate``, ``train_supernet``,
``SupernetScorer``) on digits.

    .venv/bin/python benchmarks/bench_devices.py              # --threads 1 --epochs 2
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from nas_edge.evaluate import TrainConfig, load_data, train_and_evaluate
from nas_edge.spaces import create_space
from nas_edge.supernet import SupernetConfig, SupernetScorer, train_supernet

ARCHS = {  # a mid-sized network of each space
    "cnn": {"cnn_resolution": 12, "cnn_stem_width": 16, **{f"cnn_s{i}_{k}": v for i, w in enumerate((16, 32, 64))
                                                          for k, v in (("block", "mbconv"), ("depth", 2),
                                                                       ("width", w), ("kernel", 5), ("expand", 4),
                                                                       ("se", True))}},
    "transformer": {"vit_patch": 2, "vit_embed": 64, "vit_depth": 3, "vit_heads": 4, "vit_mlp_ratio": 2},
}


def devices() -> list[str]:
    out = ["cpu"]
    if torch.cuda.is_available():
        out.append("cuda")
    if hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
        out.append("mps")
    return out


def measure(device: str, epochs: int, tmp: Path) -> dict[str, float]:
    data = load_data("digits")
    row: dict[str, float] = {}
    for name, params in ARCHS.items():
        space = create_space(name, **data.space_kwargs())
        torch.manual_seed(0)
        model = space.build(space.from_params(params))
        train_and_evaluate(model, data, TrainConfig(epochs=1, device=device, threads=None))  # warm-up
        res = train_and_evaluate(model, data, TrainConfig(epochs=epochs, device=device, threads=None))
        row[f"{name} train samples/s"] = epochs * len(data.y_train) / res.seconds
        path = tmp / f"{name}-{device}.pt"
        t0 = time.perf_counter()
        train_supernet(space, data, SupernetConfig(epochs=1, max_train_samples=512, device=device,
                                                   checkpoint_seconds=3600, warmup=0.0), out=path)
        row[f"{name} supernet steps/s"] = (512 // 64) / (time.perf_counter() - t0)
        evaluator = SupernetScorer(path, device=device, threads=None)
        rng = np.random.default_rng(0)
        archs = [space.sample(rng) for _ in range(11)]
        times = []
        for arch in archs:
            t = time.perf_counter()
            evaluator(arch, data)
            times.append(time.perf_counter() - t)
        row[f"{name} subnet eval ms"] = 1000 * float(np.median(times[1:]))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads on the CPU")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} CPU thread(s), load average {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        rows = {d: measure(d, args.epochs, Path(tmp)) for d in devices()}
    keys = list(next(iter(rows.values())))
    print("| figure | " + " | ".join(rows) + " |")
    print("|---|" + "---|" * len(rows))
    for k in keys:
        print(f"| {k} | " + " | ".join(f"{rows[d][k]:.1f}" for d in rows) + " |")


if __name__ == "__main__":
    main()
