"""The analog objectives of a search: train once (plainly or hardware-aware), then score the trained network
on the trial's chip at every requested time. Importing this module does not import torch.

``nas_edge.search.Objective`` calls :func:`analog_objective_values` for the names in
:data:`~nas_edge.analog.config.ANALOG_OBJECTIVES` with the trial's (possibly co-searched) profile, so that
ADC bits, array size and cell bits pay in accuracy as well as in energy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nas_edge.analog.config import ANALOG_OBJECTIVES, AnalogConfig, AnalogConfigError, HWAConfig
from nas_edge.evaluate.config import TrainConfig
from nas_edge.evaluate.data import Data
from nas_edge.hardware import Profile


@dataclass(frozen=True)
class AnalogOptions:
    """How a search scores analog accuracy.

    ``repeats``: Monte-Carlo chips per trial (mean reported); ``hwa``: train hardware-aware with these
    settings (``None``: plain training); ``overrides``: :class:`AnalogConfig` fields to change from the
    profile's (e.g. ``{"adc_percentile": 99.9}``); ``calibration_samples``: training inputs used to set the
    input ranges and ADC full scales.
    """

    repeats: int = 3
    hwa: HWAConfig | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    calibration_samples: int = 512

    def __post_init__(self) -> None:
        if self.repeats < 1 or self.calibration_samples < 1:
            raise AnalogConfigError(f"analog options: repeats and calibration_samples must be >= 1 ({self})")
        known = {f.name for f in dataclasses.fields(AnalogConfig)}
        unknown = sorted(set(self.overrides) - known)
        if unknown:
            raise AnalogConfigError(f"analog options: unknown simulation settings {unknown}; known: {sorted(known)}")

    @classmethod
    def coerce(cls, value: AnalogOptions | Mapping[str, Any] | None) -> AnalogOptions:
        """From ``None``, an instance, or a mapping (``hwa`` may be ``True``, a mapping or an HWAConfig)."""
        if value is None:
            return cls()
        if isinstance(value, AnalogOptions):
            return value
        opts = dict(value)
        hwa = opts.pop("hwa", None)
        if hwa is True:
            hwa = HWAConfig()
        elif hwa is False:
            hwa = None
        elif isinstance(hwa, Mapping):
            hwa = HWAConfig(**hwa)
        known = {f.name for f in dataclasses.fields(cls)} - {"hwa"}
        overrides = dict(opts.pop("overrides", {}))
        overrides.update({k: opts.pop(k) for k in list(opts) if k not in known})
        try:
            return cls(hwa=hwa, overrides=overrides, **opts)
        except TypeError as exc:
            raise AnalogConfigError(f"analog options: {exc}") from None

    def describe(self) -> dict[str, Any]:
        """JSON-safe (stored with a study)."""
        return {"repeats": self.repeats, "calibration_samples": self.calibration_samples,
                "hwa": dataclasses.asdict(self.hwa) if self.hwa is not None else None,
                "overrides": dict(self.overrides)}


def analog_objective_values(
    model: Any,
    data: Data,
    profile: Profile,
    objectives: Sequence[str],
    training: TrainConfig,
    options: AnalogOptions,
    *,
    seed: int = 0,
    report: Callable[[float, int], None] | None = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Train ``model`` (freshly built) and return ``({objective: mean analog accuracy, "accuracy": digital
    accuracy of the trained network}, record)``; ``record`` is JSON-safe, for the trial's user attributes."""
    from nas_edge.analog.evaluate import evaluate_analog, train_hwa
    from nas_edge.evaluate.train import train_and_evaluate

    bad = [o for o in objectives if o not in ANALOG_OBJECTIVES]
    if bad:
        raise AnalogConfigError(f"not analog objectives: {bad}")
    cfg = AnalogConfig.from_profile(profile, **dict(options.overrides))
    if options.hwa is not None:
        model, res = train_hwa(model, data, cfg, training, options.hwa, report=report)
    else:
        res = train_and_evaluate(model, data, training, report=report)
    times = sorted({ANALOG_OBJECTIVES[o] for o in objectives})
    result = evaluate_analog(model, data, cfg, times=times, repeats=options.repeats, seed=seed,
                             calibration_samples=options.calibration_samples,
                             train_limit=training.max_train_samples, device=training.device)
    values = {o: result.mean(ANALOG_OBJECTIVES[o]) for o in objectives}
    values["accuracy"] = res.accuracy
    record = {"mode": "hwa" if options.hwa is not None else "train", "epochs": len(res.history),
              "train_seconds": round(res.seconds, 3), "history": [round(h, 5) for h in res.history],
              "profile": profile.name, **result.to_dict()}
    return values, record
