"""Hardware profile schema (pydantic). Every field name carries its unit.

Two kinds of profile share one file format, told apart by ``kind``:

- ``imc``: an in-memory-computing chip (chip -> tiles -> PEs -> arrays of ``rows x cols`` cells read through
  ADCs) with a digital unit for what crossbars cannot do;
- ``digital``: an edge device (CPU, NPU, MCU) costed with a per-op-kind roofline.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

CellMapping = Literal["differential", "offset", "signed"]
"""How a signed weight sits on cells; the cost model and the analog simulation read the same names."""
ProgrammingNoise = Literal["none", "pcm", "gaussian"]
"""Programming-noise models of the analog simulation."""
MAPPINGS: tuple[str, ...] = get_args(CellMapping)
PROGRAMMING_NOISE_MODELS: tuple[str, ...] = get_args(ProgrammingNoise)

MAX_COUNT = 2**20
"""The largest count a profile may give (rows, columns, arrays per PE, tiles, ...): products of three stay
exact in int64. A crossbar or a chip beyond it is a typo or an attack (10^30 rows validated, then divided by
zero in the cost model)."""
MAX_FIGURE = 1e12
"""The largest figure in any unit (pJ, ns, um^2, GHz, GB/s, ...): 1e12 of each is beyond any device, and the
cost model's sums of such figures over 2^62 operations stay finite."""

PositiveInt = Annotated[int, Field(gt=0, le=MAX_COUNT)]
PositiveFloat = Annotated[float, Field(gt=0, le=MAX_FIGURE)]
NonNegFloat = Annotated[float, Field(ge=0, le=MAX_FIGURE)]
Fraction = Annotated[float, Field(gt=0, le=1)]


class _Strict(BaseModel):
    # finite numbers only: a profile with .inf energies or clock validated and costed as inf / null with exit 0
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Precision(_Strict):
    weight_bits: Annotated[int, Field(ge=1, le=32)] = 8
    input_bits: Annotated[int, Field(ge=1, le=32)] = 8
    output_bits: Annotated[int, Field(ge=1, le=32)] = 8


class ArraySpec(_Strict):
    """One crossbar / subarray and the cells and periphery that read it."""

    rows: PositiveInt
    cols: PositiveInt
    memory: Literal["sram", "rram", "pcm", "fefet", "mram", "flash", "other"] | None = Field(
        None, description="cell technology; decides how cell_area_um2 scales with technology_nm (sram: NeuroSim's "
        "SRAM cell per node; others: with logic area, as their access transistor sets the cell)")
    cell_bits: Annotated[int, Field(ge=1, le=16)] = 1
    rows_parallel: PositiveInt = Field(description="rows activated in one read (row groups = rows / this)")
    cols_per_adc: PositiveInt = Field(8, description="columns multiplexed onto one ADC")
    dac_bits: Annotated[int, Field(ge=1, le=16)] = 1
    mapping: CellMapping = Field(
        "differential",
        description="differential: 2 columns per slice; offset: 1 column per slice + 1 reference column per "
        "array; signed: 1 column per slice of the magnitude (weight_bits - 1), each cross-point holds a signed "
        "value (aihwkit's analog tiles; the cell figures are then per cross-point, whatever devices it holds)",
    )
    input_accumulation: Literal["digital", "analog"] = Field(
        "digital", description="digital: every input cycle's column sums are converted and shift-added "
        "(NeuroSim, ISAAC); analog: the input cycles are accumulated on the column (charge sharing, "
        "integration) and converted once per output per row group (IMAGINE, NeuRRAM's neurons); the column is "
        "still read every cycle")
    keep_kernels_whole: bool = Field(
        False, description="split convs only along input channels so whole kernels stay in one array (aihwkit)"
    )
    cell_area_um2: PositiveFloat
    read_energy_per_cell_fj: NonNegFloat = Field(description="energy of one cell in one read")
    bitline_energy_per_column_fj: NonNegFloat = Field(
        0.0, description="bit-line precharge/sense energy per column per read (scales with row groups)")
    read_latency_ns: NonNegFloat = Field(description="array read (bit-line settle) time per row group")
    dac_energy_per_row_fj: NonNegFloat = Field(0.0, description="row driver / DAC energy per row per input cycle")
    shift_add_energy_fj: NonNegFloat = Field(0.0, description="shift-and-add energy per ADC output")
    periphery_area_um2: NonNegFloat = Field(0.0, description="drivers, muxes, shift-add per array, ADCs aside")
    leakage_power_uw: NonNegFloat = Field(0.0, description="static power per array")
    write_energy_per_cell_pj: NonNegFloat = Field(0.0, description="energy to program one cell")
    write_latency_per_row_ns: NonNegFloat = Field(0.0, description="time to program one row of one array")

    @model_validator(mode="after")
    def _rows_parallel_fit(self) -> ArraySpec:
        if self.rows_parallel > self.rows:
            raise ValueError(f"rows_parallel ({self.rows_parallel}) must not exceed rows ({self.rows})")
        if self.cols_per_adc > self.cols:
            raise ValueError(f"cols_per_adc ({self.cols_per_adc}) must not exceed cols ({self.cols})")
        if self.mapping == "offset" and self.cols < 2:
            raise ValueError("offset mapping needs at least 2 columns (one is the reference)")
        return self


