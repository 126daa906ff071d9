"""Numba kernels of the cost model (docs/design.md §4). Arrays in, arrays out; units pJ, ns, um^2 inside.

Mapping of one static-weight layer (reduction K per group, N outputs, G groups) on ``rows x cols`` arrays:

- slices S = ceil(wb_eff / cell_bits); differential: wb_eff = wb - 1 and 2S columns per output; offset: S
  columns per output and one reference column per array; signed: wb_eff = wb - 1 and S columns, each
  cross-point holding a signed value (as ``nas_edge.analog`` slices it).
- dense (G = 1, or a group larger than one array): row tiles ceil(K / rows) (or whole kernels per tile when
  the profile keeps kernels whole), column tiles ceil(N_g * cpo / usable_cols), arrays = G * row * col tiles.
- grouped/depthwise: groups packed block-diagonally, min(rows // K_g, usable_cols // (N_g * cpo)) per array.
- column reads = M * input_cycles * sum over arrays of (used columns * row groups); cell reads and row
  drives likewise; ADC conversions = column reads, or column reads / input_cycles when the input cycles are
  accumulated on the column (``input_accumulation: analog``); read steps = ceil(M / copies) * input_cycles *
  row groups, each taking t_read, plus cols_per_adc * t_adc per conversion of a column group.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from nas_edge.cost.layout import N_LAYER, N_TOTAL, L, P, T

F = TypeVar("F", bound=Callable[..., Any])


def _jit(**options: Any) -> Callable[[F], F]:
    """``numba.njit`` keeping the function's signature for the type checker (numba's own types do not)."""
    return cast(Callable[[F], F], njit(**options))


F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

# numba folds module-level ints into constants
_KIND = P["kind"]
_WB = P["weight_bits"]
_IB = P["input_bits"]
_OB = P["output_bits"]
_ROWS = P["rows"]
_COLS = P["cols"]
_CB = P["cell_bits"]
_RP = P["rows_parallel"]
_CPA = P["cols_per_adc"]
_DACB = P["dac_bits"]
_MAP = P["mapping"]
_KEEPK = P["keep_kernels_whole"]
_ANALOG = P["analog_accum"]
_ECOL = P["e_col_pj"]
_ECELL = P["e_cell_pj"]
_TREAD = P["t_read_ns"]
_EDAC = P["e_dac_pj"]
_ESA = P["e_shift_add_pj"]
_ACELL = P["a_cell_um2"]
_APER = P["a_periph_um2"]
_LEAKA = P["leak_array_uw"]
_EWR = P["e_write_cell_pj"]
_TWR = P["t_write_row_ns"]
_EADC = P["e_adc_pj"]
_TADC = P["t_adc_ns"]
_AADC = P["a_adc_um2"]
_EBUF = P["e_buf_pj"]
_BW = P["bw_bytes_per_ns"]
_EIC = P["e_ic_pj"]
_ABUF = P["a_buf_um2"]
_EDOP = P["e_dop_pj"]
_DOPS = P["dops_per_ns"]
_EACC = P["e_acc_pj"]
_ADIG = P["a_dig_um2"]
_LEAKD = P["leak_dig_uw"]
_APT = P["arrays_per_tile"]
_TILES = P["tiles"]
_REPROG = P["reprogram"]
_MAXDUP = P["max_dup"]
_MINVEC = P["min_vectors"]
_ATILE = P["a_tile_um2"]
_LEAKC = P["leak_chip_uw"]
_PEAK = P["peak_macs_per_ns"]
_EWOPS = P["ew_ops_per_ns"]
_EFFC = P["eff_conv"]
_EFFPW = P["eff_pw"]
_EFFDW = P["eff_dw"]
_EFFL = P["eff_linear"]
_EFFDMM = P["eff_dmm"]
_EFFEW = P["eff_ew"]
_EMAC = P["e_mac_pj"]
_EOP = P["e_op_pj"]
_EBYTE = P["e_byte_pj"]
_OVH = P["overhead_ns"]
_STATIC = P["static_uw"]
_AREA = P["area_um2"]
_L_ADC_CONVERSIONS = L["adc_conversions"]
_L_ARRAYS = L["arrays"]
_L_COL_TILES = L["col_tiles"]
_L_DUPLICATION = L["duplication"]
_L_ENERGY_ACCUMULATE_PJ = L["energy_accumulate_pj"]
_L_ENERGY_ADC_PJ = L["energy_adc_pj"]
_L_ENERGY_ARRAY_PJ = L["energy_array_pj"]
_L_ENERGY_BUFFER_PJ = L["energy_buffer_pj"]
_L_ENERGY_DAC_PJ = L["energy_dac_pj"]
_L_ENERGY_DIGITAL_PJ = L["energy_digital_pj"]
_L_ENERGY_INTERCONNECT_PJ = L["energy_interconnect_pj"]
_L_ENERGY_LEAKAGE_PJ = L["energy_leakage_pj"]
_L_ENERGY_PJ = L["energy_pj"]
_L_ENERGY_SHIFT_ADD_PJ = L["energy_shift_add_pj"]
_L_ENERGY_WRITE_PJ = L["energy_write_pj"]
_L_INPUT_CYCLES = L["input_cycles"]
_L_LATENCY_NS = L["latency_ns"]
_L_MACS = L["macs"]
_L_READ_STEPS = L["read_steps"]
_L_ROW_GROUPS = L["row_groups"]
_L_ROW_TILES = L["row_tiles"]
_L_TILES = L["tiles"]
_L_UTILISATION = L["utilisation"]
_T_ADC_CONVERSIONS = T["adc_conversions"]
_T_AREA_ADC_MM2 = T["area_adc_mm2"]
_T_AREA_BUFFER_MM2 = T["area_buffer_mm2"]
_T_AREA_CELLS_MM2 = T["area_cells_mm2"]
_T_AREA_DIGITAL_MM2 = T["area_digital_mm2"]
_T_AREA_MM2 = T["area_mm2"]
_T_AREA_PERIPHERY_MM2 = T["area_periphery_mm2"]
_T_ARRAYS_NEEDED = T["arrays_needed"]
_T_ARRAYS_ON_CHIP = T["arrays_on_chip"]
_T_ARRAYS_USED = T["arrays_used"]
_T_ENERGY_ARRAY_UJ = T["energy_array_uj"]
_T_ENERGY_LEAKAGE_UJ = T["energy_leakage_uj"]
_T_ENERGY_UJ = T["energy_uj"]
_T_FITS = T["fits"]
_T_EDP_UJ_MS = T["edp_uj_ms"]
_T_TOPS_PER_MM2 = T["tops_per_mm2"]
_T_TOPS_PER_W = T["tops_per_w"]
_T_TOPS = T["tops"]
_T_FRAMES_PER_S_PIPELINED = T["frames_per_s_pipelined"]
_T_FRAMES_PER_S = T["frames_per_s"]
_T_FEASIBLE = T["feasible"]
_T_LATENCY_MS = T["latency_ms"]
_T_LEAKAGE_POWER_MW = T["leakage_power_mw"]
_T_MACS = T["macs"]
_T_PIPELINE_STAGE_MS = T["pipeline_stage_ms"]
_T_TILES = T["tiles"]
_T_UTILISATION = T["utilisation"]
_T_WRITE_LATENCY_MS = T["write_latency_ms"]

# layer kinds (OpKind)
_CONV, _LINEAR, _DMM = 0, 1, 2


@_jit(cache=True, inline="always")
def _cdiv(a: int, b: int) -> int:
    return (a + b - 1) // b


@_jit(cache=True)
def _columns(p: F64) -> tuple[int, int]:
    """(columns per output, reference columns per array)."""
    wb, cb, mapping = int(p[_WB]), int(p[_CB]), int(p[_MAP])
    if mapping == 0:  # differential
        return 2 * max(1, _cdiv(wb - 1, cb)), 0
    if mapping == 1:  # offset
        return _cdiv(wb, cb), 1
    return max(1, _cdiv(wb - 1, cb)), 0  # signed: the device pair carries the sign, slices hold the magnitude


@_jit(cache=True)
def _geometry(k: int, n: int, g: int, kern: int, p: F64) -> tuple[int, int, int, int, int, int]:
    """(rows per row tile, usable columns, columns per group, reference columns, groups per array or 0,
    columns per output).

    Groups per array > 0 means the groups are packed block-diagonally (each group fits in one array).
    """
    rows, cols = int(p[_ROWS]), int(p[_COLS])
    cpo, ref = _columns(p)
    usable = cols - ref
    need_cols = (n // g) * cpo
    tile_rows = rows
    if p[_KEEPK] > 0.5 and kern > 1 and kern <= rows:
        tile_rows = (rows // kern) * kern
    gpa = 0
    if g > 1 and k <= tile_rows and need_cols <= usable:
        gpa = min(tile_rows // k, usable // need_cols)
    return tile_rows, usable, need_cols, ref, gpa, cpo


@_jit(cache=True)
def _arrays_only(k: int, n: int, g: int, kern: int, p: F64) -> int:
    tile_rows, usable, need_cols, _, gpa, _ = _geometry(k, n, g, kern, p)
    if gpa > 0:
        return _cdiv(g, gpa)
    return g * _cdiv(k, tile_rows) * _cdiv(need_cols, usable)


@_jit(cache=True)
def _map_static(k: int, n: int, g: int, kern: int, p: F64, out: F64) -> None:
    """Map one static layer; writes arrays, row/col tiles, row groups and the per-vector sums.

    out: [arrays, row_tiles, col_tiles, row_groups(max), sum(cols*row_groups), sum(cols*rows_active),
          sum(rows_active), weight_cells]
    """
    rp = int(p[_RP])
    tile_rows, usable, need_cols, ref, gpa, cpo = _geometry(k, n, g, kern, p)
    if gpa > 0:
        full = g // gpa
        rem = g - full * gpa
        arrays = full + (1 if rem > 0 else 0)
        rows_act = gpa * k
        cols_used = gpa * need_cols + ref
        rg = _cdiv(rows_act, rp)
        s_conv = full * cols_used * rg
        s_cell = full * cols_used * rows_act
        s_rows = full * rows_act
        rg_max = rg if full > 0 else 0
        if rem > 0:
            rows_r = rem * k
            cols_r = rem * need_cols + ref
            rg_r = _cdiv(rows_r, rp)
            s_conv += cols_r * rg_r
            s_cell += cols_r * rows_r
            s_rows += rows_r
            rg_max = max(rg_max, rg_r)
        row_tiles, col_tiles = 1, arrays
    else:
        row_tiles = _cdiv(k, tile_rows)
        last_rows = k - (row_tiles - 1) * tile_rows
        col_tiles = _cdiv(need_cols, usable)
        cols_total = need_cols + col_tiles * ref
        rg_full = _cdiv(min(tile_rows, k), rp)
        rg_last = _cdiv(last_rows, rp)
        s_conv = g * ((row_tiles - 1) * rg_full + rg_last) * cols_total
        s_cell = g * k * cols_total
        s_rows = g * k * col_tiles
        arrays = g * row_tiles * col_tiles
        rg_max = rg_full
    out[0] = arrays
    out[1] = row_tiles
    out[2] = col_tiles
    out[3] = rg_max
    out[4] = s_conv
    out[5] = s_cell
    out[6] = s_rows
    out[7] = float(k) * n * cpo


@_jit(cache=True)
def _wanted_copies(m: int, p: F64) -> int:
    return max(1, min(int(p[_MAXDUP]), int(m) // int(p[_MINVEC])))


@_jit(cache=True)
def _imc_network(kind: I64, k: I64, n: I64, m: I64, g: I64, kern: I64, macs: F64, in_el: F64, out_el: F64, s: int,
                 e: int, p: F64, f_dac: F64, f_cell: F64, layers: F64, write_layers: bool, tot: F64) -> None:
    """Cost of rows s..e of a workload on one IMC profile. Fills ``tot`` (and ``layers`` if asked).
    ``f_dac`` / ``f_cell`` scale each row's DAC and cell-read energy (value-aware energy; ones when blind)."""
    apt = int(p[_APT])
    fixed_tiles = int(p[_TILES])
    maxdup = int(p[_MAXDUP])
    # pass 1: arrays per layer, and the chip they need with every layer at its wanted copies
    arrays_needed = 0.0
    tiles_needed = 0.0
    arrays_used = 0.0
    tiles_used = 0.0
    for i in range(s, e):
        if kind[i] == _CONV or kind[i] == _LINEAR:
            a = _arrays_only(k[i], n[i], g[i], kern[i], p)
            d = _wanted_copies(m[i], p)
            arrays_needed += a
            tiles_needed += _cdiv(a, apt)
            arrays_used += a * d
            tiles_used += _cdiv(a * d, apt)
    # a fixed chip caps the copies so that everything fits (or nothing is copied when even that fails)
    cap = maxdup
    fits = 1.0
    if fixed_tiles > 0 and tiles_used > fixed_tiles:
        if tiles_needed > fixed_tiles:
            fits = 0.0
            cap = 1
        else:
            while cap > 1:
                cap -= 1
                arrays_used = 0.0
                tiles_used = 0.0
                for i in range(s, e):
                    if kind[i] == _CONV or kind[i] == _LINEAR:
                        a = _arrays_only(k[i], n[i], g[i], kern[i], p) * min(_wanted_copies(m[i], p), cap)
                        arrays_used += a
                        tiles_used += _cdiv(a, apt)
                if tiles_used <= fixed_tiles:
                    break
        if fits == 0.0:
            arrays_used = arrays_needed
            tiles_used = tiles_needed
    chip_tiles = tiles_used if fixed_tiles == 0 else float(fixed_tiles)
    arrays_chip = chip_tiles * apt
    # reprogramming: weights beyond capacity are rewritten every inference
    arrays_over = 0.0
    if fits == 0.0 and p[_REPROG] > 0.5:
        arrays_over = arrays_needed - arrays_chip
    rows, cols = p[_ROWS], p[_COLS]
    e_write = arrays_over * rows * cols * p[_EWR]
    t_write = arrays_over / arrays_chip * rows * p[_TWR] if arrays_chip > 0 else 0.0
    leak_uw = arrays_chip * p[_LEAKA] + p[_LEAKC] + p[_LEAKD]
    ic = _cdiv(int(p[_IB]), int(p[_DACB]))
    conv_cycles = 1 if p[_ANALOG] > 0.5 else ic  # conversions per vector: every input cycle, or once (analog)
    t_convert = conv_cycles * p[_CPA] * p[_TADC]
    ib8, ob8 = p[_IB] / 8.0, p[_OB] / 8.0
    buf = np.zeros(8)
    row = np.zeros(N_LAYER)
    for j in range(N_TOTAL):
        tot[j] = 0.0
    stage_max = 0.0
    cells_w = 0.0
    for i in range(s, e):
        for j in range(N_LAYER):
            row[j] = 0.0
        bytes_io = in_el[i] * ib8 + out_el[i] * ob8
        t_io = bytes_io / p[_BW]
        row[_L_ENERGY_BUFFER_PJ] = bytes_io * p[_EBUF]
        row[_L_ENERGY_INTERCONNECT_PJ] = bytes_io * p[_EIC]
        if kind[i] == _CONV or kind[i] == _LINEAR:
            _map_static(k[i], n[i], g[i], kern[i], p, buf)
            d = min(_wanted_copies(m[i], p), cap)
            vec_ic = m[i] * ic
            conv = m[i] * conv_cycles * buf[4]
            steps = _cdiv(int(m[i]), d) * ic * buf[3]
            adds = float(m[i]) * n[i] * (buf[1] - 1.0)
            row[_L_ARRAYS] = buf[0]
            row[_L_DUPLICATION] = d
            row[_L_TILES] = _cdiv(int(buf[0]) * d, apt)
            row[_L_UTILISATION] = buf[7] / (buf[0] * rows * cols)
            row[_L_ROW_TILES] = buf[1]
            row[_L_COL_TILES] = buf[2]
            row[_L_INPUT_CYCLES] = ic
            row[_L_ROW_GROUPS] = buf[3]
            row[_L_ADC_CONVERSIONS] = conv
            row[_L_READ_STEPS] = steps
            row[_L_ENERGY_ARRAY_PJ] = vec_ic * (buf[5] * p[_ECELL] * f_cell[i] + buf[4] * p[_ECOL])  # every cycle
            row[_L_ENERGY_ADC_PJ] = conv * p[_EADC]
            row[_L_ENERGY_DAC_PJ] = vec_ic * buf[6] * p[_EDAC] * f_dac[i]
            row[_L_ENERGY_SHIFT_ADD_PJ] = conv * p[_ESA]
            row[_L_ENERGY_ACCUMULATE_PJ] = adds * p[_EACC]
            if arrays_over > 0:
                row[_L_ENERGY_WRITE_PJ] = e_write * buf[0] / arrays_needed
            lat = steps * p[_TREAD] + _cdiv(int(m[i]), d) * buf[3] * t_convert + t_io + adds / p[_DOPS]
            cells_w += buf[7]
        else:
            row[_L_ENERGY_DIGITAL_PJ] = macs[i] * p[_EDOP]
            lat = macs[i] / p[_DOPS] + t_io
        row[_L_LATENCY_NS] = lat
        row[_L_ENERGY_LEAKAGE_PJ] = leak_uw * lat * 1e-3
        row[_L_MACS] = macs[i]
        energy = 0.0
        for j in range(_L_ENERGY_ARRAY_PJ, _L_ENERGY_WRITE_PJ + 1):
            energy += row[j]
        row[_L_ENERGY_PJ] = energy
        stage_max = max(stage_max, lat)
        _accumulate(row, kind[i], tot)
        if write_layers:
            for j in range(N_LAYER):
                layers[i - s, j] = row[j]
    # write time and the leakage during it
    tot[_T_LATENCY_MS] += t_write * 1e-6
    tot[_T_ENERGY_LEAKAGE_UJ] += leak_uw * t_write * 1e-9
    tot[_T_ENERGY_UJ] += leak_uw * t_write * 1e-9
    tot[_T_PIPELINE_STAGE_MS] = stage_max * 1e-6
    a_cells = arrays_chip * rows * cols * p[_ACELL]
    a_adc = arrays_chip * (cols / p[_CPA]) * p[_AADC]
    a_per = arrays_chip * p[_APER] + chip_tiles * p[_ATILE]
    tot[_T_AREA_CELLS_MM2] = a_cells * 1e-6
    tot[_T_AREA_ADC_MM2] = a_adc * 1e-6
    tot[_T_AREA_PERIPHERY_MM2] = a_per * 1e-6
    tot[_T_AREA_BUFFER_MM2] = p[_ABUF] * 1e-6
    tot[_T_AREA_DIGITAL_MM2] = p[_ADIG] * 1e-6
    tot[_T_AREA_MM2] = (a_cells + a_adc + a_per + p[_ABUF] + p[_ADIG]) * 1e-6
    tot[_T_ARRAYS_NEEDED] = arrays_needed
    tot[_T_ARRAYS_USED] = arrays_used if fits > 0 else arrays_chip
    tot[_T_ARRAYS_ON_CHIP] = arrays_chip
    tot[_T_TILES] = chip_tiles
    tot[_T_FITS] = fits
    tot[_T_FEASIBLE] = 1.0 if (fits > 0.5 or p[_REPROG] > 0.5) else 0.0
    tot[_T_UTILISATION] = cells_w / (arrays_needed * rows * cols) if arrays_needed > 0 else 0.0
    tot[_T_WRITE_LATENCY_MS] = t_write * 1e-6
    tot[_T_LEAKAGE_POWER_MW] = leak_uw * 1e-3


