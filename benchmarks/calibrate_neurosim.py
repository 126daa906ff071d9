"""Fit the free figures of the NeuroSim-like profiles to DNN+NeuroSim V1.4 Table VII (VGG-8, CIFAR-10, 22 nm).

The fit runs on VGG-8 as users bring it: ``nas_edge.models.vgg8`` exported to ONNX by torch's exporter and
read back with ``Workload.from_onnx`` (the path of ``nas-edge profile``). The script first checks that this
workload equals ``Workload.from_torch`` of the module and the hand-written ``nas_edge.workload.zoo.vgg8()``
row for row, so the fitted figures hold for all three.

Fixed from sources: geometry, precision, the ADC (NeuroSim's default multi-level sense amplifier, a flash-type
converter, with the per-conversion figures of NeuroSim's 22 nm SAR fit), 8 columns per ADC, 1 GHz. Fitted per
memory (5 figures against 6 published numbers: area, TOPS and TOPS/W at 32 and 64 rows in parallel): cell
area, read latency, buffer bandwidth, bit-line energy per column per read and cell read energy. Table VII's
5 nm and 1 nm rows never enter the fit: they are the hold-out (``benchmarks/fidelity.py``).

    python benchmarks/calibrate_neurosim.py          # prints the fitted figures and the resulting table
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from nas_edge.cost import estimate
from nas_edge.hardware import load_profile, profile_from_dict, profile_to_dict
from nas_edge.workload import COLUMNS, Workload
from nas_edge.workload.zoo import vgg8

TABLE = {  # memory: {rows_parallel: (area_mm2, tops, tops_per_w)}; NeuroSim V1.4 manual, Table VII, 22 nm
    "rram": {32: (381.90, 6.25, 11.25), 64: (378.06, 8.16, 19.88)},
    "sram": {32: (85.97, 6.06, 8.76), 64: (84.39, 8.01, 17.13)},
}
FREE = [("array", "cell_area_um2"), ("array", "read_latency_ns"), ("buffer", "bandwidth_gb_per_s"),
        ("array", "bitline_energy_per_column_fj"), ("array", "read_energy_per_cell_fj")]


def exported_vgg8_onnx() -> bytes:
    """VGG-8 (``nas_edge.models``) exported by torch's default (dynamo) exporter."""
    import torch

    from nas_edge.models import create_model, example_input

    torch.set_num_threads(1)
    model, x = create_model("vgg8"), example_input("vgg8")
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buf, dynamo=True, verbose=False)
    return buf.getvalue()


def same_rows(a: Workload, b: Workload) -> bool:
    return len(a) == len(b) and all(np.array_equal(getattr(a, c), getattr(b, c)) for c in COLUMNS)


def imported_vgg8() -> Workload:
    """VGG-8 through ONNX, checked against ``from_torch`` and the zoo (exits if they differ)."""
    from nas_edge.models import create_model, example_input

    w = Workload.from_onnx(exported_vgg8_onnx())
    traced = Workload.from_torch(create_model("vgg8"), example_input("vgg8"))
    if not (same_rows(w, traced) and same_rows(w, vgg8())):
        raise SystemExit("VGG-8 from ONNX, from torch and from the zoo differ; fix the adapters first")
    return w


def with_rows_parallel(profile: Any, rows_parallel: int) -> Any:
    d = profile_to_dict(load_profile(profile))
    d["array"]["rows_parallel"] = rows_parallel
    return profile_from_dict(d)


def table_figures(profile_name: str, w: Workload) -> dict[int, tuple[float, float, float]]:
    out = {}
    for rp in (32, 64):
        t = estimate(w, with_rows_parallel(profile_name, rp)).totals
        out[rp] = (t["area_mm2"], t["tops"], t["tops_per_w"])
    return out


def fit(memory: str, w: Workload) -> dict[str, float]:
    base = profile_to_dict(load_profile(f"neurosim-{memory}-22nm"))

    def with_values(x: np.ndarray, rp: int) -> Any:
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
    w = imported_vgg8()
    print(f"VGG-8 from ONNX = from torch = zoo: {len(w)} rows, {2 * w.total_macs / 1e9:.4f} GOP")
    for memory in TABLE:
        print(f"# {memory}: fitted figures")
        for key, val in fit(memory, w).items():
            print(f"  {key}: {val:.4g}")
    print("\nWith the shipped profiles:\n")
    print("| memory | rows in parallel | area mm² (ours / NeuroSim) | TOPS | TOPS/W |")
    print("|---|---|---|---|---|")
    for memory, rows in TABLE.items():
        ours = table_figures(f"neurosim-{memory}-22nm", w)
        for rp, (a, t, e) in rows.items():
            oa, ot, oe = ours[rp]
            print(f"| {memory.upper()} | {rp} | {oa:.2f} / {a} | {ot:.2f} / {t} | {oe:.2f} / {e} |")


if __name__ == "__main__":
    main()
