"""Technology scaling: a profile's figures stated at one node, costed at another.

Each figure that depends on the node follows one rule (:data:`IMC_FIGURES`, :data:`DIGITAL_FIGURES`); a rule
is a factor ``value(to_nm) / value(from_nm)`` read from a table of published per-node values, interpolated
log-log between the tabulated nodes. Nothing here is fitted to any result.

Rules and their sources:

- ``logic_area`` — Stillmaker & Baas, "Scaling equations for the accurate prediction of CMOS device
  performance from 180 nm to 7 nm", Integration 58 (2017): area factors (22 nm interpolated between their
  32 and 20 nm); below 7 nm, the footprint of DNN+NeuroSim V1.4's standard cell relative to its 7 nm cell:
  contacted poly pitch x cell height x node² (``constant.h``, ``formula.cpp`` ``CalculateGateArea``; IRDS
  2021-2022 values: 8.14 x 34.3 F at 7 nm, 10.2 x 36 at 5, 16 x 48 at 3, 22.5 x 57 at 2, 40 x 80 F at 1 nm,
  the gate-all-around cells growing in F as the node shrinks).
- ``logic_energy`` / ``logic_delay`` — Stillmaker & Baas's low-power energy and delay polynomials in the
  supply voltage, evaluated at NeuroSim's LSTP supply of each node (``Technology.cpp``: 1.0 V at 45 nm ...
  0.7 V at 7 nm); below 7 nm, ``C·Vdd²`` and ``C·Vdd/I_on`` of a minimum device with NeuroSim's gate
  capacitance, on-current and supply at 5, 3, 2 and 1 nm.
- ``logic_power`` (leakage) = ``logic_energy / logic_delay``; ``logic_speed`` (clock, throughput) =
  ``1 / logic_delay``.
- ``sram_cell_area`` — NeuroSim's SRAM cell size in F² per node (``Param.cpp``: 280 F² at 22 nm and above,
  326 F² at 14 nm ... 11 520 F² at 1 nm) times the node squared. Other memories (1T1R RRAM, PCM, ...) have
  cells set by their access transistor: ``logic_area``. (``cell_area`` picks by ``array.memory``.)
- ``adc_energy`` — NeuroSim's SAR ADC power fits per node (``SarADC.cpp``, LSTP: ``a·N + b`` µW for an N-bit
  conversion).
- ``sram_read_energy`` (array read energy per cell and per column of SRAM) — DNN+NeuroSim V1.4's SRAM read
  path per column read in its default configuration (the one of the manual's Table VII: 128 x 128
  subarrays, 64 rows in parallel, current-mode multi-level sense amplifiers, LSTP devices): word-line and
  bit-line charging and repeaters (``SubArray.cpp``, ``capRow1·Vdd²``) plus the sense amplifiers
  (``MultilevelSenseAmp.cpp``: per-node fits of the current-mirror power against the column resistance, which
  falls with the access transistor's on-resistance, ``Technology.cpp``). No closed form: the factors are
  those two energies summed, from NeuroSim V1.4 itself run at each node on one VGG-8 layer (128 -> 128
  channels, 3x3, 32x32) with synthetic 8-bit activations: 0.666 at 14 nm, 0.433 at 7, 0.358 at 5, 0.198 at
  1 nm of the 22 nm value. (Its 5 nm and 1 nm chip totals are the hold-out of ``benchmarks/fidelity.py``; this
  term is NeuroSim's own, so the hold-out checks the rest of the scaling and how the terms add up.)
- ``column_energy`` (array read energy of other memories) — the read-current term of NeuroSim's SAR fits
  (``c / R_column``: ``c`` per node).

Not scaled: buffer and interconnect bandwidth (set by on-chip wires, whose resistance per length grows at
small nodes — NeuroSim's wire tables — rather than by transistor speed), write energy and latency (device
physics), an edge device's off-chip bandwidth and energy per byte, and every count (rows, bits, tiles).

Scaling covers 1–45 nm (:data:`RANGE_NM`): Stillmaker & Baas's low-power polynomials start at 45 nm, NeuroSim's
tables end at 1 nm. A profile is only scaled when asked (``figures_nm``, or a ``base`` at another node); a
profile costed at its own node may have any ``technology_nm``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from nas_edge.errors import NasEdgeError

RANGE_NM = (1.0, 45.0)

# ---- Stillmaker & Baas 2017 --------------------------------------------------------------------------------
#: area relative to 180 nm
_SB_AREA = {130: 1 / 2.9, 90: 1 / 6.6, 65: 1 / 12, 45: 1 / 19, 32: 1 / 40, 20: 1 / 88, 16: 1 / 99, 14: 1 / 110,
            10: 1 / 180, 7: 1 / 320}
#: low-power delay (cubic in Vdd, highest power first) and energy (quadratic) polynomials
_SB_DELAY = {45: (-285.7, 1239, -1795, 898.8), 32: (-325.9, 1374, -1922, 913.2), 20: (-160.5, 514.1, -558.6, 217.5),
             14: (-85.37, 271.6, -292.2, 111.4), 10: (-71.76, 228.6, -246.3, 93.91), 7: (-61.79, 196.1, -210.3, 79.55)}
_SB_ENERGY = {45: (1.103, -0.362, 0.2767), 32: (0.9559, -0.7823, 0.471), 20: (0.2632, -0.14, 0.06841),
              14: (0.1556, -0.06472, 0.03066), 10: (0.1261, -0.0518, 0.02769), 7: (0.09365, -0.03409, 0.02043)}

# ---- DNN+NeuroSim V1.4 (Technology.cpp, Param.cpp, SarADC.cpp; LSTP roadmap, its default) -------------------
_VDD = {45: 1.0, 32: 0.9, 22: 0.85, 14: 0.8, 10: 0.75, 7: 0.7, 5: 0.7, 3: 0.7, 2: 0.65, 1: 0.6}
#: gate capacitance of a minimum device (aF) and its on-current (uA), 7 nm and below
_CAP_AF = {7: 100.497, 5: 81.859, 3: 72.572, 2: 79.74, 1: 66.94}
_ION_UA = {7: 562.048, 5: 578.494, 3: 641.463, 2: 526.868, 1: 460.979}
#: standard cell: contacted poly pitch and cell height in F (constant.h: CPP_*nm, MAX_TRANSISTOR_HEIGHT_*nm)
_CELL_CPP_HEIGHT_F = {7: (8.1428, 34.285), 5: (10.2, 36.0), 3: (16.0, 48.0), 2: (22.5, 57.0), 1: (40.0, 80.0)}
#: SRAM cell (height x width in F) per node
_SRAM_CELL_F = {130: (10, 28), 90: (10, 28), 65: (10, 28), 45: (10, 28), 32: (10, 28), 22: (10, 28),
                14: (10.6, 30.8), 10: (12.8, 31.25), 7: (16, 34.43), 5: (19.2, 43.75), 3: (30, 68.26), 2: (42, 120),
                1: (80, 144)}
#: SAR ADC power per column: (a, b) in uW for a * bits + b, and the read-current coefficient c
SAR_FIT = {130: (8.4483, 65.243, 0.169380), 90: (5.9869, 37.462, 0.144323), 65: (3.7506, 25.844, 0.121272),
           45: (2.1691, 16.693, 0.100225), 32: (1.1294, 8.8998, 0.079449), 22: (0.538, 4.3753, 0.072341),
           14: (0.3132, 2.5681, 0.061085), 10: (0.1823, 1.5073, 0.051580), 7: (0.1061, 0.8847, 0.043555),
           5: (0.0645, 0.5511, 0.0388), 3: (0.0333, 0.2849, 0.0388), 2: (0.0207, 0.1764, 0.0313),
           1: (0.0101, 0.0843, 0.0288)}
SAR_RANGE_NM = (1.0, 130.0)
#: SRAM read path per node relative to 22 nm, from NeuroSim V1.4 run at each node (see the module docstring):
#: current-mode multi-level sense amplifiers per column read (proportional to the row groups read) and the
#: word-line / bit-line charging of the subarray per input cycle (independent of the row grouping)
_SRAM_SENSE = {45: 2.3384, 32: 1.3464, 22: 1.0, 14: 0.5867, 10: 0.4627, 7: 0.3922, 5: 0.3218, 3: 0.2875,
               2: 0.2215, 1: 0.1659}
_SRAM_WORDLINE = {45: 3.0433, 32: 1.6912, 22: 1.0, 14: 1.0886, 10: 0.8057, 7: 0.6521, 5: 0.5508, 3: 0.4979,
                  2: 0.5708, 1: 0.3708}


class TechnologyError(NasEdgeError, ValueError):
    """A node outside the range a rule covers."""


def _loglog(table: Mapping[float, float], nm: float) -> float:
    """A positive per-node value at ``nm``, interpolated linearly in log(value) over log(node)."""
    nodes = sorted(table)
    if not nodes[0] <= nm <= nodes[-1]:
        raise TechnologyError(f"{nm:g} nm is outside {nodes[0]:g}-{nodes[-1]:g} nm")
    hi = next(n for n in nodes if n >= nm)
    if hi == nm:
        return float(table[hi])
    lo = max(n for n in nodes if n < nm)
    t = math.log(nm / lo) / math.log(hi / lo)
    return float(math.exp(math.log(table[lo]) + t * (math.log(table[hi]) - math.log(table[lo]))))


def _poly(coeffs: tuple[float, ...], v: float) -> float:
    return sum(c * v ** (len(coeffs) - 1 - i) for i, c in enumerate(coeffs))


def _sb_at(table: Mapping[int, tuple[float, ...]], nm: int) -> float:
    """A Stillmaker & Baas polynomial at a NeuroSim node and its supply (22 nm from their 32 and 20 nm)."""
    v = _VDD[nm]
    if nm == 22:
        return _loglog({32: _poly(table[32], v), 20: _poly(table[20], v)}, 22)
    return _poly(table[nm], v)


def _cell_footprint_nm2(nm: int) -> float:
    cpp, height = _CELL_CPP_HEIGHT_F[nm]
    return cpp * height * nm * nm


def _logic_tables() -> dict[str, dict[float, float]]:
    sb_nodes = (45, 32, 22, 14, 10, 7)
    area = {float(n): _SB_AREA[n] for n in (130, 90, 65, 45, 32, 14, 10, 7)}
    area[22.0] = _loglog({32: _SB_AREA[32], 20: _SB_AREA[20]}, 22)
    delay = {float(n): _sb_at(_SB_DELAY, n) for n in sb_nodes}
    energy = {float(n): _sb_at(_SB_ENERGY, n) for n in sb_nodes}
    for n in (5, 3, 2, 1):  # below 7 nm: NeuroSim's devices, relative to its 7 nm device
        area[float(n)] = area[7.0] * _cell_footprint_nm2(n) / _cell_footprint_nm2(7)
        energy[float(n)] = energy[7.0] * (_CAP_AF[n] * _VDD[n] ** 2) / (_CAP_AF[7] * _VDD[7] ** 2)
        delay[float(n)] = delay[7.0] * (_CAP_AF[n] * _VDD[n] / _ION_UA[n]) / (_CAP_AF[7] * _VDD[7] / _ION_UA[7])
    return {"logic_area": area, "logic_energy": energy, "logic_delay": delay,
            "logic_power": {n: energy[n] / delay[n] for n in delay},
            "logic_speed": {n: 1.0 / delay[n] for n in delay},
            "sram_cell_area": {float(n): h * w * (n * 1e-3) ** 2 for n, (h, w) in _SRAM_CELL_F.items()},
            "column_energy": {float(n): c for n, (_, _, c) in SAR_FIT.items()},
            "sram_sense_energy": {float(n): f for n, f in _SRAM_SENSE.items()},
            "sram_wordline_energy": {float(n): f for n, f in _SRAM_WORDLINE.items()}}


_TABLES = _logic_tables()
RULES = (*_TABLES, "adc_energy")


def check_node(nm: float, what: str = "technology_nm") -> None:
    """Refuse a node outside :data:`RANGE_NM` (the range every scaling rule covers)."""
    lo, hi = RANGE_NM
    if not lo <= nm <= hi:
        raise TechnologyError(f"{what} {nm:g} nm is outside the range the scaling rules cover ({lo:g}-{hi:g} nm: "
                              "Stillmaker & Baas's low-power fits from 45 nm, NeuroSim's tables down to 1 nm)")


def sar_power_uw(bits: int, nm: float) -> float:
    """NeuroSim's SAR ADC power per column (LSTP fits, ``a·N + b`` uW), interpolated between its nodes."""
    lo, hi = SAR_RANGE_NM
    if not lo <= nm <= hi:
        raise TechnologyError(f"the 'sar' ADC model uses NeuroSim's SAR fits, which cover {lo:g}-{hi:g} nm "
                              f"(got {nm:g} nm)")
    return _loglog({n: a * bits + b for n, (a, b, _) in SAR_FIT.items()}, nm)