@_jit(cache=True)
def _accumulate(row: F64, kind: int, tot: F64) -> None:
    """Add one layer's row into the totals (pJ -> uJ, ns -> ms)."""
    tot[_T_ENERGY_UJ] += row[_L_ENERGY_PJ] * 1e-6
    tot[_T_LATENCY_MS] += row[_L_LATENCY_NS] * 1e-6
    tot[_T_ADC_CONVERSIONS] += row[_L_ADC_CONVERSIONS]
    if kind <= _DMM:
        tot[_T_MACS] += row[_L_MACS]
    for c in range(10):
        tot[_T_ENERGY_ARRAY_UJ + c] += row[_L_ENERGY_ARRAY_PJ + c] * 1e-6


@_jit(cache=True)
def _digital_network(kind: I64, k: I64, n: I64, m: I64, g: I64, kern: I64, macs: F64, in_el: F64, out_el: F64,
                     params_: F64, s: int, e: int, p: F64, layers: F64, write_layers: bool, tot: F64) -> None:
    """Roofline cost of rows s..e on a digital (edge) profile."""
    ab8, wb8 = p[_IB] / 8.0, p[_WB] / 8.0
    row = np.zeros(N_LAYER)
    for j in range(N_TOTAL):
        tot[j] = 0.0
    stage_max = 0.0
    for i in range(s, e):
        for j in range(N_LAYER):
            row[j] = 0.0
        bytes_mem = (in_el[i] + out_el[i]) * ab8 + params_[i] * wb8
        kd = kind[i]
        if kd == _CONV:
            if g[i] > 1 and k[i] == kern[i]:
                eff = p[_EFFDW]
            elif kern[i] == 1:
                eff = p[_EFFPW]
            else:
                eff = p[_EFFC]
        elif kd == _LINEAR:
            eff = p[_EFFL]
        elif kd == _DMM:
            eff = p[_EFFDMM]
        else:
            eff = p[_EFFEW]
        if kd <= _DMM:
            t_comp = macs[i] / (p[_PEAK] * eff)
            row[_L_ENERGY_DIGITAL_PJ] = macs[i] * p[_EMAC]
        else:
            t_comp = macs[i] / (p[_EWOPS] * eff)
            row[_L_ENERGY_DIGITAL_PJ] = macs[i] * p[_EOP]
        lat = max(t_comp, bytes_mem / p[_BW]) + p[_OVH]
        row[_L_ENERGY_BUFFER_PJ] = bytes_mem * p[_EBYTE]
        row[_L_ENERGY_LEAKAGE_PJ] = p[_STATIC] * lat * 1e-3
        row[_L_LATENCY_NS] = lat
        row[_L_MACS] = macs[i]
        row[_L_ENERGY_PJ] = row[_L_ENERGY_DIGITAL_PJ] + row[_L_ENERGY_BUFFER_PJ] + row[_L_ENERGY_LEAKAGE_PJ]
        stage_max = max(stage_max, lat)
        _accumulate(row, kd, tot)
        if write_layers:
            for j in range(N_LAYER):
                layers[i - s, j] = row[j]
    tot[_T_PIPELINE_STAGE_MS] = stage_max * 1e-6
    tot[_T_AREA_MM2] = p[_AREA] * 1e-6
    tot[_T_AREA_DIGITAL_MM2] = p[_AREA] * 1e-6
    tot[_T_FITS] = 1.0
    tot[_T_FEASIBLE] = 1.0
    tot[_T_LEAKAGE_POWER_MW] = p[_STATIC] * 1e-3


