"""Edge estimates checked against reality: calibrated-profile latency vs ONNX Runtime measured latency.

1. Calibrate this machine (``nas_edge.hardware.calibrate``; or ``--profile FILE`` to reuse one).
2. Build well-known CNNs and transformers (``nas_edge.models``, random weights), export each to ONNX.
3. Measure each in ONNX Runtime (same thread count, warm-up, median) and estimate it with
   ``profile_onnx(model, calibrated_profile)``; print the error per model, the median absolute error and the
   worst ratio. Target: median |error| <= 25 %, worst case within 2x.

    .venv/bin/python benchmarks/bench_edge_estimate.py [--threads N] [--profile FILE] [--legacy] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

# (registry name, overrides, input shape without batch, label)
MODELS = [
    ("resnet18", {}, (3, 224, 224), "ResNet-18 224"),
    ("resnet50", {}, (3, 224, 224), "ResNet-50 224"),
    ("mobilenet_v2", {}, (3, 224, 224), "MobileNetV2 224"),
    ("vgg8", {}, (3, 32, 32), "VGG-8 CIFAR 32"),
    ("bert_mini", {}, (128,), "BERT-mini L4 H256 S128"),
    ("bert_mini", {"hidden": 512, "heads": 8}, (128,), "BERT-small L4 H512 S128"),
    ("vit_ti16", {}, (3, 224, 224), "ViT-Ti/16 224"),
]


def export(name: str, overrides: dict, shape: tuple[int, ...], path: Path, legacy: bool) -> None:
    import torch

    from nas_edge.models import create_model, example_input

    model = create_model(name, **overrides)
    x = example_input(name, shape=shape)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if legacy:
            torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=17)
        else:
            torch.onnx.export(model, (x,), str(path), dynamo=True, verbose=False)


def measure(path: Path, threads: int, seconds: float, clock: str) -> float:
    """Median ONNX Runtime latency in ms (inference defaults: all graph optimisations)."""
    import numpy as np

    from nas_edge.hardware.calibrate import session, time_session

    sess = session(str(path), threads)
    feeds = {}
    for inp in sess.get_inputs():
        dims = [d if isinstance(d, int) else 1 for d in inp.shape]
        if "int" in inp.type:
            feeds[inp.name] = np.random.default_rng(0).integers(0, 1000, dims).astype(np.int64)
        else:
            feeds[inp.name] = np.random.default_rng(0).standard_normal(dims).astype(np.float32)
    sec, _ = time_session(sess, feeds, min_time=seconds, min_runs=10, warmup=5, blocks=5, clock=clock)
    return sec * 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (default 1)")
    ap.add_argument("--profile", help="use this calibrated profile instead of calibrating now")
    ap.add_argument("--legacy", action="store_true", help="export with the TorchScript exporter")
    ap.add_argument("--quick", action="store_true", help="quick calibration, shorter timing")
    ap.add_argument("--save-profile", help="write the calibrated profile here")
    ap.add_argument("--passes", type=int, default=2, help="measure every model this many times, keep the fastest")
    ap.add_argument("--clock", choices=("wall", "thread"), default=None,
                    help="wall clock, or the inference thread's CPU time (default: thread with 1 thread, else wall)")
    args = ap.parse_args()
    clock = args.clock or ("thread" if args.threads == 1 else "wall")

    from nas_edge.hardware import load_profile
    from nas_edge.hardware.calibrate import calibrate, write_profile
    from nas_edge.profiling import profile_onnx

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {args.threads} ORT thread(s), {clock} clock, "
          f"load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}")
    if args.profile:
        prof = load_profile(args.profile)
    else:
        t0 = time.perf_counter()
        cal = calibrate(threads=args.threads, quick=args.quick, repeat=1 if args.quick else 2, clock=clock)
        if args.save_profile:
            write_profile(cal, args.save_profile)
        from nas_edge.hardware import profile_from_dict

        prof = profile_from_dict(cal.profile)
        print(f"calibrated in {time.perf_counter() - t0:.1f} s: {prof.peak_gmacs_per_s:g} GMAC/s peak, "
              f"{prof.bandwidth_gb_per_s:g} GB/s, {prof.layer_overhead_ns:g} ns/op, eff {prof.efficiency}")
    seconds = 0.2 if args.quick else 0.5
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, overrides, shape, label in MODELS:
            path = Path(tmp) / f"{label.split()[0].replace('/', '_')}.onnx"
            export(name, overrides, shape, path, args.legacy)
            paths.append(path)
        measured = [measure(p, args.threads, seconds, clock) for p in paths]
        for _ in range(args.passes - 1):  # spread each model's runs over time: neighbours come and go
            measured = [min(old, measure(p, args.threads, seconds, clock))
                        for old, p in zip(measured, paths, strict=True)]
        for (_name, _o, _s, label), path, ms in zip(MODELS, paths, measured, strict=True):
            res = profile_onnx(path, prof)
            est = res.hardware[0].totals["latency_ms"]
            rows.append((label, res.workload.total_macs, len(res.workload), ms, est))
            print(f"  {label:26s} {res.workload.total_macs / 1e9:7.3f} GMACs {len(res.workload):4d} rows  "
                  f"measured {ms:8.3f} ms  estimated {est:8.3f} ms  error {(est - ms) / ms:+7.1%}", flush=True)
    errors = [abs(e - m) / m for _, _, _, m, e in rows]
    ratios = [max(e / m, m / e) for _, _, _, m, e in rows]
    print(f"median |error| {statistics.median(errors):.1%} (target <= 25 %), worst ratio {max(ratios):.2f}x "
          f"(target <= 2x), mean |error| {statistics.mean(errors):.1%} over {len(rows)} models; "
          f"load average now {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
