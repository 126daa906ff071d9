"""Analog accuracy with Monte-Carlo repeats, and hardware-aware training.

:func:`evaluate_analog` copies a trained network, converts it, calibrates the input ranges and ADC full
scales on a fixed subset of the training inputs (noise-free devices), then per repeat programs fresh devices
(programming noise, drift exponents) and reads them at every requested time (drift, global drift
compensation, read noise on every read), scoring the validation split each time. Repeats share nothing but
the calibration; repeat ``r`` draws from a generator seeded with ``seed + r``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from nas_edge import _progress as progress
from nas_edge.analog.config import SECOND, AnalogConfig, HWAConfig
from nas_edge.analog.model import analog_layers, calibrate, convert_to_analog, drift_to, program, set_hwa, set_mode
from nas_edge.evaluate.config import TrainConfig
from nas_edge.evaluate.data import Data
from nas_edge.evaluate.train import tensors  # the training's normalisation, shared (re-exported here)


@dataclass
class AnalogResult:
    """Accuracies of ``repeats`` programmed chips (rows) at ``times_s`` (columns)."""

    times_s: tuple[float, ...]
    accuracies: np.ndarray
    digital_accuracy: float
    seconds: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def repeats(self) -> int:
        return int(self.accuracies.shape[0])

    def _col(self, t_s: float | None) -> np.ndarray:
        t = self.times_s[0] if t_s is None else t_s
        if t not in self.times_s:
            raise KeyError(f"no accuracy at t = {t} s; simulated times: {list(self.times_s)}")
        return self.accuracies[:, self.times_s.index(t)]

    def mean(self, t_s: float | None = None) -> float:
        """Mean accuracy over repeats at ``t_s`` (default: the first time)."""
        return float(self._col(t_s).mean())

    def std(self, t_s: float | None = None) -> float:
        """Standard deviation over repeats (ddof 1; 0 for a single repeat)."""
        col = self._col(t_s)
        return float(col.std(ddof=1)) if len(col) > 1 else 0.0

    def sem(self, t_s: float | None = None) -> float:
        """Standard error of the mean."""
        return self.std(t_s) / math.sqrt(self.repeats)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (for Optuna user attributes)."""
        return {"digital_accuracy": round(self.digital_accuracy, 6), "repeats": self.repeats,
                "seconds": round(self.seconds, 3),
                "times_s": [float(t) for t in self.times_s],
                "mean": [round(self.mean(t), 6) for t in self.times_s],
                "std": [round(self.std(t), 6) for t in self.times_s]}

    def __str__(self) -> str:
        parts = [f"t={_fmt_time(t)}: {self.mean(t):.4f} ± {self.std(t):.4f}" for t in self.times_s]
        return f"digital {self.digital_accuracy:.4f}; analog ({self.repeats} repeats) " + ", ".join(parts)


def _fmt_time(t: float) -> str:
    for unit, sec in (("mo", 30 * 86400.0), ("d", 86400.0), ("h", 3600.0), ("s", 1.0)):
        if t >= sec:
            return f"{t / sec:g}{unit}"
    return f"{t:g}s"


def evaluate_analog(
    model: nn.Module,
    data: Data,
    config: AnalogConfig,
    *,
    times: Sequence[float] = (SECOND,),
    repeats: int = 5,
    seed: int = 0,
    calibration_samples: int = 512,
    batch_size: int = 512,
    train_limit: int | None = None,
    threads: int | None = 1,
    device: str | torch.device = "auto",
) -> AnalogResult:
    """Validation accuracy of ``model`` (trained, plain or analog) on the simulated chip ``config``.

    Without any source of randomness in ``config`` a single repeat is run (they would all agree). Runs on
    ``threads`` torch threads (``None``: unchanged; one is fastest for these small networks on a busy
    machine, as for training), on ``device`` (``auto``: CUDA when there is one; the data moved there once,
    the random draws made there: a GPU gives other draws of the same distributions).
    """
    from nas_edge.evaluate.device import resolve_device
    from nas_edge.evaluate.train import torch_threads

    dev = resolve_device(device)
    with torch_threads(threads):
        return _evaluate(model, data, config, tuple(float(t) for t in times), repeats, seed, calibration_samples,
                         batch_size, train_limit, dev)


def _evaluate(model: nn.Module, data: Data, config: AnalogConfig, times: tuple[float, ...], repeats: int, seed: int,
              calibration_samples: int, batch_size: int, train_limit: int | None,
              device: torch.device) -> AnalogResult:
    from nas_edge.evaluate.device import generator
    from nas_edge.evaluate.train import accuracy

    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if not times or min(times) < 0:
        raise ValueError(f"times must be non-empty and >= 0, got {times}")
    t0 = time.perf_counter()
    net = convert_to_analog(model, config).to(device)
    set_hwa(net, None)
    net.eval()
    xt, _, xv, yv = tensors(data, train_limit, device)
    set_mode(net, "digital")
    digital = accuracy(net, xv, yv, batch_size)
    gen = torch.Generator().manual_seed(seed)
    cal = xt[torch.randperm(len(xt), generator=gen)[:calibration_samples].to(device)]
    calibrate(net, cal)
    n_rep = repeats if config.is_noisy else 1
    accs = np.zeros((n_rep, len(times)))
    for r in range(n_rep):
        g = generator(device, seed + r)
        program(net, g)
        for i, t in enumerate(times):
            drift_to(net, t)
            accs[r, i] = accuracy(net, xv, yv, batch_size)
        progress.report("analog chip", r + 1, n_rep, f"accuracy {accs[r, 0]:.3f}")
    return AnalogResult(times_s=times, accuracies=accs, digital_accuracy=digital,
                        seconds=time.perf_counter() - t0, config=config.describe())


def train_hwa(
    model: nn.Module,
    data: Data,
    config: AnalogConfig,
    training: TrainConfig | None = None,
    hwa: HWAConfig | None = None,
    *,
    report: Callable[[float, int], None] | None = None,
) -> tuple[nn.Module, Any]:
    """Hardware-aware training: ``train_and_evaluate`` with device noise injected into every training
    forward (see :class:`HWAConfig`). The model's layers become analog in place (digital mode afterwards;
    per-epoch validation is digital). Runs on ``training.device``. Returns ``(network, TrainResult)``."""
    from nas_edge.evaluate.device import generator, resolve_device
    from nas_edge.evaluate.train import train_and_evaluate

    cfg = training or TrainConfig()
    net = convert_to_analog(model, config, inplace=True)
    if not any(True for _ in analog_layers(net)):
        raise ValueError("the model has no Linear or Conv2d layer to train hardware-aware")
    set_hwa(net, hwa or HWAConfig(), generator(resolve_device(cfg.device), cfg.seed + 7919))
    set_mode(net, "digital")
    try:
        result = train_and_evaluate(net, data, cfg, report=report)
    finally:
        set_hwa(net, None)
    return net, result