class ADCSpec(_Strict):
    """ADC model, chosen explicitly: published tools disagree by ~100x."""

    model: Literal["sar", "flash", "fom", "table"]
    bits: Annotated[int, Field(ge=1, le=16)]
    technology_nm: PositiveFloat | None = Field(None, description="defaults to the chip's technology_nm")
    # fom: Walden figure of merit E = fom * 2^bits at fom_reference_nm, scaled to the technology by NeuroSim's
    # SAR power per node (nas_edge.hardware.technology, rule adc_energy)
    fom_fj_per_step: PositiveFloat | None = None
    fom_reference_nm: PositiveFloat = 22.0
    # flash: one comparator per level
    comparator_energy_fj: PositiveFloat | None = None
    comparator_area_um2: PositiveFloat | None = None
    # fom/flash latency and area (sar computes its own from NeuroSim's fits)
    latency_ns: PositiveFloat | None = None
    area_um2: PositiveFloat | None = None
    # table: per-bit-count figures
    energy_pj_by_bits: dict[int, PositiveFloat] | None = None
    latency_ns_by_bits: dict[int, PositiveFloat] | None = None
    area_um2_by_bits: dict[int, PositiveFloat] | None = None

    @model_validator(mode="after")
    def _model_fields(self) -> ADCSpec:
        need = {
            "sar": [],
            "flash": ["comparator_energy_fj", "comparator_area_um2", "latency_ns"],
            "fom": ["fom_fj_per_step", "latency_ns", "area_um2"],
            "table": ["energy_pj_by_bits", "latency_ns_by_bits", "area_um2_by_bits"],
        }[self.model]
        missing = [f for f in need if getattr(self, f) is None]
        if missing:
            raise ValueError(f"ADC model {self.model!r} needs {', '.join(missing)}")
        if self.model == "table":
            for f in ("energy_pj_by_bits", "latency_ns_by_bits", "area_um2_by_bits"):
                if self.bits not in getattr(self, f):
                    raise ValueError(f"{f} has no entry for bits={self.bits}")
        return self


class BufferSpec(_Strict):
    """On-chip activation buffers and the interconnect between tiles."""

    energy_per_byte_pj: NonNegFloat
    bandwidth_gb_per_s: PositiveFloat = Field(description="buffer + interconnect bandwidth (bytes per ns)")
    interconnect_energy_per_byte_pj: NonNegFloat = 0.0
    area_mm2: NonNegFloat = 0.0


class DigitalUnit(_Strict):
    """The chip's digital unit: activation x activation matmuls, softmax, norms, activations, pooling,
    and the accumulation of partial sums across row tiles."""

    energy_per_op_pj: NonNegFloat
    ops_per_cycle: PositiveFloat
    accumulate_energy_pj: NonNegFloat = Field(0.0, description="per partial-sum addition across row tiles")
    area_mm2: NonNegFloat = 0.0
    leakage_power_mw: NonNegFloat = 0.0


class ChipSpec(_Strict):
    """How arrays are grouped, how many there are, and what happens when a network does not fit."""

    arrays_per_pe: PositiveInt = 4
    pes_per_tile: PositiveInt = 4
    tiles: PositiveInt | Literal["auto"] = Field(
        "auto", description="tiles on chip; 'auto' sizes the chip to the network (NeuroSim-style)"
    )
    on_overflow: Literal["infeasible", "reprogram"] = "infeasible"
    max_duplication: PositiveInt = Field(1, description="copies of a layer's weights allowed for throughput")
    min_vectors_per_copy: PositiveInt = Field(8, description="a copy is only worth it with this many vectors")
    tile_periphery_area_um2: NonNegFloat = 0.0
    leakage_power_mw: NonNegFloat = 0.0


