"""Export speed and runtime figures. Prints measured figures; no asserts (targets in the issue / README).

    python benchmarks/bench_export.py [--threads 1] [--epochs 2] [--runs 300] [--keep DIR]

For three CNNs of the search space (a typical small Pareto winner on digits, a mid-size and a large one),
each trained briefly and then exported with INT8 and ORT format through ``nas_edge.export.export_model``:

- export + verification time (dynamo export, ``onnx.checker`` full check, strict shape inference, ORT parity
  on every validation input), target <= 30 s, and the whole pipeline without training (with latency
  measurement, INT8, ORT format, cost tables and reports);
- ORT fp32 p50 / PyTorch eager p50 at batch 1 on the same input (target <= 1);
- INT8 p50 / fp32 p50 at batch 1 (from the export) and at batch 64 (measured here), target <= 0.8 where the
  model has enough conv/GEMM work; INT8 accuracy drop (target <= 1 point on digits);
- the latency a host-calibrated digital profile estimates, against the ORT measurement.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def models() -> dict[str, object]:
    from nas_edge.spaces import CNNArchitecture, Stage

    return {
        "small winner": CNNArchitecture(resolution=8, stem_width=8, stages=(
            Stage("dense", 2, 16, 3, 1, False), Stage("mbconv", 2, 16, 7, 1, False),
            Stage("dense", 1, 24, 5, 1, False))),
        "mid": CNNArchitecture(resolution=12, stem_width=16, stages=(
            Stage("dense", 2, 24, 3, 1, False), Stage("residual", 2, 48, 3, 1, False),
            Stage("dense", 2, 96, 3, 1, False))),
        "large": CNNArchitecture(resolution=16, stem_width=32, stages=(
            Stage("residual", 2, 64, 3, 1, False), Stage("residual", 2, 128, 3, 1, False),
            Stage("residual", 2, 192, 3, 1, False))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="ORT / PyTorch threads for latency")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs before export (not timed)")
    parser.add_argument("--runs", type=int, default=300, help="timed runs per latency figure")
    parser.add_argument("--keep", default=None, help="keep the exports in this folder")
    args = parser.parse_args()

    import torch

    from nas_edge.evaluate import TrainConfig, load_data
    from nas_edge.export import ExportOptions, export_model
    from nas_edge.export._verify import measure, session
    from nas_edge.spaces import create_space

    space = create_space("cnn")
    data = load_data("digits")
    out = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-export-"))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}; torch {torch.__version__}; threads {args.threads}")
    rows = []
    for name, arch in models().items():
        torch.manual_seed(0)
        model = space.build(arch)
        opts = ExportOptions(quantize="int8", ort_format=True, threads=args.threads, runs=args.runs, warmup=30,
                             hardware=("neurosim-rram-22nm",))
        t0 = time.perf_counter()
        res = export_model(model, data, out, name=name.replace(" ", "-"), options=opts,
                           train=TrainConfig(epochs=args.epochs, seed=0))
        wall = time.perf_counter() - t0
        r = res.record
        v, lat, q = r["verification"], r["latency"], r["quantization"]
        x64 = np.ascontiguousarray(data.x_val[:64])
        batch64 = {}
        for f in ("model.onnx", "model.int8.onnx"):
            s = session(res.dir / f, args.threads)
            batch64[f] = measure(lambda s=s, x=x64: s.run(None, {"input": x}), warmup=10, runs=max(30, args.runs // 5))
        rows.append({
            "model": name, "macs": r["model"]["macs"], "params": r["model"]["params"],
            "export_s": v["export_seconds"], "verify_s": v["verify_seconds"],
            "pipeline_s": wall - r["training"]["seconds"],
            "ort_p50": lat["ort_fp32"]["p50_ms"], "torch_p50": lat["torch_eager"]["p50_ms"],
            "ratio": lat["ort_over_torch_p50"], "int8_p50": q["latency"]["p50_ms"], "int8_ratio": q["latency_ratio"],
            "int8_ratio_b64": batch64["model.int8.onnx"]["p50_ms"] / batch64["model.onnx"]["p50_ms"],
            "b64_fp32": batch64["model.onnx"]["p50_ms"], "b64_int8": batch64["model.int8.onnx"]["p50_ms"],
            "acc": r["accuracy"]["onnx_fp32"], "acc_int8": q["accuracy"], "drop": q["accuracy_drop_points"],
            "size": r["model"]["bytes"], "size_int8": q["bytes"], "parity": v["parity"]["max_abs_diff"],
            "est": r["host_estimate"]["estimated_ms"], "est_ratio": r["host_estimate"]["ratio_estimated_over_measured"],
        })
        print(f"  {name}: done in {wall:.1f} s (training {r['training']['seconds']:.1f} s)", flush=True)

    head = ("model", "MACs", "params", "export+verify s", "pipeline s (no training)", "ORT p50 ms",
            "PyTorch p50 ms", "ORT/PyTorch", "INT8 p50 ms", "INT8/fp32 b1", "INT8/fp32 b64 (ms)", "acc fp32",
            "acc INT8", "size fp32 -> INT8", "parity", "host estimate ms (est/measured)")
    print("\n| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for x in rows:
        print(f"| {x['model']} | {x['macs']:.3g} | {x['params']:,} | {x['export_s'] + x['verify_s']:.1f} "
              f"({x['export_s']:.1f} + {x['verify_s']:.1f}) | {x['pipeline_s']:.1f} | {x['ort_p50']:.3f} | "
              f"{x['torch_p50']:.3f} | {x['ratio']:.3f} | {x['int8_p50']:.3f} | {x['int8_ratio']:.2f} | "
              f"{x['int8_ratio_b64']:.2f} ({x['b64_fp32']:.2f} -> {x['b64_int8']:.2f}) | {x['acc']:.4f} | "
              f"{x['acc_int8']:.4f} ({x['drop']:+.2f} pt) | {x['size'] / 1024:.0f} -> {x['size_int8'] / 1024:.0f} KiB "
              f"| {x['parity']:.1e} | {x['est']:.3f} ({x['est_ratio']:.2f}) |")
    print("\ntargets: export+verify <= 30 s; ORT/PyTorch <= 1; INT8/fp32 <= 0.8 with enough conv/GEMM work; "
          "INT8 drop <= 1 point")
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
