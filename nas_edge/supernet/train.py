"""Supernet training: the sandwich rule with in-place distillation, on any device, resumable after a kill, and
data-parallel under ``torchrun``.

Every random choice of a step (the batch order of its epoch, the subnets, the device noise) is drawn from
generators seeded with ``(seed, epoch, step)``, so a run resumed from a checkpoint continues exactly as the
uninterrupted run would have. Checkpoints are written after every epoch and at least every
``checkpoint_seconds`` (:mod:`nas_edge.supernet.checkpoint`).

Under ``torchrun --nproc-per-node N`` (``WORLD_SIZE`` > 1) each process trains on its share of every batch
and :class:`~torch.nn.parallel.DistributedDataParallel` averages the gradients (NCCL on GPUs, gloo on CPUs):
the same steps as one process, up to batch-norm statistics taken per share.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nas_edge._json import json_safe
from nas_edge.evaluate.data import Data
from nas_edge.evaluate.device import autocast, generator, grad_scaler, resolve_device
from nas_edge.evaluate.train import check_loss, one_cycle, tensors, torch_threads
from nas_edge.spaces.base import Architecture, NetworkSpace
from nas_edge.supernet.base import Supernet, build_supernet
from nas_edge.supernet.checkpoint import (
    check_data,
    check_space,
    check_training,
    data_record,
    load_checkpoint,
    save_checkpoint,
)
from nas_edge.supernet.config import SupernetConfig, SupernetError


@dataclass(frozen=True)
class TrainEvent:
    """Progress of a supernet training: ``kind`` is ``start``, ``step`` or ``epoch`` (after its checkpoint);
    ``epoch`` counts from 0, ``step`` is the number of steps done in it, ``loss`` the mean over the subnets of
    the step (``step``) or over the epoch's steps (``epoch``)."""

    kind: str
    epoch: int
    epochs: int
    step: int
    steps: int
    loss: float = float("nan")


@dataclass
class SupernetResult:
    path: Path
    epochs: int
    seconds: float
    history: list[float] = field(default_factory=list)
    resumed_at: tuple[int, int] | None = None  # (epoch, step) a previous run had reached
    already_finished: bool = False


class SandwichLoss(nn.Module):
    """One training step's loss over several subnets on one batch: the first (the largest) learns the labels,
    the others the mean of the label loss and the KL divergence from its soft predictions (in-place
    distillation; BigNAS uses the divergence alone, which let a largest subnet that was still poor drag the
    others down: on digits 11-90 % inherited transformer accuracy against 44-92 % with both terms), or the
    labels alone (``distill=False``). One module, one forward, one backward: what
    :class:`~torch.nn.parallel.DistributedDataParallel` needs."""

    def __init__(self, supernet: Supernet, distill: bool = True) -> None:
        super().__init__()
        self.supernet = supernet
        self.distill = distill

    def forward(self, x: torch.Tensor, y: torch.Tensor, archs: Sequence[Architecture]) -> torch.Tensor:
        total: torch.Tensor | float = 0.0
        teacher: torch.Tensor | None = None
        for arch in archs:
            logits = self.supernet(x, arch).float()
            loss = F.cross_entropy(logits, y)
            if teacher is not None and self.distill:
                kd = F.kl_div(F.log_softmax(logits, dim=-1), F.softmax(teacher, dim=-1), reduction="batchmean")
                loss = (loss + kd) / 2
            if teacher is None:
                teacher = logits.detach()
            total = total + loss
        assert isinstance(total, torch.Tensor)
        return total


@dataclass
class _Dist:
    rank: int
    world: int
    device: torch.device

    @classmethod
    def setup(cls, device: str) -> _Dist:
        """One process, or this process's place under ``torchrun`` (its process group started)."""
        dev = resolve_device(device)
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls(0, 1, dev)
        import torch.distributed as dist

        if dev.type == "cuda":
            dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(dev)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        return cls(dist.get_rank(), dist.get_world_size(), dev)

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()

    def close(self) -> None:
        if self.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def step_archs(supernet: Supernet, cfg: SupernetConfig, epoch: int, step: int) -> list[Architecture]:
    """The subnets of one step (seeded by the step): the largest alone during the warm-up, then the largest,
    the smallest and ``cfg.sandwich`` random ones."""
    rng = np.random.default_rng([cfg.seed, epoch, step])
    if epoch < round(cfg.warmup * cfg.epochs):
        return [supernet.largest(rng)]
    return [supernet.largest(rng), supernet.smallest(rng), *(supernet.space.sample(rng) for _ in range(cfg.sandwich))]


def train_supernet(
    space: NetworkSpace,
    data: Data,
    config: SupernetConfig | None = None,
    *,
    out: str | Path,
    progress: Callable[[TrainEvent], None] | None = None,
) -> SupernetResult:
    """Train (or resume, when ``out`` holds an unfinished checkpoint of the same space, data and settings) a
    supernet of ``space`` on ``data``; the trained supernet is written to ``out``.

    A finished checkpoint is returned as it is (``already_finished``). Raises
    :class:`~nas_edge.supernet.config.SupernetError` for a checkpoint of other space, data or settings, and
    :class:`~nas_edge.evaluate.device.DeviceError` for a device that is not there.
    """
    cfg = config or SupernetConfig()
    if (space.input_shape, space.num_classes) != (data.input_shape, data.num_classes):
        raise SupernetError(f"space input {space.input_shape} / {space.num_classes} classes does not match the "
                            f"data ({data.input_shape} / {data.num_classes} classes)")
    dist = _Dist.setup(cfg.device)
    try:
        with torch_threads(cfg.threads):
            return _Trainer(space, data, cfg, Path(out), dist, progress if dist.rank == 0 else None).run()
    finally:
        dist.close()


