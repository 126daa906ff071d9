"""Value-aware array energy (``--calibration-data``, nas_edge.cost.values) on a small CNN trained on digits.

A 3-layer CNN (conv 1->16, conv 16->32, linear 512->10, ReLU, max-pool) is trained for a few epochs on
scikit-learn's 8x8 digits and exported to ONNX; 32 held-out digits are its calibration data. Printed:

1. per static layer, the DAC factor (input level density / 1/2) and the cell factor on neurosim-rram-22nm, for
   the trained network and the same network untrained (random weights);
2. per built-in IMC profile, the value-blind and the value-aware energy per inference and the change (total,
   and the array + DAC energy that the factors scale);
3. the cost of tracing (ONNX Runtime over the calibration inputs) and of a value-aware estimate against a
   value-blind one, measured in this process.

    OMP_NUM_THREADS=1 python benchmarks/bench_values.py
"""

from __future__ import annotations

import io
import os
import time

import numpy as np

PROFILES = ("neurosim-rram-22nm", "neurosim-sram-22nm", "isaac-reram-32nm", "mnsim-default-45nm",
            "pcm-aihwkit-14nm", "neurram-rram-130nm")


def _network(train: bool) -> tuple[bytes, np.ndarray, float]:
    """(ONNX bytes, 32 held-out images, test accuracy) of the CNN, trained or at its random initialisation."""
    import torch
    from sklearn.datasets import load_digits

    torch.set_num_threads(1)
    torch.manual_seed(0)
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    idx = np.random.default_rng(0).permutation(len(x))
    tr, te = idx[:1400], idx[1400:]
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 4 * 4, 10))
    if train:
        opt = torch.optim.Adam(net.parameters(), lr=3e-3)
        xt, yt = torch.from_numpy(x[tr]), torch.from_numpy(y[tr])
        for _ in range(15):
            for b in range(0, len(tr), 64):
                opt.zero_grad()
                nn.functional.cross_entropy(net(xt[b:b + 64]), yt[b:b + 64]).backward()
                opt.step()
    net.eval()
    with torch.no_grad():
        acc = float((net(torch.from_numpy(x[te])).argmax(1).numpy() == y[te]).mean())
    buf = io.BytesIO()
    torch.onnx.export(net, (torch.from_numpy(x[:1]),), buf, dynamo=False, input_names=["x"],
                      dynamic_axes={"x": {0: "N"}})
    return buf.getvalue(), x[te[:32]], acc


def main() -> None:
    from nas_edge.cost import estimate
    from nas_edge.cost.values import energy_factors, trace_onnx
    from nas_edge.hardware import load_profile
    from nas_edge.workload.onnx_adapter import from_onnx

    print(f"load average {os.getloadavg()[0]:.2f} (1 min)")
    nets = {}
    for label, train in (("trained", True), ("untrained", False)):
        model, calib, acc = _network(train)
        nets[label] = (model, calib, acc, from_onnx(model), trace_onnx(model, calib))
    rram = load_profile("neurosim-rram-22nm")
    print("\n1. factors per static layer on neurosim-rram-22nm (8-bit inputs, 1-bit DAC, 1-bit cells, offset)")
    print(f"{'layer':<10} {'dac trained':>12} {'cell trained':>13} {'dac untrained':>14} {'cell untrained':>15}")
    w = nets["trained"][3]
    fac = {k: energy_factors(v[4], v[3], rram) for k, v in nets.items()}
    for i, name in enumerate(w.names):
        if int(w.kind[i]) in (0, 1):
            print(f"{name:<10} {fac['trained'][0][i]:>12.3f} {fac['trained'][1][i]:>13.3f} "
                  f"{fac['untrained'][0][i]:>14.3f} {fac['untrained'][1][i]:>15.3f}")
    print(f"test accuracy: trained {nets['trained'][2]:.3f}, untrained {nets['untrained'][2]:.3f}")

    print("\n2. energy per inference, value-blind vs value-aware (trained network, 32 calibration digits)")
    print(f"{'profile':<22} {'blind nJ':>10} {'aware nJ':>10} {'total':>8} {'array+DAC':>10}")
    model, calib, _, w, trace = nets["trained"]
    for name in PROFILES:
        blind, aware = estimate(w, name), estimate(w, name, values=trace)
        part_b = blind["energy_array_uj"] + blind["energy_dac_uj"]
        part_a = aware["energy_array_uj"] + aware["energy_dac_uj"]
        print(f"{name:<22} {blind['energy_uj'] * 1e3:>10.3f} {aware['energy_uj'] * 1e3:>10.3f} "
              f"{aware['energy_uj'] / blind['energy_uj'] - 1:>+8.1%} "
              f"{(part_a / part_b - 1) if part_b else 0.0:>+10.1%}")

    print("\n3. cost")
    t0 = time.perf_counter()
    for _ in range(3):
        trace_onnx(model, calib)
    t_trace = (time.perf_counter() - t0) / 3
    reps = 2000
    for values in (None, trace):  # compile / warm both paths
        estimate(w, rram, values=values)
    t0 = time.perf_counter()
    for _ in range(reps):
        estimate(w, rram)
    t_blind = (time.perf_counter() - t0) / reps
    t0 = time.perf_counter()
    for _ in range(reps):
        estimate(w, rram, values=trace)
    t_aware = (time.perf_counter() - t0) / reps
    print(f"trace_onnx on 32 inputs: {t_trace * 1e3:.0f} ms; estimate: blind {t_blind * 1e6:.0f} us, "
          f"value-aware {t_aware * 1e6:.0f} us ({t_aware / t_blind:.2f}x; densities cached per precision)")
    print(f"load average {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
