"""Training configuration (no torch needed to build or validate it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nas_edge.errors import NasEdgeError


class TrainingError(NasEdgeError):
    """A training that cannot give a meaningful result (its loss became NaN or infinite)."""


@dataclass(frozen=True)
class TrainConfig:
    """AdamW with a one-cycle learning rate; validation after every epoch.

    ``threads=1`` by default: the small networks of an edge search gain little from intra-op threads, and
    on a busy machine (or with parallel trials) one thread per training is several times faster.
    """

    epochs: int = 12
    batch_size: int = 64
    lr: float = 4e-3
    weight_decay: float = 1e-4
    seed: int = 0
    max_train_samples: int | None = None  # a subset, for even quicker searches
    threads: int | None = 1  # torch intra-op threads while training; None leaves torch's setting
    device: str = "auto"  # auto (CUDA when there is one), cpu, cuda, cuda:N or mps (nas_edge.evaluate.device)

    def __post_init__(self) -> None:
        if (self.epochs < 1 or self.batch_size < 1 or self.lr <= 0 or self.weight_decay < 0
                or (self.threads is not None and self.threads < 1)):
            raise ValueError(f"invalid training configuration {self}")

    def describe(self) -> dict[str, Any]:
        """What decides a training's result (stored with a study; ``threads``, ``device`` and the seed are left
        out)."""
        return {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                "weight_decay": self.weight_decay, "max_train_samples": self.max_train_samples}
