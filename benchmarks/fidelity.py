"""Cost-model fidelity: the calibration, its hold-out, and published silicon.

1. NeuroSim V1.4 Table VII, 22 nm (the fit of ``calibrate_neurosim.py``), through ``nas-edge profile`` on a
   VGG-8 exported to ONNX by torch: area, TOPS and TOPS/W of the four 22 nm rows.
2. Hold-out: Table VII's 5 nm and 1 nm SRAM rows, which never enter the fit: ``base: neurosim-sram-22nm``
   with ``technology_nm: 5`` or ``1`` (the scaling rules of ``nas_edge.hardware.technology``).
3. Published IMC macros (built-in profiles with provenance) on their papers' own benchmark: one full-array
   matrix-vector multiplication at the papers' precision and operating point, repeated over 1024 input
   vectors; rows built from the papers' component figures, and rows whose energies are estimated (not a
   validation), told apart by :data:`MACROS`.

    python benchmarks/fidelity.py        # prints the three tables (errors: ours / published - 1)
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from nas_edge.cost import estimate
from nas_edge.hardware import profile_from_dict
from nas_edge.workload import Workload
from nas_edge.workload.zoo import vgg8

# NeuroSim V1.4 manual, Table VII: (memory, node nm, rows in parallel) -> (area mm2, TOPS, TOPS/W, TOPS/mm2)
TABLE_VII: dict[tuple[str, int, int], tuple[float, float, float, float]] = {
    ("rram", 22, 32): (381.90, 6.25, 11.25, 0.01), ("rram", 22, 64): (378.06, 8.16, 19.88, 0.02),
    ("sram", 22, 32): (85.97, 6.06, 8.76, 0.07), ("sram", 22, 64): (84.39, 8.01, 17.13, 0.09),
    ("sram", 5, 32): (14.64, 11.48, 32.43, 0.78), ("sram", 5, 64): (14.33, 11.96, 54.41, 0.83),
    ("sram", 1, 32): (8.34, 12.27, 65.08, 1.47), ("sram", 1, 64): (8.27, 13.08, 105.97, 1.58),
}
FIGURES = ("area_mm2", "tops", "tops_per_w", "tops_per_mm2")

# built-in macro profile -> (benchmark layer, published TOPS/W, published TOPS/mm2 or None, benchmark, basis).
# basis "components": every energy and area figure of the profile comes from the paper's own component figures
# (published or derived, see its provenance); "structure": only the structure is published where we could read
# it, the energies and areas are estimated, so the row is not a validation.
MACROS: dict[str, tuple[dict[str, Any], float, float | None, str, str]] = {
    "jia-sram-65nm": ({"type": "linear", "in_features": 2304, "out_features": 256, "tokens": 1024},
                      192.0, 0.60, "2304x256 MVM (768x768 cells, 3:1 folded), 1-b inputs and weights, 1.2 V",
                      "components"),
    "neurram-rram-130nm": ({"type": "linear", "in_features": 256, "out_features": 128, "tokens": 1024},
                           15.95, None, "256x256-cell MVM (256x128 signed 4-b weights), 4-b in, 6-b out",
                           "components"),
    "wang-sram-22nm": ({"type": "linear", "in_features": 512, "out_features": 16, "tokens": 1024},
                       16.38, 3.596, "512x16 MVM of 8-b weights (512x128 cells), 8-b inputs, 1.0 V", "components"),
    "imagine-sram-22nm": ({"type": "linear", "in_features": 1152, "out_features": 31, "tokens": 1024},
                          150.0, 2.6, "1152x256-cell MVM, 8-b inputs and weights", "structure"),
    "hermes-pcm-14nm": ({"type": "linear", "in_features": 256, "out_features": 256, "tokens": 1024},
                        10.5, 1.59, "256x256 MVM, 8-b inputs and outputs", "structure"),
}


def table_vii_profile(memory: str, node: int, rows_parallel: int) -> dict[str, Any]:
    """The profile of one Table VII row: the 22 nm built-in, at another node when asked."""
    d: dict[str, Any] = {"base": f"neurosim-{memory}-22nm", "name": f"neurosim-{memory}-{node}nm-rp{rows_parallel}",
                         "array": {"rows_parallel": rows_parallel}}
    if node != 22:
        d["technology_nm"] = node
    return d


def holdout_rows() -> list[tuple[tuple[str, int, int], dict[str, float]]]:
    """Our figures for Table VII's 5 nm and 1 nm rows (VGG-8 from the zoo = from ONNX, see test_workload_sources)."""
    out = []
    for key in TABLE_VII:
        if key[1] != 22:
            t = estimate(vgg8(), profile_from_dict(table_vii_profile(*key))).totals
            out.append((key, {f: t[f] for f in FIGURES}))
    return out


