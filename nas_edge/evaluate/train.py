"""Short, seeded training with intermediate validation accuracy (so Optuna's pruners can act). Needs torch."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nas_edge import _progress as progress
from nas_edge.evaluate.config import TrainConfig, TrainingError
from nas_edge.evaluate.data import Data, input_stats


@dataclass
class TrainResult:
    accuracy: float
    history: list[float] = field(default_factory=list)
    seconds: float = 0.0


def tensors(data: Data, train_limit: int | None = None, device: torch.device | None = None
            ) -> tuple[torch.Tensor, ...]:
    """``x_train, y_train, x_val, y_val`` as tensors (the first ``train_limit`` training samples) on ``device``
    (moved once; default the CPU); images standardised with :func:`~nas_edge.evaluate.data.input_stats` of
    those training inputs, tokens as int64."""
    xt = data.x_train[:train_limit]
    if data.vocab_size is None:
        mean, std = input_stats(data.x_train, train_limit)

        def conv(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy((x - mean) / std).float()
    else:
        def conv(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(x).long()
    out = conv(xt), torch.from_numpy(data.y_train[:train_limit]), conv(data.x_val), torch.from_numpy(data.y_val)
    return tuple(t.to(device) for t in out) if device is not None else out


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(x), batch_size):
        correct += int((model(x[i:i + batch_size]).argmax(dim=1) == y[i:i + batch_size]).sum())
    return correct / max(1, len(x))


def train_and_evaluate(
    model: nn.Module,
    data: Data,
    config: TrainConfig | None = None,
    *,
    report: Callable[[float, int], None] | None = None,
) -> TrainResult:
    """Train ``model`` on ``data`` and return its validation accuracy.

    After each epoch ``report(val_accuracy, epoch)`` is called (and the epoch is reported to
    :mod:`nas_edge._progress` listeners); ``report`` may raise (``optuna.TrialPruned``) to
    stop early. Shuffling uses its own generator seeded from ``config.seed``: with the same initial weights
    (seed torch before building the model) the result is reproducible on one machine. Runs on
    ``config.device`` (data moved there once, mixed precision on CUDA; image networks in the channels-last
    layout, 1.6x faster on CPUs for the cnn space); the model is back on its own device and layout afterwards.
    """
    from nas_edge.evaluate.device import resolve_device, set_layout

    cfg = config or TrainConfig()
    device = resolve_device(cfg.device)
    home = next((p.device for p in model.parameters()), torch.device("cpu"))
    images = data.vocab_size is None and len(data.input_shape) == 3
    with torch_threads(cfg.threads):
        try:
            return _train(set_layout(model.to(device), images), data, cfg, report, device)
        finally:
            set_layout(model.to(home), False)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch intra-op threads (``None``: unchanged), then restore the previous number."""
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def one_cycle(opt: torch.optim.Optimizer, lr: float, total_steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    """A one-cycle schedule (a quarter warm-up, at least one step of it) over ``total_steps``; a constant rate
    for fewer than 4 steps. Torch's own divides by zero when the warm-up rounds to no step (4 steps in all)."""
    if total_steps < 4:
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda _step: 1.0)
    return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total_steps,
                                               pct_start=max(0.25, 2.0 / total_steps))


def check_loss(loss: torch.Tensor, epoch: int, lr: float) -> None:
    """A :class:`TrainingError` when ``loss`` is NaN or infinite (``epoch`` counted from 0)."""
    if not torch.isfinite(loss):
        raise TrainingError(f"training diverged: the loss became {loss.item()} in epoch {epoch + 1} "
                            f"(learning rate {lr:g}); check the data's scale and labels")


def _train(model: nn.Module, data: Data, cfg: TrainConfig, report: Callable[[float, int], None] | None,
           device: torch.device) -> TrainResult:
    from nas_edge.evaluate.device import autocast, grad_scaler

    t0 = time.perf_counter()
    xt, yt, xv, yv = tensors(data, cfg.max_train_samples, device)
    gen = torch.Generator().manual_seed(cfg.seed)
    scaler = grad_scaler(device)
    steps = int(np.ceil(len(xt) / cfg.batch_size))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = one_cycle(opt, cfg.lr, cfg.epochs * steps)
    history: list[float] = []
    for epoch in range(cfg.epochs):
        model.train()
        order = torch.randperm(len(xt), generator=gen).to(device)
        for i in range(steps):
            idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            with autocast(device):
                loss = F.cross_entropy(model(xt[idx]), yt[idx])
            check_loss(loss, epoch, cfg.lr)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
        acc = accuracy(model, xv, yv)
        history.append(acc)
        progress.report("epoch", epoch + 1, cfg.epochs, f"val accuracy {acc:.3f}")
        if report is not None:
            report(acc, epoch)
    return TrainResult(accuracy=history[-1], history=history, seconds=time.perf_counter() - t0)
