"""Accuracy under IMC non-idealities: simulated analog inference and hardware-aware training (docs/design.md §5).

Everything is derived from an IMC hardware profile (:meth:`AnalogConfig.from_profile`). The configuration,
the analog objectives and the start-of-search check need no torch; the simulation (``evaluate_analog``,
``train_hwa``, ``convert_to_analog``, the analog layers) is loaded, with torch, on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from nas_edge.analog.config import (
    ANALOG_OBJECTIVES,
    DAY,
    HOUR,
    MONTH,
    SECOND,
    AnalogConfig,
    AnalogConfigError,
    HWAConfig,
    check_analog_objectives,
    missing_noise_fields,
    required_noise_fields,
)

_LAZY = {
    "AnalogResult": "evaluate", "evaluate_analog": "evaluate", "train_hwa": "evaluate", "tensors": "evaluate",
    "AnalogLinear": "layers", "AnalogConv2d": "layers", "row_groups": "layers",
    "AnalogMultiheadAttention": "model", "convert_to_analog": "model", "analog_layers": "model",
    "calibrate": "model", "program": "model", "drift_to": "model", "set_mode": "model", "set_hwa": "model",
    "set_config": "model",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"nas_edge.analog.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'nas_edge.analog' has no attribute {name!r}")


__all__ = ["ANALOG_OBJECTIVES", "DAY", "HOUR", "MONTH", "SECOND", "AnalogConfig", "AnalogConfigError", "HWAConfig",
           "check_analog_objectives", "missing_noise_fields", "required_noise_fields", *_LAZY]
