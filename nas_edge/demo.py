"""``make demo``: the main job on embedded defaults.

At this stage: cost VGG-8 (NeuroSim's benchmark) on the two NeuroSim-like built-in profiles and print the
table beside NeuroSim V1.4's published figures. It grows into search -> export -> report.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from nas_edge.cost import estimate
from nas_edge.workload.zoo import vgg8

NEUROSIM_TABLE_VII = {"neurosim-rram-22nm": (378.06, 8.16, 19.88), "neurosim-sram-22nm": (84.39, 8.01, 17.13)}


def cost_table() -> Table:
    w = vgg8()
    table = Table(title=f"VGG-8 (CIFAR-10, {w.total_macs * 2 / 1e9:.4f} GOP) on built-in IMC profiles")
    for col in ("profile", "arrays", "utilisation", "energy uJ", "latency ms", "area mm2", "TOPS", "TOPS/W",
                "NeuroSim V1.4 (area, TOPS, TOPS/W)"):
        table.add_column(col, justify="right" if col != "profile" else "left")
    for name, ref in NEUROSIM_TABLE_VII.items():
        t = estimate(w, name).totals
        table.add_row(name, f"{t['arrays_used']:.0f}", f"{t['utilisation']:.1%}", f"{t['energy_uj']:.1f}",
                      f"{t['latency_ms']:.3f}", f"{t['area_mm2']:.1f}", f"{t['tops']:.2f}",
                      f"{t['tops_per_w']:.2f}", f"{ref[0]}, {ref[1]}, {ref[2]}")
    return table


def main() -> None:
    Console(width=160).print(cost_table())


if __name__ == "__main__":
    main()