def macro_rows() -> list[tuple[str, str, str, float, float, float, float | None]]:
    """(profile, benchmark, basis, ours TOPS/W, paper TOPS/W, ours TOPS/mm2, paper TOPS/mm2 or None)."""
    out = []
    for name, (layer, tops_w, tops_mm2, what, basis) in MACROS.items():
        t = estimate(Workload.from_layers([layer]), name).totals
        out.append((name, what, basis, t["tops_per_w"], tops_w, t["tops_per_mm2"], tops_mm2))
    return out


def profile_cli_rows(onnx_path: Path) -> list[tuple[tuple[str, int, int], dict[str, float]]]:
    """Table VII's 22 nm rows through ``nas-edge profile --json`` on an exported model."""
    from typer.testing import CliRunner

    from nas_edge.cli import app

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in TABLE_VII:
            if key[1] != 22:
                continue
            path = Path(tmp) / f"{'-'.join(map(str, key))}.yaml"
            path.write_text(json.dumps(table_vii_profile(*key)))
            r = CliRunner().invoke(app, ["profile", str(onnx_path), "-H", str(path), "--json"])
            if r.exit_code:
                raise SystemExit(r.stderr or r.stdout)
            totals = json.loads(r.stdout)["hardware"][0]["totals"]
            out.append((key, {f: totals[f] for f in FIGURES}))
    return out


def _err(ours: float, ref: float) -> str:
    return f"{100 * (ours / ref - 1):+.0f} %"


def main() -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from calibrate_neurosim import exported_vgg8_onnx

    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "vgg8.onnx"
        onnx_path.write_bytes(exported_vgg8_onnx())
        fit = profile_cli_rows(onnx_path)
    print("## Table VII, 22 nm (fitted), nas-edge profile of VGG-8 exported to ONNX\n")
    print("| memory | rows in parallel | area mm² | TOPS | TOPS/W |")
    print("|---|---|---|---|---|")
    for key, ours in fit:
        ref = TABLE_VII[key]
        cells = " | ".join(f"{ours[f]:.2f} / {r} ({_err(ours[f], r)})" for f, r in zip(FIGURES[:3], ref, strict=False))
        print(f"| {key[0].upper()} | {key[2]} | {cells} |")
    print("\n## Table VII hold-out: SRAM at 5 nm and 1 nm (never fitted)\n")
    print("| node | rows in parallel | area mm² | TOPS | TOPS/W | TOPS/mm² |")
    print("|---|---|---|---|---|---|")
    for key, ours in holdout_rows():
        ref = TABLE_VII[key]
        cells = " | ".join(f"{ours[f]:.2f} / {r} ({_err(ours[f], r)})" for f, r in zip(FIGURES, ref, strict=True))
        print(f"| {key[1]} nm | {key[2]} | {cells} |")
    print("\n## Published IMC macros, on their papers' benchmark\n")
    print("| profile | benchmark | figures | TOPS/W ours / paper | error | TOPS/mm² ours / paper | error |")
    print("|---|---|---|---|---|---|---|")
    for name, what, basis, ew, pw, ea, pa in macro_rows():
        area = f"{ea:.3g} / {pa} | {_err(ea, pa)}" if pa is not None else f"{ea:.3g} / not published | —"
        print(f"| {name} | {what} | {basis} | {ew:.1f} / {pw} | {_err(ew, pw)} | {area} |")


if __name__ == "__main__":
    main()
