"""ADC energy, latency and area per conversion, by the model a profile chooses."""

from __future__ import annotations

from typing import NamedTuple

from nas_edge.hardware.schema import ADCSpec

#: NeuroSim's SAR fits are for 22 nm; minimum NMOS/PMOS footprint taken as 30 F^2 (our assumption).
SAR_REFERENCE_NM = 22.0
TRANSISTOR_AREA_F2 = 30.0


class ADCFigures(NamedTuple):
    energy_pj: float  # per conversion
    latency_ns: float  # per conversion
    area_um2: float  # per ADC


def adc_figures(adc: ADCSpec, *, technology_nm: float, clock_ghz: float) -> ADCFigures:
    """Figures of one ADC at ``adc.bits``.

    - ``sar`` (DNN+NeuroSim V1.4, 22 nm): P = (0.538 N + 4.375) uW for N+1 clock cycles;
      area A_n (269 + 109 (N-1)) + A_p (209 + 73 (N-1)); energy scaled linearly with technology.
    - ``flash``: 2^N - 1 comparators, one conversion per ``latency_ns``.
    - ``fom``: Walden figure of merit, E = FOM * 2^N, scaled linearly from ``fom_reference_nm``.
    - ``table``: the file's own figures per bit count.
    """
    n = adc.bits
    tech = adc.technology_nm or technology_nm
    if adc.model == "sar":
        cycles_ns = (n + 1) / clock_ghz
        power_uw = 0.538 * n + 4.375
        energy_fj = power_uw * cycles_ns * (tech / SAR_REFERENCE_NM)
        unit_um2 = TRANSISTOR_AREA_F2 * (tech * 1e-3) ** 2
        area = unit_um2 * (269 + 109 * (n - 1)) + unit_um2 * (209 + 73 * (n - 1))
        return ADCFigures(energy_fj * 1e-3, cycles_ns, area)
    if adc.model == "flash":
        levels = 2**n - 1
        return ADCFigures(levels * adc.comparator_energy_fj * 1e-3, adc.latency_ns, levels * adc.comparator_area_um2)
    if adc.model == "fom":
        energy_fj = adc.fom_fj_per_step * 2**n * (tech / adc.fom_reference_nm)
        return ADCFigures(energy_fj * 1e-3, adc.latency_ns, adc.area_um2)
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
    return max(1, (rows_parallel * (2**cell_bits - 1) * (2**dac_bits - 1)).bit_length())