def factor(rule: str, from_nm: float, to_nm: float, *, bits: int = 4) -> float:
    """``value(to_nm) / value(from_nm)`` of a rule (``bits``: the ADC resolution, for ``adc_energy``)."""
    if from_nm == to_nm:
        return 1.0
    if rule == "adc_energy":
        return sar_power_uw(bits, to_nm) / sar_power_uw(bits, from_nm)
    table = _TABLES.get(rule)
    if table is None:
        raise ValueError(f"unknown scaling rule {rule!r}; known: {', '.join(RULES)}")
    return _loglog(table, to_nm) / _loglog(table, from_nm)


#: rules that depend on ``array.memory``: (rule for SRAM, rule for the other memories)
MEMORY_RULES: dict[str, tuple[str, str]] = {"cell_area": ("sram_cell_area", "logic_area"),
                                           "cell_read_energy": ("sram_wordline_energy", "column_energy"),
                                           "column_read_energy": ("sram_sense_energy", "column_energy"),
                                           "comparator_energy": ("sram_sense_energy", "adc_energy")}
#: the IMC profile figures that scale, by field path, and their rule (``MEMORY_RULES``: by ``array.memory``)
IMC_FIGURES: dict[str, str] = {
    "clock_ghz": "logic_speed",
    "array.cell_area_um2": "cell_area",
    "array.periphery_area_um2": "logic_area",
    "array.read_energy_per_cell_fj": "cell_read_energy",
    "array.bitline_energy_per_column_fj": "column_read_energy",
    "array.read_latency_ns": "logic_delay",
    "array.dac_energy_per_row_fj": "logic_energy",
    "array.shift_add_energy_fj": "logic_energy",
    "array.leakage_power_uw": "logic_power",
    "adc.comparator_energy_fj": "comparator_energy",
    "adc.comparator_area_um2": "logic_area",
    "adc.latency_ns": "logic_delay",
    "adc.area_um2": "logic_area",
    "adc.energy_pj_by_bits": "adc_energy",
    "adc.latency_ns_by_bits": "logic_delay",
    "adc.area_um2_by_bits": "logic_area",
    "buffer.energy_per_byte_pj": "logic_energy",
    "buffer.interconnect_energy_per_byte_pj": "logic_energy",
    "buffer.area_mm2": "logic_area",
    "digital.energy_per_op_pj": "logic_energy",
    "digital.accumulate_energy_pj": "logic_energy",
    "digital.area_mm2": "logic_area",
    "digital.leakage_power_mw": "logic_power",
    "chip.tile_periphery_area_um2": "logic_area",
    "chip.leakage_power_mw": "logic_power",
}
#: the digital (edge) profile figures that scale
DIGITAL_FIGURES: dict[str, str] = {
    "clock_ghz": "logic_speed",
    "peak_gmacs_per_s": "logic_speed",
    "elementwise_gops_per_s": "logic_speed",
    "energy_per_mac_pj": "logic_energy",
    "energy_per_op_pj": "logic_energy",
    "layer_overhead_ns": "logic_delay",
    "static_power_mw": "logic_power",
    "area_mm2": "logic_area",
}
#: what is explicitly not scaled, and why (for the docs and the schema)
UNSCALED = {
    "buffer.bandwidth_gb_per_s": "set by on-chip wires, not transistor speed",
    "array.write_energy_per_cell_pj": "device physics",
    "array.write_latency_per_row_ns": "device physics",
    "bandwidth_gb_per_s": "off-chip memory",
    "energy_per_byte_pj": "off-chip memory",
}


def figure_rule(path: str, kind: str, memory: str | None) -> str | None:
    """The rule of a figure (``None``: it does not scale); :data:`MEMORY_RULES` resolved by the memory."""
    rule = (IMC_FIGURES if kind == "imc" else DIGITAL_FIGURES).get(path)
    if rule in MEMORY_RULES:
        sram, other = MEMORY_RULES[rule]
        return sram if memory == "sram" else other
    return rule


__all__ = [
    "DIGITAL_FIGURES",
    "IMC_FIGURES",
    "MEMORY_RULES",
    "RANGE_NM",
    "RULES",
    "SAR_FIT",
    "UNSCALED",
    "TechnologyError",
    "check_node",
    "factor",
    "figure_rule",
    "sar_power_uw",
]
