"""Array layouts shared by the kernels and the Python side: profile parameter vector, per-layer and total
output columns. The kernels see only these float64 arrays, never Python objects."""

from __future__ import annotations

import numpy as np

from nas_edge.hardware.adc import adc_figures
from nas_edge.hardware.schema import MAPPINGS, DigitalProfile, IMCProfile

# ---- profile parameter vector ---------------------------------------------------------------------------
PARAM_NAMES = (
    "kind",  # 0 imc, 1 digital
    "weight_bits", "input_bits", "output_bits", "clock_ghz",
    # imc array
    "rows", "cols", "cell_bits", "rows_parallel", "cols_per_adc", "dac_bits", "mapping", "keep_kernels_whole",
    "analog_accum",
    "e_cell_pj", "e_col_pj", "t_read_ns", "e_dac_pj", "e_shift_add_pj", "a_cell_um2", "a_periph_um2", "leak_array_uw",
    "e_write_cell_pj", "t_write_row_ns",
    # adc
    "e_adc_pj", "t_adc_ns", "a_adc_um2",
    # buffer / interconnect
    "e_buf_pj", "bw_bytes_per_ns", "e_ic_pj", "a_buf_um2",
    # digital unit of the imc chip
    "e_dop_pj", "dops_per_ns", "e_acc_pj", "a_dig_um2", "leak_dig_uw",
    # chip
    "arrays_per_tile", "tiles", "reprogram", "max_dup", "min_vectors", "a_tile_um2", "leak_chip_uw",
    # digital (edge) profile
    "peak_macs_per_ns", "ew_ops_per_ns", "eff_conv", "eff_pw", "eff_dw", "eff_linear", "eff_dmm", "eff_ew",
    "e_mac_pj", "e_op_pj", "e_byte_pj", "overhead_ns", "static_uw", "area_um2",
)
P = {name: i for i, name in enumerate(PARAM_NAMES)}
N_PARAMS = len(PARAM_NAMES)

# ---- per-layer outputs ----------------------------------------------------------------------------------
LAYER_FIELDS = (
    "arrays", "duplication", "tiles", "utilisation", "row_tiles", "col_tiles", "input_cycles", "row_groups",
    "adc_conversions", "read_steps",
    "energy_array_pj", "energy_adc_pj", "energy_dac_pj", "energy_shift_add_pj", "energy_accumulate_pj",
    "energy_buffer_pj", "energy_interconnect_pj", "energy_digital_pj", "energy_leakage_pj", "energy_write_pj",
    "energy_pj", "latency_ns", "macs",
)
L = {name: i for i, name in enumerate(LAYER_FIELDS)}
N_LAYER = len(LAYER_FIELDS)
ENERGY_COMPONENTS = ("array", "adc", "dac", "shift_add", "accumulate", "buffer", "interconnect", "digital",
                     "leakage", "write")

# ---- totals ---------------------------------------------------------------------------------------------
TOTAL_FIELDS = (
    "energy_uj", "latency_ms", "pipeline_stage_ms", "area_mm2",
    "area_cells_mm2", "area_adc_mm2", "area_periphery_mm2", "area_buffer_mm2", "area_digital_mm2",
    *(f"energy_{c}_uj" for c in ENERGY_COMPONENTS),
    "arrays_needed", "arrays_used", "arrays_on_chip", "tiles", "fits", "feasible", "utilisation", "adc_conversions",
    "macs", "write_latency_ms", "leakage_power_mw",
    # derived (ops = 2 x MACs of static and dynamic matmuls)
    "frames_per_s", "frames_per_s_pipelined", "tops", "tops_per_w", "tops_per_mm2", "edp_uj_ms",
)
T = {name: i for i, name in enumerate(TOTAL_FIELDS)}
N_TOTAL = len(TOTAL_FIELDS)


def profile_params(profile: IMCProfile | DigitalProfile) -> np.ndarray:
    """Flatten a validated profile into the kernels' parameter vector (ADC model already applied)."""
    p = np.zeros(N_PARAMS)
    v = {
        "weight_bits": profile.precision.weight_bits, "input_bits": profile.precision.input_bits,
        "output_bits": profile.precision.output_bits, "clock_ghz": profile.clock_ghz,
    }
    if isinstance(profile, IMCProfile):
        a, b, d, c = profile.array, profile.buffer, profile.digital, profile.chip
        adc = adc_figures(profile.adc, technology_nm=profile.technology_nm, clock_ghz=profile.clock_ghz)
        v.update(
            kind=0, rows=a.rows, cols=a.cols, cell_bits=a.cell_bits, rows_parallel=a.rows_parallel,
            cols_per_adc=a.cols_per_adc, dac_bits=a.dac_bits, mapping=MAPPINGS.index(a.mapping),
            keep_kernels_whole=float(a.keep_kernels_whole), analog_accum=float(a.input_accumulation == "analog"),
            e_cell_pj=a.read_energy_per_cell_fj * 1e-3,
            e_col_pj=a.bitline_energy_per_column_fj * 1e-3,
            t_read_ns=a.read_latency_ns, e_dac_pj=a.dac_energy_per_row_fj * 1e-3,
            e_shift_add_pj=a.shift_add_energy_fj * 1e-3, a_cell_um2=a.cell_area_um2,
            a_periph_um2=a.periphery_area_um2, leak_array_uw=a.leakage_power_uw,
            e_write_cell_pj=a.write_energy_per_cell_pj, t_write_row_ns=a.write_latency_per_row_ns,
            e_adc_pj=adc.energy_pj, t_adc_ns=adc.latency_ns, a_adc_um2=adc.area_um2,
            e_buf_pj=b.energy_per_byte_pj, bw_bytes_per_ns=b.bandwidth_gb_per_s,
            e_ic_pj=b.interconnect_energy_per_byte_pj, a_buf_um2=b.area_mm2 * 1e6,
            e_dop_pj=d.energy_per_op_pj, dops_per_ns=d.ops_per_cycle * profile.clock_ghz,
            e_acc_pj=d.accumulate_energy_pj, a_dig_um2=d.area_mm2 * 1e6, leak_dig_uw=d.leakage_power_mw * 1e3,
            arrays_per_tile=profile.arrays_per_tile, tiles=0.0 if c.tiles == "auto" else c.tiles,
            reprogram=float(c.on_overflow == "reprogram"), max_dup=c.max_duplication,
            min_vectors=c.min_vectors_per_copy, a_tile_um2=c.tile_periphery_area_um2,
            leak_chip_uw=c.leakage_power_mw * 1e3,
        )
    else:
        e = profile.efficiency
        v.update(
            kind=1, peak_macs_per_ns=profile.peak_gmacs_per_s, ew_ops_per_ns=profile.elementwise_gops_per_s,
            eff_conv=e.conv, eff_pw=e.pointwise if e.pointwise is not None else e.conv,
            eff_dw=e.depthwise, eff_linear=e.linear, eff_dmm=e.dynamic_matmul,
            eff_ew=e.elementwise, bw_bytes_per_ns=profile.bandwidth_gb_per_s, e_mac_pj=profile.energy_per_mac_pj,
            e_op_pj=profile.energy_per_op_pj, e_byte_pj=profile.energy_per_byte_pj,
            overhead_ns=profile.layer_overhead_ns, static_uw=profile.static_power_mw * 1e3,
            area_um2=profile.area_mm2 * 1e6,
        )
    for name, value in v.items():
        p[P[name]] = float(value)
    return p
