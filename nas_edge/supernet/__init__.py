"""Weight-sharing supernets: train once, then score any architecture of the space from inherited weights.

- :mod:`~nas_edge.supernet.elastic`, :mod:`~nas_edge.supernet.cnn`, :mod:`~nas_edge.supernet.transformer`:
  the shared weights of each space and the slices a subnet inherits (OFA / AutoFormer style);
- :mod:`~nas_edge.supernet.base`: running a subnet as the space's own module on those slices;
- :mod:`~nas_edge.supernet.train`: sandwich rule, in-place distillation, optional device noise, resumable
  checkpoints, ``torchrun`` data parallelism;
- :mod:`~nas_edge.supernet.evaluate`: :class:`SupernetScorer` (``scorer(arch, data) -> {"accuracy": ...}``
  after batch-norm recalibration) and :func:`extract_subnet`;
- :mod:`~nas_edge.supernet.evaluator`: :class:`SupernetEvaluator`, the ``supernet`` evaluator of a search
  (``nas_edge.Objective(..., evaluator=SupernetEvaluator("supernet.pt"))``).

``SupernetConfig`` and ``SupernetError`` need no torch; the rest is loaded, with torch, on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from nas_edge.supernet.config import SupernetConfig, SupernetError

_LAZY = {
    "Supernet": "base", "build_supernet": "base",
    "train_supernet": "train", "TrainEvent": "train", "SupernetResult": "train",
    "SupernetScorer": "evaluate", "extract_subnet": "evaluate", "recalibrate_bn": "evaluate",
    "SupernetEvaluator": "evaluator",
    "load_checkpoint": "checkpoint", "checkpoint_space": "checkpoint",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"nas_edge.supernet.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'nas_edge.supernet' has no attribute {name!r}")


__all__ = ["SupernetConfig", "SupernetError", *_LAZY]
