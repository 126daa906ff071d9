"""Export winners to ONNX, verify them in ONNX Runtime, quantise, and write the deployment report.

Two layers:

- :func:`export_model` — one trained ``torch.nn.Module`` and its dataset: dynamo export with a dynamic batch,
  ``onnx.checker`` full check, strict shape inference, ORT parity, latency, optional INT8 and ORT format,
  IMC/edge cost of the exported graph, ``report.json``/``.md``/``.html``.
- :func:`export_study` / :func:`study_report` — trials of an Optuna study (``trial N``, the Pareto front or the
  best on one objective) rebuilt from their stored attributes, retrained, exported; the study's report.

Importing this package does not import torch, onnx or onnxruntime.
"""

from __future__ import annotations

import importlib
from typing import Any

from nas_edge.export.errors import ExportError, OutputError, ParityError, TrialSelectionError

_LAZY = {
    "ExportOptions": "pipeline", "ExportResult": "pipeline", "export_model": "pipeline",
    "export_study": "study", "study_report": "study", "select_trials": "study", "StudyExport": "study",
    "EXPORT_SCHEMA": "report", "STUDY_SCHEMA": "report",
}
__all__ = ["ExportError", "OutputError", "ParityError", "TrialSelectionError", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nas_edge.export' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"nas_edge.export.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
