"""nas-edge: hardware-aware neural architecture search for in-memory-computing and edge devices.

The public names are imported lazily, so ``import nas_edge`` (and ``nas-edge --help``) stays fast:
``Workload``, ``estimate``, ``estimate_batch``, ``load_profile``, ``profile_onnx``, ``Objective``,
``HardwareCost``, ``run_search``, ``create_space``, ``export_model``, ``export_study``, ``evaluate_analog`` ...
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Workload": "nas_edge.workload",
    "OpKind": "nas_edge.workload",
    "estimate": "nas_edge.cost",
    "estimate_batch": "nas_edge.cost",
    "Cost": "nas_edge.cost",
    "load_profile": "nas_edge.hardware",
    "ProfileError": "nas_edge.hardware",
    "profile_onnx": "nas_edge.profiling",
    "export_model": "nas_edge.export",
    "export_study": "nas_edge.export",
    "Objective": "nas_edge.search",
    "HardwareCost": "nas_edge.search",
    "run_search": "nas_edge.search",
    "SearchError": "nas_edge.search",
    "NasEdgeError": "nas_edge.errors",
    "screening_sampler": "nas_edge.search",
    "create_space": "nas_edge.spaces",
    "list_spaces": "nas_edge.spaces",
    "register_space": "nas_edge.spaces",
    "Architecture": "nas_edge.spaces",
    "load_data": "nas_edge.evaluate",
    "TrainConfig": "nas_edge.evaluate",
    "evaluate_analog": "nas_edge.analog",
    "train_hwa": "nas_edge.analog",
    "AnalogConfig": "nas_edge.analog",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nas_edge' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
