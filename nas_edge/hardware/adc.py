"""ADC energy, latency and area per conversion, by the model a profile chooses."""

from __future__ import annotations

from typing import NamedTuple

from nas_edge.hardware import technology
from nas_edge.hardware.schema import ADCSpec

#: NeuroSim's SAR area fit is for 22 nm; minimum NMOS/PMOS footprint taken as 30 F^2 there (our assumption).
SAR_REFERENCE_NM = 22.0
TRANSISTOR_AREA_F2 = 30.0


class ADCFigures(NamedTuple):
    energy_pj: float  # per conversion
    latency_ns: float  # per conversion
    area_um2: float  # per ADC


def adc_figures(adc: ADCSpec, *, technology_nm: float, clock_ghz: float) -> ADCFigures:
    """Figures of one ADC at ``adc.bits``.

    - ``sar`` (DNN+NeuroSim V1.4 ``SarADC.cpp``, LSTP fits per node, 1-130 nm): P = (a N + b) uW for N+1 clock
      cycles; area A_n (269 + 109 (N-1)) + A_p (209 + 73 (N-1)) at 22 nm, scaled with logic area.
    - ``flash``: 2^N - 1 comparators, one conversion per ``latency_ns``.
    - ``fom``: Walden figure of merit, E = FOM * 2^N at ``fom_reference_nm``, scaled by NeuroSim's SAR power
      per node (rule ``adc_energy`` of :mod:`nas_edge.hardware.technology`).
    - ``table``: the file's own figures per bit count.
    """
    n = adc.bits
    tech = adc.technology_nm or technology_nm
    if adc.model == "sar":
        cycles_ns = (n + 1) / clock_ghz
        energy_fj = technology.sar_power_uw(n, tech) * cycles_ns
        unit_um2 = TRANSISTOR_AREA_F2 * (SAR_REFERENCE_NM * 1e-3) ** 2
        area = (unit_um2 * (269 + 109 * (n - 1)) + unit_um2 * (209 + 73 * (n - 1))) * technology.factor(
            "logic_area", SAR_REFERENCE_NM, tech)
        return ADCFigures(energy_fj * 1e-3, cycles_ns, area)
    if adc.model == "flash":
        assert adc.comparator_energy_fj is not None and adc.comparator_area_um2 is not None
        assert adc.latency_ns is not None
        levels = 2**n - 1
        return ADCFigures(levels * adc.comparator_energy_fj * 1e-3, adc.latency_ns, levels * adc.comparator_area_um2)
    if adc.model == "fom":
        assert adc.fom_fj_per_step is not None and adc.latency_ns is not None and adc.area_um2 is not None
        energy_fj = adc.fom_fj_per_step * 2**n * technology.factor("adc_energy", adc.fom_reference_nm, tech, bits=n)
        return ADCFigures(energy_fj * 1e-3, adc.latency_ns, adc.area_um2)
    assert adc.energy_pj_by_bits is not None and adc.latency_ns_by_bits is not None
    assert adc.area_um2_by_bits is not None
    return ADCFigures(adc.energy_pj_by_bits[n], adc.latency_ns_by_bits[n], adc.area_um2_by_bits[n])


def lossless_adc_bits(rows_parallel: int, cell_bits: int, dac_bits: int) -> int:
    """ADC resolution that reads the largest partial sum exactly.

    ``rows_parallel`` rows each add a cell level (< 2**cell_bits) times an input level (< 2**dac_bits), so the
    sum reaches ``rows_parallel * (2**cell_bits - 1) * (2**dac_bits - 1)``. For a power-of-two row count with
    1-bit cells or inputs this is the design card's ``log2 rows + cell_bits + dac_bits - 1``; with both
    multi-bit it is a bit more (the approximation misses the product of two multi-bit levels), with other row
    counts it can be a bit less.
    """
    if min(rows_parallel, cell_bits, dac_bits) < 1:
        raise ValueError("rows_parallel, cell_bits and dac_bits must be >= 1")
    return max(1, int(rows_parallel * (2**cell_bits - 1) * (2**dac_bits - 1)).bit_length())
