"""Evaluation: datasets, short seeded training with pruning reports, zero-cost proxies.

``load_data``, :class:`Data` and :class:`TrainConfig` need no torch; ``train_and_evaluate``, ``naswot`` and
``synflow`` are loaded (with torch) on first use.
"""

from __future__ import annotations

from typing import Any

from nas_edge.evaluate.config import TrainConfig, TrainingError
from nas_edge.evaluate.data import ARRAYS, Data, DataError, digits, from_arrays, from_function, from_npz, load_data

_LAZY = {"TrainResult": "train", "train_and_evaluate": "train", "accuracy": "train",
         "naswot": "proxies", "synflow": "proxies"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"nas_edge.evaluate.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'nas_edge.evaluate' has no attribute {name!r}")


__all__ = ["ARRAYS", "Data", "DataError", "TrainConfig", "TrainingError", "digits", "from_arrays", "from_function",
           "from_npz", "load_data", *_LAZY]
