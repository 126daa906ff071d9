"""Slow, plain-Python reference of the cost model (docs/design.md §4), used only by tests.

Written independently of the Numba kernels: it places every array explicitly (a list of (rows active,
columns used) per array) and sums over that list, where the kernels use closed forms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from nas_edge.hardware.adc import adc_figures
from nas_edge.hardware.schema import DigitalProfile, IMCProfile
from nas_edge.workload.table import OpKind, Workload


@dataclass
class Placed:
    rows: int  # rows holding weights (all driven each read)
    cols: int  # columns read out (weights' columns plus reference columns)


def columns_per_output(p: IMCProfile) -> tuple[int, int]:
    wb, cb = p.precision.weight_bits, p.array.cell_bits
    if p.array.mapping == "differential":
        return 2 * max(1, math.ceil((wb - 1) / cb)), 0
    if p.array.mapping == "offset":
        return math.ceil(wb / cb), 1
    return max(1, math.ceil((wb - 1) / cb)), 0  # signed: magnitude slices, the sign in the device pair


def place(k: int, n: int, groups: int, kernel: int, p: IMCProfile) -> tuple[list[Placed], int, int]:
    """Every array of one static layer, the row tiles a partial sum is split into, and the column tiles."""
    a = p.array
    cpo, ref = columns_per_output(p)
    usable = a.cols - ref
    tile_rows = a.rows
    if a.keep_kernels_whole and 1 < kernel <= a.rows:
        tile_rows = (a.rows // kernel) * kernel
    cols_per_group = (n // groups) * cpo
    if groups > 1 and k <= tile_rows and cols_per_group <= usable:
        per_array = min(tile_rows // k, usable // cols_per_group)
        placed, left = [], groups
        while left > 0:
            take = min(per_array, left)
            placed.append(Placed(take * k, take * cols_per_group + ref))
            left -= take
        return placed, 1, len(placed)
    placed = []
    row_chunks = [min(tile_rows, k - r) for r in range(0, k, tile_rows)]
    col_chunks = [min(usable, cols_per_group - c) for c in range(0, cols_per_group, usable)]
    for _ in range(groups):
        for rows in row_chunks:
            for cols in col_chunks:
                placed.append(Placed(rows, cols + ref))
    return placed, len(row_chunks), len(col_chunks)


def _copies(m: int, p: IMCProfile) -> int:
    return max(1, min(p.chip.max_duplication, m // p.chip.min_vectors_per_copy))


def reference_imc(w: Workload, p: IMCProfile, f_dac: Sequence[float] | None = None,
                  f_cell: Sequence[float] | None = None) -> tuple[list[dict], dict]:
    """``f_dac`` / ``f_cell``: per-row value-aware factors of the DAC and the cell-read energy (ones if None)."""
    a, c = p.array, p.chip
    apt = p.arrays_per_tile
    adc = adc_figures(p.adc, technology_nm=p.technology_nm, clock_ghz=p.clock_ghz)
    static = [i for i in range(len(w)) if int(w.kind[i]) in (OpKind.CONV, OpKind.LINEAR)]
    layout = {i: place(int(w.k[i]), int(w.n[i]), int(w.groups[i]), int(w.kernel[i]), p) for i in static}
    n_arrays = {i: len(layout[i][0]) for i in static}
    needed = sum(n_arrays.values())

    def tiles_with(cap: int) -> int:
        return sum(math.ceil(n_arrays[i] * min(_copies(int(w.m[i]), p), cap) / apt) for i in static)

    fits, cap = True, c.max_duplication
    if c.tiles != "auto":
        if tiles_with(1) > c.tiles:
            fits, cap = False, 1
        else:
            while cap > 1 and tiles_with(cap) > c.tiles:
                cap -= 1
    chip_tiles = tiles_with(cap) if c.tiles == "auto" else c.tiles
    on_chip = chip_tiles * apt
    over = needed - on_chip if not fits and c.on_overflow == "reprogram" else 0
    e_write_total = over * a.rows * a.cols * a.write_energy_per_cell_pj
    t_write = over / on_chip * a.rows * a.write_latency_per_row_ns if on_chip else 0.0
    leak_uw = on_chip * a.leakage_power_uw + (c.leakage_power_mw + p.digital.leakage_power_mw) * 1e3
    cycles = math.ceil(p.precision.input_bits / a.dac_bits)
    converted_cycles = 1 if a.input_accumulation == "analog" else cycles
    dops_per_ns = p.digital.ops_per_cycle * p.clock_ghz
    layers = []
    for i in range(len(w)):
        m = int(w.m[i])
        io_bytes = (float(w.in_elems[i]) * p.precision.input_bits
                    + float(w.out_elems[i]) * p.precision.output_bits) / 8
        r = dict.fromkeys(("arrays", "duplication", "tiles", "utilisation", "row_tiles", "col_tiles",
                           "input_cycles", "row_groups", "adc_conversions", "read_steps", "energy_array_pj",
                           "energy_adc_pj", "energy_dac_pj", "energy_shift_add_pj", "energy_accumulate_pj",
                           "energy_digital_pj", "energy_write_pj"), 0.0)
        r["energy_buffer_pj"] = io_bytes * p.buffer.energy_per_byte_pj
        r["energy_interconnect_pj"] = io_bytes * p.buffer.interconnect_energy_per_byte_pj
        if i in layout:
            placed, row_tiles, col_tiles = layout[i]
            cpo, _ = columns_per_output(p)
            d = min(_copies(m, p), cap)
            groups_of_rows = [math.ceil(x.rows / a.rows_parallel) for x in placed]
            column_reads = m * cycles * sum(x.cols * g for x, g in zip(placed, groups_of_rows, strict=True))
            conversions = column_reads // cycles * converted_cycles
            cell_reads = m * cycles * sum(x.cols * x.rows for x in placed)
            row_drives = m * cycles * sum(x.rows for x in placed)
            adds = m * int(w.n[i]) * (row_tiles - 1)
            steps = math.ceil(m / d) * cycles * max(groups_of_rows)
            weight_cells = int(w.k[i]) * int(w.n[i]) * cpo
            r.update(
                arrays=len(placed), duplication=d, tiles=math.ceil(len(placed) * d / apt),
                utilisation=weight_cells / (len(placed) * a.rows * a.cols), row_tiles=row_tiles,
                col_tiles=col_tiles,
                input_cycles=cycles, row_groups=max(groups_of_rows), adc_conversions=conversions,
                read_steps=steps,
                energy_array_pj=cell_reads * a.read_energy_per_cell_fj * 1e-3 * (f_cell[i] if f_cell else 1.0)
                + column_reads * a.bitline_energy_per_column_fj * 1e-3,
                energy_adc_pj=conversions * adc.energy_pj,
                energy_dac_pj=row_drives * a.dac_energy_per_row_fj * 1e-3 * (f_dac[i] if f_dac else 1.0),
                energy_shift_add_pj=conversions * a.shift_add_energy_fj * 1e-3,
                energy_accumulate_pj=adds * p.digital.accumulate_energy_pj,
                energy_write_pj=e_write_total * len(placed) / needed if over > 0 else 0.0,
            )
            reads_ns = steps * a.read_latency_ns
            convert_ns = math.ceil(m / d) * max(groups_of_rows) * converted_cycles * a.cols_per_adc * adc.latency_ns
            latency = reads_ns + convert_ns + io_bytes / p.buffer.bandwidth_gb_per_s + adds / dops_per_ns
        else:
            r["energy_digital_pj"] = float(w.macs[i]) * p.digital.energy_per_op_pj
            latency = float(w.macs[i]) / dops_per_ns + io_bytes / p.buffer.bandwidth_gb_per_s
        r["latency_ns"] = latency
        r["energy_leakage_pj"] = leak_uw * latency * 1e-3
        r["macs"] = float(w.macs[i])
        layers.append(r)
    cells_w = sum(int(w.k[i]) * int(w.n[i]) * columns_per_output(p)[0] for i in static)
    arrays_used = sum(n_arrays[i] * min(_copies(int(w.m[i]), p), cap) for i in static)
    totals = _sum_layers(layers, w)
    totals["latency_ms"] += t_write * 1e-6
    totals["energy_leakage_uj"] += leak_uw * t_write * 1e-9
    totals["energy_uj"] += leak_uw * t_write * 1e-9
    n_adcs = a.cols / a.cols_per_adc
    areas = {
        "area_cells_mm2": on_chip * a.rows * a.cols * a.cell_area_um2 * 1e-6,
        "area_adc_mm2": on_chip * n_adcs * adc.area_um2 * 1e-6,
        "area_periphery_mm2": (on_chip * a.periphery_area_um2 + chip_tiles * c.tile_periphery_area_um2) * 1e-6,
        "area_buffer_mm2": p.buffer.area_mm2,
        "area_digital_mm2": p.digital.area_mm2,
    }
    totals.update(areas)
    totals.update(
        area_mm2=sum(areas.values()), arrays_needed=needed, arrays_used=arrays_used if fits else on_chip,
        arrays_on_chip=on_chip, tiles=chip_tiles, fits=1.0 if fits else 0.0,
        feasible=1.0 if fits or c.on_overflow == "reprogram" else 0.0,
        utilisation=cells_w / (needed * a.rows * a.cols) if needed else 0.0,
        write_latency_ms=t_write * 1e-6, leakage_power_mw=leak_uw * 1e-3,
    )
    return layers, totals


def _sum_layers(layers: list[dict], w: Workload) -> dict:
    comps = ("array", "adc", "dac", "shift_add", "accumulate", "buffer", "interconnect", "digital", "leakage",
             "write")
    totals = {f"energy_{c}_uj": sum(r[f"energy_{c}_pj"] for r in layers) * 1e-6 for c in comps}
    for r in layers:
        r["energy_pj"] = sum(r[f"energy_{c}_pj"] for c in comps)
    totals["energy_uj"] = sum(r["energy_pj"] for r in layers) * 1e-6
    totals["latency_ms"] = sum(r["latency_ns"] for r in layers) * 1e-6
    totals["pipeline_stage_ms"] = max((r["latency_ns"] for r in layers), default=0.0) * 1e-6
    totals["adc_conversions"] = sum(r.get("adc_conversions", 0.0) for r in layers)
    totals["macs"] = sum(float(w.macs[i]) for i in range(len(w)) if int(w.kind[i]) <= OpKind.DYNAMIC_MATMUL)
    return totals


def reference_digital(w: Workload, p: DigitalProfile) -> tuple[list[dict], dict]:
    e = p.efficiency
    layers = []
    for i in range(len(w)):
        kind = OpKind(int(w.kind[i]))
        mem = (float(w.in_elems[i]) + float(w.out_elems[i])) * p.precision.input_bits / 8 \
            + float(w.params[i]) * p.precision.weight_bits / 8
        macs = float(w.macs[i])
        if kind == OpKind.CONV:
            if int(w.groups[i]) > 1 and int(w.k[i]) == int(w.kernel[i]):
                eff = e.depthwise
            elif int(w.kernel[i]) == 1 and e.pointwise is not None:
                eff = e.pointwise
            else:
                eff = e.conv
            compute = macs / (p.peak_gmacs_per_s * eff)
        elif kind == OpKind.LINEAR:
            compute = macs / (p.peak_gmacs_per_s * e.linear)
        elif kind == OpKind.DYNAMIC_MATMUL:
            compute = macs / (p.peak_gmacs_per_s * e.dynamic_matmul)
        else:
            compute = macs / (p.elementwise_gops_per_s * e.elementwise)
        latency = max(compute, mem / p.bandwidth_gb_per_s) + p.layer_overhead_ns
        r = dict.fromkeys(("energy_array_pj", "energy_adc_pj", "energy_dac_pj", "energy_shift_add_pj",
                           "energy_accumulate_pj", "energy_interconnect_pj", "energy_write_pj"), 0.0)
        per_op = p.energy_per_mac_pj if kind <= OpKind.DYNAMIC_MATMUL else p.energy_per_op_pj
        r["energy_digital_pj"] = macs * per_op
        r["energy_buffer_pj"] = mem * p.energy_per_byte_pj
        r["energy_leakage_pj"] = p.static_power_mw * 1e3 * latency * 1e-3
        r["latency_ns"] = latency
        r["macs"] = macs
        layers.append(r)
    totals = _sum_layers(layers, w)
    totals.update(area_mm2=p.area_mm2, area_digital_mm2=p.area_mm2, fits=1.0, feasible=1.0,
                  leakage_power_mw=p.static_power_mw)
    return layers, totals


def reference(w: Workload, p: IMCProfile | DigitalProfile, f_dac: Sequence[float] | None = None,
              f_cell: Sequence[float] | None = None) -> tuple[list[dict], dict]:
    return reference_imc(w, p, f_dac, f_cell) if isinstance(p, IMCProfile) else reference_digital(w, p)
