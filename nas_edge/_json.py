"""The one JSON cleaning rule: plain Python types for Optuna user attributes and for every JSON file written.

NumPy scalars and arrays become Python numbers and lists, tuples lists, paths strings, mapping keys strings.
``finite=True`` (files written with ``allow_nan=False``) also turns NaN and infinities into ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import numpy as np


def json_safe(value: Any, *, finite: bool = False) -> Any:
    """A JSON-serialisable copy of ``value`` (see the module docstring)."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, finite=finite) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, finite=finite) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist(), finite=finite)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return finite_or_none(value) if finite else float(value)
    return value


def finite_or_none(value: Any) -> float | None:
    """``float(value)`` for a finite number (Python or NumPy), else ``None``."""
    if isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(float(value)):
        return float(value)
    return None
