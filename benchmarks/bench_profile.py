"""Speed of profiling: a 100-layer ONNX model in a warm process (target <= 1 s) and the ``nas-edge profile``
command from a cold start (target <= 3 s), on this machine.

    .venv/bin/python benchmarks/bench_profile.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def hundred_layer_model(path: Path) -> int:
    """50 conv + 50 linear static layers with ReLUs between them (a 100-layer plain network), ~200 nodes."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i in range(50):
        inits.append(numpy_helper.from_array(rng.standard_normal((32, 32, 3, 3)).astype(np.float32), f"cw{i}"))
        nodes.append(helper.make_node("Conv", [prev, f"cw{i}"], [f"c{i}"], kernel_shape=[3, 3], pads=[1] * 4))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        prev = f"r{i}"
    inits.append(numpy_helper.from_array(np.array([1, -1], np.int64), "flat"))
    nodes.append(helper.make_node("Reshape", [prev, "flat"], ["f"]))
    width = 32 * 16 * 16
    for i in range(50):
        out = 256
        inits.append(numpy_helper.from_array(rng.standard_normal((width, out)).astype(np.float32), f"lw{i}"))
        nodes.append(helper.make_node("MatMul", ["f" if i == 0 else f"a{i - 1}", f"lw{i}"], [f"l{i}"]))
        nodes.append(helper.make_node("Sigmoid", [f"l{i}"], [f"a{i}"]))
        width = out
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 32, 16, 16])
    graph = helper.make_graph(nodes, "hundred", [x],
                              [helper.make_tensor_value_info("a49", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    onnx.save(model, path)
    return len(nodes)


def export_resnet50(path: Path) -> None:
    import warnings

    import torch

    from nas_edge.models import create_model, example_input

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(create_model("resnet50"), (example_input("resnet50"),), str(path), dynamo=False,
                          opset_version=17)


def warm(path: Path, hardware: list[str], repeats: int) -> tuple[float, int]:
    from nas_edge.profiling import profile_onnx

    res = profile_onnx(path, hardware)  # first call: imports, kernel compilation or cache load
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        profile_onnx(path, hardware)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), len(res.workload)


def cold(path: Path, hardware: list[str], repeats: int) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (user + system) of fresh ``nas-edge profile`` processes."""
    exe = Path(sys.executable).parent / "nas-edge"
    args = [str(exe), "profile", str(path), *(a for h in hardware for a in ("-H", h)), "--json"]
    wall, cpu = [], []
    for _ in range(repeats):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall.append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    return wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        hundred = Path(tmp) / "hundred.onnx"
        nodes = hundred_layer_model(hundred)
        r50 = Path(tmp) / "resnet50.onnx"
        export_resnet50(r50)
        for label, path in ((f"100-layer plain net ({nodes} nodes)", hundred), ("ResNet-50 (legacy export)", r50)):
            for hw in (["mobile-cpu-a78"], ["neurosim-rram-22nm", "mobile-cpu-a78", "npu-int8-4tops"]):
                sec, rows = warm(path, hw, args.repeats)
                print(f"warm  {label:36s} {rows:4d} rows x {len(hw)} profile(s): {sec * 1e3:7.1f} ms "
                      f"(median of {args.repeats}; target <= 1000 ms)")
        wall, cpu = cold(hundred, ["neurosim-rram-22nm", "mobile-cpu-a78"], args.repeats)
        print(f"cold  `nas-edge profile hundred.onnx -H neurosim-rram-22nm -H mobile-cpu-a78 --json`: wall median "
              f"{statistics.median(wall):.2f} s (max {max(wall):.2f} s), CPU (user+sys) median "
              f"{statistics.median(cpu):.2f} s over {len(wall)} runs (target <= 3 s); load average now "
              f"{os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
