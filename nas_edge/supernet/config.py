"""Supernet training settings and the error type (no torch needed)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from nas_edge.analog.config import HWAConfig
from nas_edge.errors import NasEdgeError


class SupernetError(NasEdgeError, ValueError):
    """A supernet checkpoint that cannot be used here (other space, configuration or data; unreadable), with
    the reason."""


@dataclass(frozen=True)
class SupernetConfig:
    """How a supernet is trained: AdamW with a one-cycle learning rate, the sandwich rule (each step trains the
    largest subnet, the smallest and ``sandwich`` random ones on the same batch) and in-place distillation
    (``distill``: the others learn the largest one's soft predictions as well as the labels). The first
    ``warmup`` fraction of the epochs trains the largest subnet alone (choices between alternatives, such as
    block types, at random): the first stage of Once-for-All's progressive shrinking, so that the teacher
    teaches something.

    ``hwa``: inject the device noise of the ``hardware`` profile into every training forward (as
    :func:`nas_edge.analog.train_hwa` does for one network). ``device``, ``threads`` and
    ``checkpoint_seconds`` (a checkpoint at least this often, and after every epoch) do not change what is
    learnt and are not recorded.
    """

    epochs: int = 30
    batch_size: int = 64
    lr: float = 4e-3
    weight_decay: float = 1e-4
    seed: int = 0
    max_train_samples: int | None = None
    sandwich: int = 2
    distill: bool = True
    warmup: float = 0.25
    hwa: HWAConfig | None = None
    hardware: str | None = None
    device: str = "auto"
    threads: int | None = None
    checkpoint_seconds: float = 60.0

    def __post_init__(self) -> None:
        if (self.epochs < 1 or self.batch_size < 1 or self.lr <= 0 or self.weight_decay < 0 or self.sandwich < 0
                or (self.threads is not None and self.threads < 1) or self.checkpoint_seconds < 0
                or not 0 <= self.warmup < 1
                or (self.max_train_samples is not None and self.max_train_samples < 1)):
            raise SupernetError(f"invalid supernet training settings {self}")
        if self.hwa is not None:
            if self.hardware is None:
                raise SupernetError("hardware-aware supernet training needs a hardware profile (hardware=...)")
            if self.hwa.converters:
                raise SupernetError("hardware-aware supernet training injects device noise into the weights; "
                                    "HWAConfig(converters=True) is not supported here")

    def describe(self) -> dict[str, Any]:
        """What decides the trained weights (recorded in the checkpoint; a resumed run must match it)."""
        return {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                "weight_decay": self.weight_decay, "seed": self.seed, "max_train_samples": self.max_train_samples,
                "sandwich": self.sandwich, "distill": self.distill, "warmup": self.warmup,
                "hwa": dataclasses.asdict(self.hwa) if self.hwa is not None else None,
                "hardware": self.hardware if self.hwa is not None else None}
