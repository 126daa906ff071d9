"""Cost of simulated analog evaluation against a normal (digital) evaluation. Prints figures; no asserts.

    python benchmarks/bench_analog.py [--runs 7] [--profiles pcm-aihwkit-14nm,neurosim-rram-22nm]

For each digits network (small CNNs from the ``cnn`` space and a transformer) and each profile, the fastest
of ``--runs`` interleaved runs (the least disturbed by other processes; medians are printed too) of
(a) ``accuracy()`` on the validation split with the digital model and (b) one Monte-Carlo repeat of the
simulation on the same data: programming the devices, drifting them to 1 day, and the analog forward of every
validation batch with read noise, DAC and ADC. The one-off calibration (input ranges, ADC full scales) is
reported separately. Timed on one torch thread with the process CPU clock. One repeat costs about (columns per
weight x input cycles) digital products plus the element-wise work of DAC, read noise and ADC on every
partial sum.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import torch

from nas_edge.analog import AnalogConfig, calibrate, convert_to_analog, drift_to, program
from nas_edge.analog.evaluate import tensors
from nas_edge.evaluate import load_data
from nas_edge.evaluate.train import accuracy
from nas_edge.spaces import create_space

NETS = {
    "cnn-mbconv": {"cnn_resolution": 8, "cnn_stem_width": 16, "blocks": [("mbconv", 16, 3, 3, False),
                                                                         ("mbconv", 32, 3, 3, False),
                                                                         ("mbconv", 48, 3, 3, False)]},
    "cnn-dense-r16": {"cnn_resolution": 16, "cnn_stem_width": 24, "blocks": [("dense", 24, 3, 1, False),
                                                                             ("residual", 48, 3, 1, True),
                                                                             ("dense", 96, 3, 1, False)]},
    "vit-p2-d64": {"vit_patch": 2, "vit_embed": 64, "vit_depth": 2, "vit_heads": 4, "vit_mlp_ratio": 2},
}


def build(name: str, spec: dict) -> torch.nn.Module:
    if name.startswith("vit"):
        space = create_space("transformer", input_shape=(1, 8, 8), num_classes=10)
        arch = space.from_params(spec)
    else:
        space = create_space("cnn", input_shape=(1, 8, 8), num_classes=10)
        params = {k: v for k, v in spec.items() if k != "blocks"}
        for i, (block, width, kernel, expand, se) in enumerate(spec["blocks"]):
            params.update({f"cnn_s{i}_block": block, f"cnn_s{i}_depth": 1, f"cnn_s{i}_width": width,
                           f"cnn_s{i}_kernel": kernel, f"cnn_s{i}_expand": expand, f"cnn_s{i}_se": se})
        arch = space.from_params(params)
    torch.manual_seed(0)
    return space.build(arch).eval()


def clock(fn: Callable[[], object]) -> tuple[float, float]:
    """(process CPU seconds, wall seconds) of one call."""
    c0, w0 = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - c0, time.perf_counter() - w0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--profiles", default="pcm-aihwkit-14nm,mnsim-default-45nm,neurosim-rram-22nm")
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = load_data("digits")
    xt, _, xv, yv = tensors(data)
    print(f"# {platform.machine()}, torch {torch.__version__}, 1 thread; digits validation split: {len(yv)} images")
    print(f"{'network':<14} {'profile':<20} {'digital ms':>10} {'analog ms':>10} {'ratio':>7} {'median':>8} "
          f"{'wall':>7} {'calib ms':>9}  columns/weight x cycles")
    for name, spec in NETS.items():
        model = build(name, spec)
        for prof in args.profiles.split(","):
            cfg = AnalogConfig.from_profile(prof)
            net = convert_to_analog(model, cfg)
            cal_cpu, _ = clock(lambda net=net: calibrate(net, xt[:512]))
            gen = torch.Generator().manual_seed(0)

            def simulated(net=net, gen=gen) -> float:
                program(net, gen)
                drift_to(net, 86400.0)
                return accuracy(net, xv, yv)

            accuracy(model, xv, yv)  # warm-up both paths
            simulated()
            dig, ana = [], []
            for _ in range(args.runs):
                dig.append(clock(lambda model=model: accuracy(model, xv, yv)))
                ana.append(clock(simulated))
            d_cpu, a_cpu = min(c for c, _ in dig), min(c for c, _ in ana)
            d_med, a_med = statistics.median(c for c, _ in dig), statistics.median(c for c, _ in ana)
            d_wall, a_wall = min(w for _, w in dig), min(w for _, w in ana)
            cols = 2 * -(-(cfg.weight_bits - 1) // cfg.cell_bits) if cfg.mapping == "differential" else (
                -(-cfg.weight_bits // cfg.cell_bits) if cfg.mapping == "offset" else
                -(-(cfg.weight_bits - 1) // cfg.cell_bits))
            cycles = -(-cfg.input_bits // cfg.dac_bits)
            print(f"{name:<14} {prof:<20} {1e3 * d_cpu:>10.1f} {1e3 * a_cpu:>10.1f} {a_cpu / d_cpu:>6.2f}x "
                  f"{a_med / d_med:>7.2f}x {a_wall / d_wall:>6.2f}x {1e3 * cal_cpu:>9.1f}  {cols} x <={cycles}")


if __name__ == "__main__":
    main()
