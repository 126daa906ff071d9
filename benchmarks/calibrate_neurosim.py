"""Fit the free figures of the NeuroSim-like profiles to DNN+NeuroSim V1.4 Table VII (VGG-8, CIFAR-10).

Fixed from sources: geometry, precision, SAR ADC (NeuroSim fit), 8 columns per ADC, 1 GHz. Fitted per memory
(5 figures against 5 published numbers: area, TOPS and TOPS/W at 32 and 64 rows in parallel): cell area,
read latency, buffer bandwidth, bit-line energy per column per read and cell read energy.

    python benchmarks/calibrate_neurosim.py          # prints the fitted figures and the resulting table
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares

from nas_edge.cost import estimate
from nas_edge.hardware import load_profile, profile_from_dict, profile_to_dict
from nas_edge.workload.zoo import vgg8

TABLE = {  # memory: {rows_parallel: (area_mm2, tops, tops_per_w)}
    "rram": {32: (381.90, 6.25, 11.25), 64: (378.06, 8.16, 19.88)},
    "sram": {32: (85.97, 6.06, 8.76), 64: (84.39, 8.01, 17.13)},
}
FREE = [("array", "cell_area_um2"), ("array", "read_latency_ns"), ("buffer", "bandwidth_gb_per_s"),
        ("array", "bitline_energy_per_column_fj"), ("array", "read_energy_per_cell_fj")]


def table_figures(profile_name: str) -> dict[int, tuple[float, float, float]]:
    base = profile_to_dict(load_profile(profile_name))
    w = vgg8()
    out = {}
    for rp in (32, 64):
        prof = profile_from_dict({**base, "array": {**base["array"], "rows_parallel": rp}})
        t = estimate(w, prof).totals
        out[rp] = (t["area_mm2"], t["tops"], t["tops_per_w"])
    return out


def fit(memory: str) -> dict:
    base = profile_to_dict(load_profile(f"neurosim-{memory}-22nm"))
    w = vgg8()

    def with_values(x: np.ndarray, rp: int):
        d = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
        for (sec, key), val in zip(FREE, np.exp(x), strict=True):
            d[sec][key] = float(val)
        d["array"]["rows_parallel"] = rp
        return profile_from_dict(d)

    def residuals(x: np.ndarray) -> np.ndarray:
        r = []
        for rp, target in TABLE[memory].items():
            t = estimate(w, with_values(x, rp)).totals
            r += [np.log(t["area_mm2"] / target[0]), np.log(t["tops"] / target[1]),
                  np.log(t["tops_per_w"] / target[2])]
        return np.array(r)

    x0 = np.log([max(base[s][k], 1e-3) for s, k in FREE])
    res = least_squares(residuals, x0, bounds=(np.log(1e-4), np.log(1e5)))
    return {f"{s}.{k}": float(v) for (s, k), v in zip(FREE, np.exp(res.x), strict=True)} | {
        "max_abs_log_error": float(np.abs(res.fun).max())}


def main() -> None:
    for memory in TABLE:
        print(f"# {memory}: fitted figures")
        for key, val in fit(memory).items():
            print(f"  {key}: {val:.4g}")
    print("\n| memory | rows in parallel | area mm2 (ours / NeuroSim) | TOPS | TOPS/W |")
    print("|---|---|---|---|---|")
    for memory, rows in TABLE.items():
        ours = table_figures(f"neurosim-{memory}-22nm")
        for rp, (a, t, e) in rows.items():
            oa, ot, oe = ours[rp]
            print(f"| {memory.upper()} | {rp} | {oa:.2f} / {a} | {ot:.2f} / {t} | {oe:.2f} / {e} |")


if __name__ == "__main__":
    main()