@_jit(cache=True)
def _derive(tot: F64, batch: float) -> None:
    """Figures derived from the totals: frames/s (both ways), TOPS, TOPS/W, TOPS/mm^2, EDP."""
    ops = 2.0 * tot[_T_MACS]
    lat_s = tot[_T_LATENCY_MS] * 1e-3
    stage_s = tot[_T_PIPELINE_STAGE_MS] * 1e-3
    energy_j = tot[_T_ENERGY_UJ] * 1e-6
    tot[_T_FRAMES_PER_S] = batch / lat_s if lat_s > 0 else 0.0
    tot[_T_FRAMES_PER_S_PIPELINED] = batch / stage_s if stage_s > 0 else 0.0
    tops = ops / lat_s * 1e-12 if lat_s > 0 else 0.0
    tot[_T_TOPS] = tops
    tot[_T_TOPS_PER_W] = ops / energy_j * 1e-12 if energy_j > 0 else 0.0
    tot[_T_TOPS_PER_MM2] = tops / tot[_T_AREA_MM2] if tot[_T_AREA_MM2] > 0 else 0.0
    tot[_T_EDP_UJ_MS] = tot[_T_ENERGY_UJ] * tot[_T_LATENCY_MS]


@_jit(cache=True)
def network_cost(kind: I64, k: I64, n: I64, m: I64, g: I64, kern: I64, macs: F64, params_: F64, in_el: F64,
                 out_el: F64, p: F64, batch: float, f_dac: F64, f_cell: F64, layers: F64, tot: F64) -> None:
    """One network on one profile, per-layer rows into ``layers`` (n_rows x N_LAYER), totals into ``tot``;
    ``f_dac`` / ``f_cell``: per-row value-aware factors of the DAC and cell-read energy (IMC only)."""
    e = kind.shape[0]
    if p[_KIND] < 0.5:
        _imc_network(kind, k, n, m, g, kern, macs, in_el, out_el, 0, e, p, f_dac, f_cell, layers, True, tot)
    else:
        _digital_network(kind, k, n, m, g, kern, macs, in_el, out_el, params_, 0, e, p, layers, True, tot)
    _derive(tot, batch)


@_jit(cache=True, parallel=True)
def batch_cost(kind: I64, k: I64, n: I64, m: I64, g: I64, kern: I64, macs: F64, params_: F64, in_el: F64,
               out_el: F64, offsets: I64, batch: F64, pmat: F64, wi: I64, pi: I64, tot: F64) -> None:
    """Many (network, profile) pairs at once: pair j costs rows offsets[wi[j]]:offsets[wi[j]+1] on pmat[pi[j]]."""
    dummy = np.zeros((1, N_LAYER))
    blind = np.ones(kind.shape[0])
    for j in prange(wi.shape[0]):
        s, e = offsets[wi[j]], offsets[wi[j] + 1]
        p = pmat[pi[j]]
        if p[_KIND] < 0.5:
            _imc_network(kind, k, n, m, g, kern, macs, in_el, out_el, s, e, p, blind, blind, dummy, False, tot[j])
        else:
            _digital_network(kind, k, n, m, g, kern, macs, in_el, out_el, params_, s, e, p, dummy, False, tot[j])
        _derive(tot[j], batch[wi[j]])


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


__all__ = ["batch_cost", "ceil_div", "network_cost"]
