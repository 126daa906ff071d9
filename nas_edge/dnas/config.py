"""The settings of a differentiable search and its error type (no torch needed to build or check them)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from nas_edge.search import SearchError


class DNASError(SearchError):
    """A differentiable search that cannot run as asked (a space, metric or profile it cannot relax exactly,
    a target no architecture meets, a negative lambda, bad settings): one line naming what and why."""


@dataclass(frozen=True)
class DNASConfig:
    """Single-path search (one path per step, drawn by the Gumbel-max trick), weights and architecture
    trained alternately (see :mod:`nas_edge.dnas.train`).

    ``warmup_epochs`` train the shared weights alone on uniformly drawn paths (once per sweep: every lambda
    or target starts from the same warmed-up weights); ``epochs`` then alternate one weight step on the
    weight split and one architecture step on the held-out architecture split (``arch_fraction`` of the
    training set; the validation set is never seen). The temperature of the architecture distribution falls
    geometrically from ``tau_start`` to ``tau_end`` over the search epochs. With a target, lambda starts at
    ``lambda_start`` and is multiplied by ``(expected cost / limit) ** target_rate`` over each epoch.
    """

    warmup_epochs: int = 10
    epochs: int = 30
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    arch_lr: float = 0.05
    tau_start: float = 1.0
    tau_end: float = 0.1
    arch_fraction: float = 0.5
    target_rate: float = 1.0
    lambda_start: float = 0.1
    max_train_samples: int | None = None
    seed: int = 0
    threads: int | None = 1

    def __post_init__(self) -> None:
        bad = []
        if self.warmup_epochs < 0:
            bad.append(f"warmup_epochs={self.warmup_epochs} (expected >= 0)")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                bad.append(f"{name}={getattr(self, name)} (expected >= 1)")
        for name in ("lr", "arch_lr", "tau_start", "tau_end", "target_rate", "lambda_start"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                bad.append(f"{name}={value!r} (expected a positive number)")
        if not 0 < self.arch_fraction < 1:
            bad.append(f"arch_fraction={self.arch_fraction} (expected between 0 and 1)")
        if self.weight_decay < 0:
            bad.append(f"weight_decay={self.weight_decay} (expected >= 0)")
        if self.max_train_samples is not None and self.max_train_samples < 4:
            bad.append(f"max_train_samples={self.max_train_samples} (expected >= 4)")
        if self.threads is not None and self.threads < 1:
            bad.append(f"threads={self.threads} (expected >= 1)")
        if bad:
            raise DNASError(f"DNAS settings: {'; '.join(bad)}")

    @classmethod
    def coerce(cls, value: DNASConfig | dict[str, Any] | None) -> DNASConfig:
        if isinstance(value, DNASConfig):
            return value
        try:
            return cls(**(value or {}))
        except TypeError as exc:
            raise DNASError(f"DNAS settings: {exc}") from None

    def describe(self) -> dict[str, Any]:
        """What decides the result (stored with each derived trial; ``threads`` left out)."""
        out = asdict(self)
        out.pop("threads")
        return out
