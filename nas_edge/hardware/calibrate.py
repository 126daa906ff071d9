"""Measure the machine at hand with ONNX Runtime micro-benchmarks and write a ``kind: digital`` profile.

What is measured (fp32, ``CPUExecutionProvider``, fixed ``intra_op_num_threads``, warm-up), and which
profile field it sets.

Each benchmark's time is the median of a block of runs, the lowest of three blocks (a shared machine's
neighbours only ever add time). Measured:

- **per-op overhead** (``layer_overhead_ns``): a chain of tiny ``Add`` ops, time per op;
- **GEMM** (``peak_gmacs_per_s``, ``efficiency.linear``): ``MatMul`` of an activation by a weight initializer
  at transformer-like shapes; the peak is the best rate of any matmul-type benchmark;
- **convolution** (``efficiency.conv``, ``efficiency.pointwise``): 3x3 and 1x1 convolutions at
  ResNet/MobileNet-like shapes;
- **depthwise convolution** (``efficiency.depthwise``): 3x3 depthwise at MobileNet-like shapes;
- **activation x activation matmul** (``efficiency.dynamic_matmul``): attention-like batched ``MatMul``;
- **element-wise** (``bandwidth_gb_per_s``, ``elementwise_gops_per_s``): ``Add`` of activation-sized
  tensors (bytes moved per second: the bandwidth the roofline sees for activations) and ``Sigmoid``
  (elementary ops per second, counted as :mod:`nas_edge.workload` counts them).

Each efficiency is the one that makes the profile's roofline, ``max(MACs / (peak x eff), bytes / bandwidth)
+ overhead``, reproduce the total measured time of that kind's benchmarks (a ratio of sums, so the shapes
weigh in by their time, as layers do in a network's latency). Energy and area cannot be
measured here: they are nominal values, given as options, and the provenance says so.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

IR_VERSION = 10  # onnxruntime 1.18+ reads it; onnx 1.23's default (14) is too new for it
OPSET = 17


@dataclass(frozen=True)
class Measurement:
    """One micro-benchmark: what ran, its work, and its median time."""

    kind: str  # overhead | linear | conv | depthwise | dynamic_matmul | bandwidth | elementwise
    label: str
    macs: float  # multiply-accumulates (elementary ops for element-wise)
    bytes: float  # fp32 bytes read and written (weights included)
    seconds: float
    runs: int
    count: int = 1  # ops in the model (the overhead chain)

    @property
    def gmacs_per_s(self) -> float:
        return self.macs / self.seconds / 1e9


@dataclass
class Calibration:
    """The measurements and the profile fields derived from them (``profile`` is a validated dict)."""

    measurements: list[Measurement] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)

    def to_yaml(self) -> str:
        import yaml

        lines = ["# Measured by `nas-edge hardware calibrate` (ONNX Runtime micro-benchmarks).",
                 "# kind, benchmark, median time, rate"]
        for m in self.measurements:
            rate = {"overhead": f"{m.seconds / m.count * 1e9:.0f} ns per op",
                    "bandwidth": f"{m.bytes / m.seconds / 1e9:.2f} GB/s",
                    "elementwise": f"{m.macs / m.seconds / 1e9:.2f} Gop/s"}.get(m.kind, f"{m.gmacs_per_s:.2f} GMAC/s")
            lines.append(f"#   {m.kind:15s} {m.label:34s} {m.seconds * 1e6:10.1f} us  {rate}")
        return "\n".join(lines) + "\n" + yaml.safe_dump(self.profile, sort_keys=False, width=110)


# ---- models -----------------------------------------------------------------------------------------------

def _model(nodes: list[Any], inputs: list[tuple[str, list[int]]], outputs: list[tuple[str, list[int]]],
           inits: dict[str, np.ndarray] | None = None) -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        nodes, "bench",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
        [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    data: bytes = model.SerializeToString()
    return data


def _rand(*shape: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


def matmul_model(m: int, k: int, n: int) -> tuple[bytes, dict[str, np.ndarray]]:
    from onnx import helper

    node = helper.make_node("MatMul", ["x", "w"], ["y"])
    return _model([node], [("x", [m, k])], [("y", [m, n])], {"w": _rand(k, n)}), {"x": _rand(m, k)}


def batched_matmul_model(b: int, m: int, k: int, n: int) -> tuple[bytes, dict[str, np.ndarray]]:
    from onnx import helper

    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    return (_model([node], [("a", [b, m, k]), ("b", [b, k, n])], [("y", [b, m, n])]),
            {"a": _rand(b, m, k), "b": _rand(b, k, n)})


def conv_model(cin: int, cout: int, size: int, kernel: int, groups: int = 1) -> tuple[bytes, dict[str, np.ndarray]]:
    from onnx import helper

    pad = kernel // 2
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[kernel, kernel], pads=[pad] * 4, group=groups)
    return (_model([node], [("x", [1, cin, size, size])], [("y", [1, cout, size, size])],
                   {"w": _rand(cout, cin // groups, kernel, kernel)}), {"x": _rand(1, cin, size, size)})


def eltwise_model(op: str, elems: int) -> tuple[bytes, dict[str, np.ndarray]]:
    from onnx import helper

    ins = ["a", "b"] if op in ("Add", "Mul") else ["a"]
    node = helper.make_node(op, ins, ["y"])
    return (_model([node], [(i, [elems]) for i in ins], [("y", [elems])]), {i: _rand(elems) for i in ins})


def chain_model(length: int) -> tuple[bytes, dict[str, np.ndarray]]:
    """``length`` tiny dependent ops: their time is dispatch overhead."""
    from onnx import helper

    nodes, prev = [], "x"
    for i in range(length):
        nodes.append(helper.make_node("Add", [prev, "x"], [f"t{i}"]))
        prev = f"t{i}"
    nodes.append(helper.make_node("Identity", [prev], ["y"]))
    return _model(nodes, [("x", [1, 16])], [("y", [1, 16])]), {"x": _rand(1, 16)}


# ---- timing -----------------------------------------------------------------------------------------------

def session(model: bytes | str, threads: int) -> Any:
    """An ONNX Runtime CPU session (model bytes or a file path): :func:`nas_edge._ort.cpu_session`, the export's
    latency set-up."""
    from nas_edge._ort import cpu_session

    return cpu_session(model, threads)


def time_session(sess: Any, feeds: dict[str, np.ndarray], *, min_time: float = 0.2, min_runs: int = 10,
                 max_runs: int = 2000, warmup: int = 3, blocks: int = 1, clock: str = "wall") -> tuple[float, int]:
    """Seconds per run and the number of timed runs: the median of each block of runs (after warm-up), the
    lowest over ``blocks`` blocks (other processes only ever add time, so on a shared machine the fastest
    block is the one least disturbed).

    ``clock="thread"`` times the CPU time of the calling thread instead of the wall clock: with one intra-op
    thread ONNX Runtime computes on the caller, so this leaves out the time a busy machine's scheduler gives
    to other processes (it equals the wall time on an idle machine)."""
    if clock not in ("wall", "thread"):
        raise ValueError("clock must be 'wall' or 'thread'")
    now = time.perf_counter if clock == "wall" else time.thread_time
    for _ in range(warmup):
        sess.run(None, feeds)
    best, total = math.inf, 0
    for _ in range(max(1, blocks)):
        times: list[float] = []
        start = time.perf_counter()
        while len(times) < max_runs and (len(times) < min_runs or time.perf_counter() - start < min_time):
            t0 = now()
            sess.run(None, feeds)
            times.append(now() - t0)
        best, total = min(best, statistics.median(times)), total + len(times)
    return best, total


# ---- the calibration --------------------------------------------------------------------------------------

LINEAR_SHAPES = ((128, 768, 768), (128, 768, 3072), (128, 3072, 768), (197, 192, 768), (128, 256, 1024),
                 (197, 768, 768))
# 1x1 convolutions run 15-65 GMAC/s on one core depending on their channels (narrow MobileNet ones slowest):
# the pointwise mix spans both MobileNet and ResNet-bottleneck shapes
CONV_SHAPES = ((64, 64, 56, 3), (128, 128, 28, 3), (256, 256, 14, 3), (512, 512, 7, 3), (64, 256, 56, 1),
               (144, 24, 56, 1), (96, 576, 14, 1), (32, 192, 28, 1), (256, 64, 56, 1), (512, 128, 28, 1),
               (1024, 256, 14, 1), (512, 2048, 7, 1))
DW_SHAPES = ((144, 56), (192, 28), (384, 14), (960, 7), (96, 112))
DMM_SHAPES = ((12, 128, 64, 128), (4, 128, 64, 128), (3, 197, 64, 197), (12, 128, 128, 64))
ELTWISE_SIZES = (64 * 56 * 56, 128 * 28 * 28, 256 * 14 * 14, 768 * 128, 96 * 112 * 112)


def _machine() -> str:
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return name


def _clock_ghz() -> float:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            mhz = [float(line.split(":", 1)[1]) for line in fh if line.startswith("cpu MHz")]
        if mhz:
            return round(max(mhz) / 1000.0, 3)
    except (OSError, ValueError):
        pass
    return 2.0


def calibrate(*, threads: int | None = None, name: str = "calibrated-cpu", quick: bool = False,
              energy_per_mac_pj: float = 20.0, energy_per_op_pj: float = 5.0, energy_per_byte_pj: float = 10.0,
              technology_nm: float = 10.0, static_power_mw: float = 0.0, repeat: int | None = None, clock: str = "wall",
              progress: Callable[[str], None] | None = None) -> Calibration:
    """Run the micro-benchmarks and derive a digital profile (validated). ``quick`` runs fewer, shorter ones;
    ``repeat`` runs the whole list that many times and keeps each benchmark's fastest: default 3 (1 when
    ``quick``) — on the 2-core sandbox one pass gave kind rates up to 1.8x apart between calibrations, three
    passes within 7 %; ``clock`` is passed to :func:`time_session` (``"thread"`` needs ``threads=1``)."""
    import onnxruntime as ort

    from nas_edge.hardware.loader import profile_from_dict, profile_to_dict

    threads = int(threads or os.cpu_count() or 1)
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if clock == "thread" and threads != 1:
        raise ValueError("clock='thread' measures the calling thread only: use it with threads=1")
    min_time, blocks = (0.05, 1) if quick else (0.15, 3)
    repeat = (1 if quick else 3) if repeat is None else repeat
    def pick(shapes: Sequence[Any]) -> list[Any]:
        return list(shapes[:2] if quick else shapes)

    def say(msg: str) -> None:
        if progress is not None:
            progress(msg)

    result = Calibration()

    chain = 200
    plan: list[tuple[str, str, Callable[[], tuple[bytes, dict[str, np.ndarray]]], float, float, int]] = [
        ("overhead", f"{chain} chained tiny Adds", partial(chain_model, chain), 0, chain * 3 * 64, chain)]
    for mm, k, n in pick(LINEAR_SHAPES):
        plan.append(("linear", f"MatMul {mm}x{k} @ {k}x{n}", partial(matmul_model, mm, k, n), mm * k * n,
                     4 * (mm * k + k * n + mm * n), 1))
    convs = pick([c for c in CONV_SHAPES if c[3] > 1]) + pick([c for c in CONV_SHAPES if c[3] == 1])
    for cin, cout, size, ker in convs:
        plan.append(("conv" if ker > 1 else "pointwise", f"Conv {cin}->{cout} {ker}x{ker} @{size}",
                     partial(conv_model, cin, cout, size, ker), size * size * cin * ker * ker * cout,
                     4 * (size * size * (cin + cout) + cin * cout * ker * ker), 1))
    for ch, size in pick(DW_SHAPES):
        plan.append(("depthwise", f"Conv dw {ch} 3x3 @{size}", partial(conv_model, ch, ch, size, 3, groups=ch),
                     size * size * ch * 9, 4 * (2 * size * size * ch + 9 * ch), 1))
    for b, mm, k, n in pick(DMM_SHAPES):
        plan.append(("dynamic_matmul", f"MatMul {b}x{mm}x{k} @ {b}x{k}x{n}",
                     partial(batched_matmul_model, b, mm, k, n), b * mm * k * n,
                     4 * b * (mm * k + k * n + mm * n), 1))
    for elems in pick(ELTWISE_SIZES):
        plan.append(("bandwidth", f"Add {elems} elements", partial(eltwise_model, "Add", elems), elems,
                     12 * elems, 1))
    for elems in pick(ELTWISE_SIZES):
        plan.append(("elementwise", f"Sigmoid {elems} elements", partial(eltwise_model, "Sigmoid", elems),
                     5 * elems, 8 * elems, 1))
    best: dict[str, Measurement] = {}
    for _ in range(max(1, int(repeat))):
        for kind, label, build, macs, nbytes, count in plan:
            model, feeds = build()
            sec, runs = time_session(session(model, threads), feeds, min_time=min_time, blocks=blocks, clock=clock)
            say(f"{kind:15s} {label:34s} {sec * 1e6:9.1f} us")
            if label not in best or sec < best[label].seconds:
                best[label] = Measurement(kind, label, float(macs), float(nbytes), sec, runs, count)
    result.measurements = list(best.values())
    ovh = best[plan[0][1]].seconds / chain

    def by(kind: str) -> list[Measurement]:
        return [m for m in result.measurements if m.kind == kind]

    def net(kind: str) -> float:  # seconds of all benchmarks of a kind, per-op overhead removed
        return sum(max(m.seconds - ovh, 1e-9) for m in by(kind))

    # rates are ratios of sums: the roofline then reproduces the total time of each kind's benchmark mix
    bw = sum(m.bytes for m in by("bandwidth")) / net("bandwidth") / 1e9  # Add moves 12 bytes per op
    ew_ops = sum(m.macs for m in by("elementwise")) / net("elementwise") / 1e9
    peak = max(m.gmacs_per_s for kind in ("linear", "conv", "pointwise", "dynamic_matmul") for m in by(kind))

    def efficiency(kind: str) -> float:
        # MACs / (peak x t) reproduces compute-bound runs; for runs faster than the bandwidth term predicts
        # it is the largest efficiency still consistent with them
        return float(min(1.0, max(1e-3, sum(m.macs for m in by(kind)) / (peak * 1e9 * net(kind)))))

    eff = {k: round(efficiency(k), 4) for k in ("conv", "pointwise", "depthwise", "linear", "dynamic_matmul")}
    eff["elementwise"] = 1.0
    profile = {
        "name": name,
        "kind": "digital",
        "description": f"{_machine()}, {threads} thread(s), ONNX Runtime {ort.__version__} fp32 "
                       f"(CPUExecutionProvider), measured {time.strftime('%Y-%m-%d')}",
        "provenance": (
            "Measured by `nas-edge hardware calibrate`: ONNX Runtime micro-benchmarks (median of timed runs "
            "after warm-up) of MatMul, Conv 3x3/1x1, depthwise Conv, batched activation MatMul, Add and "
            f"Sigmoid at typical layer shapes, {threads} intra-op thread(s), {clock} clock. Peak = best "
            "matmul-type rate; efficiencies fit the roofline to each kind's total time; bandwidth from "
            "activation-sized Adds; overhead from a chain of tiny ops. NOT measured (nominal, set by "
            "options): technology_nm, energy_per_mac_pj, energy_per_op_pj, energy_per_byte_pj, static_power_mw."),
        "technology_nm": float(technology_nm),
        "clock_ghz": _clock_ghz(),
        "precision": {"weight_bits": 32, "input_bits": 32, "output_bits": 32},
        "peak_gmacs_per_s": round(peak, 3),
        "elementwise_gops_per_s": round(ew_ops, 3),
        "efficiency": eff,
        "bandwidth_gb_per_s": round(bw, 3),
        "energy_per_mac_pj": float(energy_per_mac_pj),
        "energy_per_op_pj": float(energy_per_op_pj),
        "energy_per_byte_pj": float(energy_per_byte_pj),
        "layer_overhead_ns": round(ovh * 1e9, 1),
        "static_power_mw": float(static_power_mw),
    }
    result.profile = profile_to_dict(profile_from_dict(profile, source="<calibration>"))
    return result


def write_profile(cal: Calibration, path: str) -> None:
    """Write the calibrated profile YAML atomically (readers never see a partial file)."""
    from nas_edge._io import write_atomic

    write_atomic(path, cal.to_yaml())


__all__ = ["Calibration", "Measurement", "calibrate", "session", "time_session", "write_profile"]
