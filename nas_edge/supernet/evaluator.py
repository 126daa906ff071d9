"""The ``supernet`` evaluator of a search: a trial's accuracy (and analog accuracy) from inherited weights.

``nas_edge.Objective(..., evaluator=SupernetEvaluator("supernet.pt"))`` (or ``evaluator="supernet:supernet.pt"``,
``nas-edge search --evaluator supernet:supernet.pt``) scores every trial with
:class:`~nas_edge.supernet.evaluate.SupernetScorer` instead of training it. It has the interface of
``nas_edge.search.evaluators.Evaluator`` (structural: this room does not import ``search/``): ``prepare``
refuses, before any study is touched, a search whose space or data is not the checkpoint's; ``describe``
names the checkpoint and its training, so a study resumed with another supernet is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nas_edge.analog.config import ANALOG_OBJECTIVES
from nas_edge.supernet.config import SupernetError
from nas_edge.supernet.evaluate import SupernetScorer


class SupernetEvaluator:
    """Model metrics of search trials from a trained supernet checkpoint (``supernet:FILE``)."""

    name = "supernet"
    metrics = frozenset({"accuracy", *ANALOG_OBJECTIVES})
    trained: frozenset[str] = frozenset()  # no training run per trial: every candidate is scored

    def __init__(self, checkpoint: str | Path, *, device: str | None = None, calibration_samples: int = 256,
                 threads: int | None = 1) -> None:
        """``device``: where subnets are scored; ``None``: the search's training device
        (``objective.training.device``, set in :meth:`prepare`)."""
        self.path = Path(checkpoint)
        self.device = device
        self.scorer = SupernetScorer(self.path, device=device or "cpu", calibration_samples=calibration_samples,
                                     threads=threads)

    def prepare(self, objective: Any) -> None:
        """Refuse a search on another space or other data than the supernet's; take the search's device."""
        if objective.data is None:
            raise SupernetError("the supernet evaluator scores subnets on data: give the search its data")
        self.scorer.check(space=objective.space, data=objective.data)
        if self.device is None:
            self.scorer.to(objective.training.device)

    def evaluate(self, ctx: Any, names: Sequence[str]) -> dict[str, float]:
        """``names`` for ``ctx.arch``; the record goes to the trial's ``evaluation`` (and ``analog``) attributes."""
        obj = ctx.objective
        analog = [n for n in names if n in ANALOG_OBJECTIVES]
        values, record = self.scorer.score(ctx.arch, obj.data, profile=ctx.hardware.profile,
                                           analog_objectives=analog, analog=obj.analog)
        ctx.trial.set_user_attr("evaluation", {k: v for k, v in record.items() if k != "analog"})
        if analog:
            ctx.trial.set_user_attr("analog", record["analog"])
        return {n: values[n] for n in names}

    def describe(self) -> dict[str, Any]:
        ckpt = self.scorer.checkpoint or {}
        return {"name": self.name, "checkpoint": str(self.path), "training": ckpt.get("training"),
                "data_fingerprint": (ckpt.get("data") or {}).get("fingerprint"),
                "calibration_samples": self.scorer.calibration_samples}