class _Trainer:
    def __init__(self, space: NetworkSpace, data: Data, cfg: SupernetConfig, out: Path, dist: _Dist,
                 progress: Callable[[TrainEvent], None] | None) -> None:
        self.space, self.data, self.cfg, self.out, self.dist, self.progress = space, data, cfg, out, dist, progress
        self.device = dist.device
        torch.manual_seed(cfg.seed)
        self.supernet = build_supernet(space).to(self.device)
        self.analog = None
        if cfg.hwa is not None:
            from nas_edge.analog.config import AnalogConfig

            self.analog = AnalogConfig.from_profile(str(cfg.hardware))
            self.supernet.set_hwa(self.analog, cfg.hwa)
        self.xt, self.yt = tensors(data, cfg.max_train_samples, self.device)[:2]
        n = len(self.xt)
        self.batch = min(cfg.batch_size, n)
        if self.batch < dist.world:
            raise SupernetError(f"a batch of {self.batch} cannot be shared by {dist.world} processes")
        self.steps = n // self.batch
        self.opt = torch.optim.AdamW(self.supernet.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.sched = one_cycle(self.opt, cfg.lr, cfg.epochs * self.steps)
        self.scaler = grad_scaler(self.device)
        self.epoch = self.step = 0
        self.loss_sum, self.seconds = 0.0, 0.0
        self.history: list[float] = []

    def run(self) -> SupernetResult:
        resumed = None
        if self.out.exists():
            ckpt = load_checkpoint(self.out)
            check_space(ckpt, self.space, self.out)
            check_data(ckpt, self.data, self.out)
            check_training(ckpt, self.cfg.describe(), self.out)
            self.supernet.load_state_dict(ckpt["model"])
            p = ckpt["progress"]
            if p["finished"]:
                return SupernetResult(self.out, self.cfg.epochs, float(p["seconds"]), list(p["history"]),
                                      already_finished=True)
            self.opt.load_state_dict(ckpt["optimizer"])
            self.sched.load_state_dict(ckpt["scheduler"])
            self.scaler.load_state_dict(ckpt["scaler"])
            self.epoch, self.step, self.loss_sum = int(p["epoch"]), int(p["step"]), float(p["loss_sum"])
            self.history, self.seconds = [float(h) for h in p["history"]], float(p["seconds"])
            resumed = (self.epoch, self.step)
        self._emit("start")
        model: nn.Module = SandwichLoss(self.supernet, self.cfg.distill)
        if self.dist.world > 1:
            model = nn.parallel.DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=True)
        t0, last_save = time.perf_counter() - self.seconds, time.perf_counter()
        self.supernet.train()
        while self.epoch < self.cfg.epochs:
            order = np.random.default_rng([self.cfg.seed, self.epoch]).permutation(len(self.xt))
            order_t = torch.from_numpy(order).to(self.device)
            while self.step < self.steps:
                loss = self._train_step(model, order_t)
                self.loss_sum += loss
                self.step += 1
                self.seconds = time.perf_counter() - t0
                self._emit("step", loss)
                if self.step < self.steps and time.perf_counter() - last_save >= self.cfg.checkpoint_seconds:
                    self._save()
                    last_save = time.perf_counter()
            self.history.append(self.loss_sum / self.steps)
            self.epoch, self.step, self.loss_sum = self.epoch + 1, 0, 0.0
            self.seconds = time.perf_counter() - t0
            self._save(finished=self.epoch == self.cfg.epochs)
            last_save = time.perf_counter()
            self._emit("epoch", self.history[-1], epoch=self.epoch - 1, step=self.steps)
        return SupernetResult(self.out, self.cfg.epochs, self.seconds, self.history, resumed_at=resumed)

    def _train_step(self, model: nn.Module, order: torch.Tensor) -> float:
        cfg, rank, world = self.cfg, self.dist.rank, self.dist.world
        idx = order[self.step * self.batch:(self.step + 1) * self.batch][rank::world]
        archs = step_archs(self.supernet, cfg, self.epoch, self.step)
        if self.analog is not None:
            self.supernet.hwa_generator = generator(self.device, (cfg.seed * 1_000_003 + self.epoch) * 100_003
                                                    + self.step)
        with autocast(self.device):
            loss = model(self.xt[idx], self.yt[idx], archs)
        mean = loss.detach() / len(archs)
        if world > 1:  # report the loss of the whole batch; every process sees the same and stops alike
            torch.distributed.all_reduce(mean)
            mean /= world
        check_loss(mean, self.epoch, cfg.lr)
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        self.sched.step()
        return float(mean)

    def _emit(self, kind: str, loss: float = float("nan"), *, epoch: int | None = None,
              step: int | None = None) -> None:
        if self.progress is not None:
            self.progress(TrainEvent(kind, self.epoch if epoch is None else epoch, self.cfg.epochs,
                                     self.step if step is None else step, self.steps, loss))

    def _save(self, finished: bool = False) -> None:
        if self.dist.rank == 0:
            payload: dict[str, Any] = {
                "space": self.space.name, "space_config": json_safe(self.space.config()),
                "data": data_record(self.data), "training": self.cfg.describe(),
                "analog": self.analog.describe() if self.analog is not None else None,
                "progress": {"epoch": self.epoch, "step": self.step, "finished": finished,
                             "seconds": self.seconds, "loss_sum": self.loss_sum, "history": list(self.history),
                             "steps_per_epoch": self.steps},
                "model": self.supernet.state_dict(),
            }
            if not finished:
                payload.update(optimizer=self.opt.state_dict(), scheduler=self.sched.state_dict(),
                               scaler=self.scaler.state_dict())
            save_checkpoint(self.out, payload)
        self.dist.barrier()