class NoiseSpec(_Strict):
    """Analog non-idealities (used by the accuracy simulation, not by the cost model)."""

    g_max_us: PositiveFloat = 25.0
    programming_noise: ProgrammingNoise = "none"
    programming_sigma: NonNegFloat = Field(0.0, description="relative to g_max, for 'gaussian'")
    read_noise_sigma: NonNegFloat = Field(0.0, description="relative to g_max, per read")
    drift_nu: NonNegFloat = Field(0.0, description="drift exponent in g(t) = g0 (t/t0)^-nu")
    drift_nu_std: NonNegFloat = 0.0
    drift_t0_s: PositiveFloat = 20.0


class Scaling(_Strict):
    """What the loader scaled to ``technology_nm`` (see :mod:`nas_edge.hardware.technology`)."""

    from_nm: PositiveFloat = Field(description="node the scaled figures were stated at")
    to_nm: PositiveFloat
    scaled: dict[str, str] = Field(default_factory=dict, description="field path -> rule it was scaled by")
    explicit: list[str] = Field(
        default_factory=list, description="figures given explicitly at technology_nm, which win over the scaled "
        "value of the base, with both values")


class _ProfileBase(_Strict):
    name: str = Field(min_length=1, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$",
                      description="one line of printable text (no control characters)")
    description: str = ""
    provenance: str = Field(min_length=1, description="where the numbers come from")
    base: str | None = Field(None, description="profile this one extends (name or path); resolved on load")
    technology_nm: PositiveFloat = Field(
        description="the chip's node. When it differs from the node the figures are stated at (figures_nm, or "
        "the base profile's technology_nm), the figures marked x-scales-with are scaled to it; scaling covers "
        "1-45 nm. A figure this file gives explicitly is taken as stated at technology_nm and wins over the "
        "base's scaled value (the resolved profile's `scaling.explicit` lists each such case)")
    figures_nm: PositiveFloat | None = Field(
        None, description="node the figures written in this file are stated at (default: technology_nm); they "
        "are scaled to technology_nm on load")
    clock_ghz: PositiveFloat
    precision: Precision = Precision()
    scaling: Scaling | None = Field(None, description="set on load: what was scaled from which node")


class IMCProfile(_ProfileBase):
    kind: Literal["imc"] = "imc"
    array: ArraySpec
    adc: ADCSpec
    buffer: BufferSpec
    digital: DigitalUnit
    chip: ChipSpec = ChipSpec()
    noise: NoiseSpec | None = None

    @model_validator(mode="after")
    def _sar_range(self) -> IMCProfile:
        from nas_edge.hardware.technology import SAR_RANGE_NM

        lo, hi = SAR_RANGE_NM
        tech = self.adc.technology_nm or self.technology_nm
        if self.adc.model == "sar" and not lo <= tech <= hi:
            raise ValueError(f"the 'sar' ADC model uses NeuroSim's SAR fits, which cover {lo:g}-{hi:g} nm "
                             f"(technology {tech:g} nm); give model: table or fom")
        return self

    @property
    def arrays_per_tile(self) -> int:
        return self.chip.arrays_per_pe * self.chip.pes_per_tile


class Efficiency(_Strict):
    """Fraction of peak reached per op kind (measured: see ``nas-edge hardware calibrate``)."""

    conv: Fraction = 0.5
    pointwise: Fraction | None = Field(None, description="1x1 convolutions; defaults to conv")
    depthwise: Fraction = 0.1
    linear: Fraction = 0.6
    dynamic_matmul: Fraction = 0.4
    elementwise: Fraction = 0.5


class DigitalProfile(_ProfileBase):
    kind: Literal["digital"] = "digital"
    peak_gmacs_per_s: PositiveFloat = Field(description="peak multiply-accumulates per ns (all cores)")
    elementwise_gops_per_s: PositiveFloat = Field(description="peak element-wise ops per ns")
    efficiency: Efficiency = Efficiency()
    bandwidth_gb_per_s: PositiveFloat
    energy_per_mac_pj: NonNegFloat
    energy_per_op_pj: NonNegFloat = Field(0.0, description="per element-wise op")
    energy_per_byte_pj: NonNegFloat
    layer_overhead_ns: NonNegFloat = Field(0.0, description="fixed dispatch cost per op")
    static_power_mw: NonNegFloat = 0.0
    area_mm2: NonNegFloat = 0.0


HardwareProfile = Annotated[IMCProfile | DigitalProfile, Field(discriminator="kind")]
