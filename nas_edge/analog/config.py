"""What the analog simulation needs from a hardware profile, and the analog objectives (no torch here).

:class:`AnalogConfig` gathers the array, converter and device figures of an IMC profile plus switches that
turn each non-ideality off. :func:`check_analog_objectives` refuses, before a search starts, a profile that
lacks the noise parameters an objective needs, naming the missing fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nas_edge.errors import NasEdgeError
from nas_edge.hardware import IMCProfile, Profile
from nas_edge.hardware.schema import MAPPINGS, PROGRAMMING_NOISE_MODELS, CellMapping, NoiseSpec
from nas_edge.hardware.schema import ProgrammingNoise as ProgNoise

SECOND, HOUR, DAY, MONTH = 1.0, 3600.0, 86400.0, 30 * 86400.0

ANALOG_OBJECTIVES: dict[str, float] = {
    "analog_accuracy": SECOND,
    "analog_accuracy_1h": HOUR,
    "analog_accuracy_1d": DAY,
    "analog_accuracy_1m": MONTH,
}
"""Analog objective name -> inference time after programming (seconds). All are maximised."""

_NOISE_DEFAULTS = {name: f.default for name, f in NoiseSpec.model_fields.items()}  # one set of device defaults


class AnalogConfigError(NasEdgeError, ValueError):
    """A profile or option that the analog simulation cannot use, with the reason."""


@dataclass(frozen=True)
class AnalogConfig:
    """Everything the simulation reads, taken from a profile (:meth:`from_profile`) and then overridable.

    Array and converters: ``weight_bits`` / ``input_bits`` (precision), ``cell_bits``, ``mapping``, ``rows``,
    ``rows_parallel`` (rows summed into one ADC conversion), ``dac_bits`` (input bits per read cycle),
    ``adc_bits``, ``keep_kernels_whole``. Devices (conductances normalised to ``g_max_us``):
    ``programming_noise`` (``pcm``: sigma(g) = 0.26348 + 1.965 g - 1.1731 g^2 in uS; ``gaussian``:
    ``programming_sigma``), ``read_noise_sigma`` per device and read, drift exponent ~ N(``drift_nu``,
    ``drift_nu_std``) with reference time ``drift_t0_s``.

    Switches: ``quantize_weights`` (slice/cell grid), ``quantize_inputs`` (DAC), ``adc`` (partial-sum
    quantisation and clipping), ``drift_compensation`` (global, per layer, as aihwkit), ``noise_scale``
    (multiplies programming and read noise), ``adc_percentile`` (ADC full scale = this percentile of the
    calibrated |partial sums|; 100 = their maximum, no clipping on the calibration batch).
    """

    weight_bits: int = 8
    input_bits: int = 8
    cell_bits: int = 1
    mapping: CellMapping = "differential"
    rows: int = 256
    rows_parallel: int = 256
    dac_bits: int = 8
    adc_bits: int = 8
    keep_kernels_whole: bool = False
    g_max_us: float = _NOISE_DEFAULTS["g_max_us"]
    programming_noise: ProgNoise = _NOISE_DEFAULTS["programming_noise"]
    programming_sigma: float = _NOISE_DEFAULTS["programming_sigma"]
    read_noise_sigma: float = _NOISE_DEFAULTS["read_noise_sigma"]
    drift_nu: float = _NOISE_DEFAULTS["drift_nu"]
    drift_nu_std: float = _NOISE_DEFAULTS["drift_nu_std"]
    drift_t0_s: float = _NOISE_DEFAULTS["drift_t0_s"]
    quantize_weights: bool = True
    quantize_inputs: bool = True
    adc: bool = True
    drift_compensation: bool = True
    noise_scale: float = 1.0
    adc_percentile: float = 100.0

    def __post_init__(self) -> None:
        ints = {"weight_bits": (2, 32), "input_bits": (2, 32), "cell_bits": (1, 16), "dac_bits": (1, 16),
                "adc_bits": (1, 24), "rows": (1, 1 << 20), "rows_parallel": (1, 1 << 20)}
        for name, (lo, hi) in ints.items():
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise AnalogConfigError(f"{name} must be an integer in [{lo}, {hi}], got {v!r}")
        if self.rows_parallel > self.rows:
            raise AnalogConfigError(f"rows_parallel ({self.rows_parallel}) must not exceed rows ({self.rows})")
        if self.mapping not in MAPPINGS:
            raise AnalogConfigError(f"unknown mapping {self.mapping!r}")
        if self.programming_noise not in PROGRAMMING_NOISE_MODELS:
            raise AnalogConfigError(f"unknown programming noise model {self.programming_noise!r}")
        for name in ("programming_sigma", "read_noise_sigma", "drift_nu", "drift_nu_std", "noise_scale"):
            if not getattr(self, name) >= 0:
                raise AnalogConfigError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if not (self.g_max_us > 0 and self.drift_t0_s > 0):
            raise AnalogConfigError("g_max_us and drift_t0_s must be positive")
        if not 0 < self.adc_percentile <= 100:
            raise AnalogConfigError(f"adc_percentile must be in (0, 100], got {self.adc_percentile!r}")

    @classmethod
    def from_profile(cls, profile: Profile | str, **overrides: Any) -> AnalogConfig:
        """The configuration an IMC profile (object, built-in name or path) describes; ``overrides`` win.

        A profile without a ``noise`` section gives ideal devices (quantisation and converters only).
        """
        if isinstance(profile, str):
            from nas_edge.hardware import load_profile

            profile = load_profile(profile)
        if not isinstance(profile, IMCProfile):
            raise AnalogConfigError(f"analog simulation needs an IMC profile; {profile.name!r} is {profile.kind!r}")
        a, p = profile.array, profile.precision
        values: dict[str, Any] = {
            "weight_bits": p.weight_bits, "input_bits": p.input_bits, "cell_bits": a.cell_bits,
            "mapping": a.mapping, "rows": a.rows, "rows_parallel": a.rows_parallel, "dac_bits": a.dac_bits,
            "adc_bits": profile.adc.bits, "keep_kernels_whole": a.keep_kernels_whole,
        }
        if profile.noise is not None:
            n = profile.noise
            values.update(g_max_us=n.g_max_us, programming_noise=n.programming_noise,
                          programming_sigma=n.programming_sigma, read_noise_sigma=n.read_noise_sigma,
                          drift_nu=n.drift_nu, drift_nu_std=n.drift_nu_std, drift_t0_s=n.drift_t0_s)
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise AnalogConfigError(f"unknown analog options {sorted(unknown)}")
        return cls(**{**values, **overrides})

    def replace(self, **changes: Any) -> AnalogConfig:
        return dataclasses.replace(self, **changes)

    def ideal(self, adc_bits: int = 16) -> AnalogConfig:
        """Every non-ideality off (float weights and inputs, no noise, no drift); the ADC stays, at ``adc_bits``."""
        return self.replace(quantize_weights=False, quantize_inputs=False, programming_noise="none",
                            programming_sigma=0.0, read_noise_sigma=0.0, drift_nu=0.0, drift_nu_std=0.0,
                            adc_bits=adc_bits)

    @property
    def has_drift(self) -> bool:
        return self.drift_nu > 0 or self.drift_nu_std > 0

    @property
    def is_noisy(self) -> bool:
        """Whether repeated evaluations differ (device noise or drift variability)."""
        prog = self.programming_noise == "pcm" or (self.programming_noise == "gaussian" and self.programming_sigma > 0)
        return (prog or self.read_noise_sigma > 0 or self.drift_nu_std > 0) and self.noise_scale > 0

    def describe(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# -- objectives and the start-of-search check ----------------------------------------------------------------

_BASE_FIELDS = ("programming_noise", "read_noise_sigma")
_DRIFT_FIELDS = ("drift_nu",)


def required_noise_fields(objective: str, profile: Profile | None = None) -> tuple[str, ...]:
    """The ``noise.*`` fields a profile must state for ``objective`` (empty for non-analog objectives)."""
    if objective not in ANALOG_OBJECTIVES:
        return ()
    fields = list(_BASE_FIELDS)
    noise = getattr(profile, "noise", None)
    if noise is not None and noise.programming_noise == "gaussian":
        fields.append("programming_sigma")
    if noise is not None and noise.programming_noise == "pcm":
        fields.append("g_max_us")  # the PCM fit is in uS: the conductance range must be stated
    if ANALOG_OBJECTIVES[objective] > SECOND:
        fields.extend(_DRIFT_FIELDS)
    return tuple(f"noise.{f}" for f in fields)


def missing_noise_fields(profile: Profile, objectives: Iterable[str]) -> dict[str, list[str]]:
    """Objective -> the required ``noise.*`` fields the profile does not state (only objectives lacking some).

    A field counts as stated when the profile file sets it explicitly (pydantic's ``model_fields_set``);
    defaults do not count, so a profile never silently simulates a noise-free device it did not describe.
    """
    noise = getattr(profile, "noise", None)
    stated = set() if noise is None else {f"noise.{f}" for f in noise.model_fields_set}
    out: dict[str, list[str]] = {}
    for obj in objectives:
        lacking = [f for f in required_noise_fields(obj, profile) if f not in stated]
        if lacking:
            out[obj] = lacking
    return out


def check_analog_objectives(profile: Profile, objectives: Iterable[str]) -> None:
    """Raise :class:`AnalogConfigError` when ``profile`` cannot serve the analog ``objectives``."""
    objectives = [o for o in objectives if o in ANALOG_OBJECTIVES]
    if not objectives:
        return
    if not isinstance(profile, IMCProfile):
        raise AnalogConfigError(f"objectives {', '.join(objectives)} need an IMC profile; {profile.name!r} is "
                                f"{profile.kind!r}")
    missing = missing_noise_fields(profile, objectives)
    if missing:
        fields = sorted({f for fs in missing.values() for f in fs})
        per = "; ".join(f"{o} needs {', '.join(fs)}" for o, fs in missing.items())
        raise AnalogConfigError(
            f"profile {profile.name!r} lacks the noise parameters that the analog objectives need: missing "
            f"{', '.join(fields)} ({per}). Add them under 'noise:' in the profile (e.g. programming_noise: "
            "pcm, read_noise_sigma: 0.0175, drift_nu: 0.05), or choose a profile that has them, such as "
            "pcm-aihwkit-14nm.")


@dataclass(frozen=True)
class HWAConfig:
    """Hardware-aware training: every training forward draws fresh device noise from the profile's model.

    ``noise_scale`` multiplies programming and read noise; with ``drift`` each forward also reads the devices
    at a time drawn log-uniformly in ``[t_min_s, t_max_s]`` (after global drift compensation, what remains
    is the spread of the drift exponents). The weights are quantised to the cell grid as programmed. With
    ``converters`` the forward also goes through the DAC, per-read noise and the ADC (ranges from each
    batch): several times slower to train, and on digits no better (see the README). Gradients are those of
    the noisy weights used digitally (straight-through).
    """

    noise_scale: float = 1.0
    drift: bool = True
    t_min_s: float = SECOND
    t_max_s: float = MONTH
    converters: bool = False

    def __post_init__(self) -> None:
        if self.noise_scale < 0:
            raise AnalogConfigError(f"HWA noise_scale must be >= 0, got {self.noise_scale}")
        if not 0 < self.t_min_s <= self.t_max_s:
            raise AnalogConfigError(f"HWA times need 0 < t_min_s <= t_max_s, got {self.t_min_s}, {self.t_max_s}")
