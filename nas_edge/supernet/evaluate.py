"""Scoring subnets from inherited weights, and extracting them as standalone networks.

A subnet is extracted (``space.build(arch)`` holding the supernet's slices), its batch-norm statistics are
re-estimated on a fixed, seeded subset of the training inputs (the supernet trained on batch statistics of
many subnets, so the shared statistics fit none), and it is scored on the validation split — digitally, and
on the simulated chip of a profile where analog objectives are asked for.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from nas_edge.evaluate.data import Data
from nas_edge.evaluate.device import resolve_device, set_layout
from nas_edge.evaluate.train import accuracy, tensors, torch_threads
from nas_edge.hardware import Profile
from nas_edge.spaces.base import Architecture, NetworkSpace, SpaceError
from nas_edge.supernet.base import Supernet, build_supernet
from nas_edge.supernet.checkpoint import check_data, check_space, checkpoint_space, load_checkpoint
from nas_edge.supernet.config import SupernetError


@torch.no_grad()
def recalibrate_bn(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> None:
    """Re-estimate every batch norm's running statistics as the average over ``x`` (in chunks of
    ``batch_size``); the model is left in eval mode."""
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the chunks
    if norms:
        model.train()
        for i in range(0, len(x), batch_size):
            model(x[i:i + batch_size])
    for m, momentum in zip(norms, saved, strict=True):
        m.momentum = momentum
    model.eval()


class SupernetScorer:
    """``scorer(arch, data) -> {"accuracy": ...}``: the validation accuracy of a subnet with inherited weights
    after batch-norm recalibration on ``calibration_samples`` training inputs.

    ``supernet`` is a checkpoint written by :func:`~nas_edge.supernet.train.train_supernet` (its space is
    rebuilt from it, and the data is checked against the one it was trained on) or a :class:`Supernet`.
    Runs on ``device`` (the supernet and each data set's tensors moved there once) with ``threads`` torch
    threads (``None``: unchanged).
    """

    def __init__(self, supernet: str | Path | Supernet, *, device: str | torch.device = "auto",
                 calibration_samples: int = 256, batch_size: int = 512, seed: int = 0,
                 threads: int | None = 1) -> None:
        if calibration_samples < 1 or batch_size < 1:
            raise SupernetError("calibration_samples and batch_size must be >= 1")
        self.device = resolve_device(device)
        self.checkpoint: dict[str, Any] | None = None
        self.path = Path("supernet")
        if isinstance(supernet, Supernet):
            self.supernet = supernet
        else:
            self.path = Path(supernet)
            ckpt = load_checkpoint(self.path)
            self.supernet = build_supernet(checkpoint_space(ckpt, self.path))
            try:
                self.supernet.load_state_dict(ckpt["model"])
            except RuntimeError as exc:
                raise SupernetError(f"{self.path}: its weights do not fit its space ({exc})") from None
            self.checkpoint = {k: v for k, v in ckpt.items() if k not in ("model", "optimizer", "scheduler", "scaler")}
        self.supernet.to(self.device).eval()
        self.calibration_samples, self.batch_size, self.seed = calibration_samples, batch_size, seed
        self.threads = threads
        self._prepared: tuple[Data, tuple[torch.Tensor, ...]] | None = None

    def to(self, device: str | torch.device) -> SupernetScorer:
        """Score on ``device`` from now on (the supernet moved there; data tensors prepared again)."""
        self.device = resolve_device(device)
        self.supernet.to(self.device)
        self._prepared = None
        return self

    @property
    def space(self) -> NetworkSpace:
        return self.supernet.space

    @property
    def train_limit(self) -> int | None:
        """Training inputs the supernet's input normalisation came from (None: all)."""
        return None if self.checkpoint is None else self.checkpoint["training"].get("max_train_samples")

    def check(self, space: NetworkSpace | None = None, data: Data | None = None) -> None:
        """Refuse a space or data other than the supernet's (:class:`SupernetError`, naming what differs)."""
        if self.checkpoint is not None:
            if space is not None:
                check_space(self.checkpoint, space, self.path)
            if data is not None:
                check_data(self.checkpoint, data, self.path)
        elif space is not None and space.config() != self.space.config():
            raise SupernetError(f"the supernet's {self.space.name} space differs from the {space.name} space given")

    def _tensors(self, data: Data) -> tuple[torch.Tensor, ...]:
        """Calibration inputs, validation inputs and labels of ``data``, on the device (prepared once)."""
        if self._prepared is None or self._prepared[0] is not data:
            self.check(data=data)
            if (data.input_shape, data.num_classes) != (self.space.input_shape, self.space.num_classes):
                raise SupernetError(f"data {data.name!r} ({data.input_shape}, {data.num_classes} classes) does not "
                                    f"fit the supernet's space ({self.space.input_shape}, "
                                    f"{self.space.num_classes} classes)")
            xt, _, xv, yv = tensors(data, self.train_limit, self.device)
            gen = torch.Generator().manual_seed(self.seed)
            cal = xt[torch.randperm(len(xt), generator=gen)[:self.calibration_samples].to(self.device)]
            self._prepared = (data, (cal, xv, yv))
        return self._prepared[1]

    def subnet(self, arch: Architecture, data: Data) -> nn.Module:
        """The subnet ``arch`` as a standalone module with inherited weights and recalibrated batch norms (on
        the scorer's device, eval mode)."""
        return set_layout(self._subnet(arch, data), False)

    def _subnet(self, arch: Architecture, data: Data) -> nn.Module:
        """:meth:`subnet`, image networks in the channels-last layout (faster on CPUs)."""
        try:
            self.space.to_params(arch)
        except SpaceError as exc:
            raise SupernetError(f"architecture {arch.summary()} is not a subnet of this supernet: {exc}") from None
        cal, _, _ = self._tensors(data)
        with torch_threads(self.threads):
            model = self.supernet.extract(arch, self.device)
            set_layout(model, cal.dim() == 4)
            recalibrate_bn(model, cal, self.batch_size)
        return model

    def score(self, arch: Architecture, data: Data, *, profile: Profile | str | None = None,
              analog_objectives: Sequence[str] = (), analog: Any = None) -> tuple[dict[str, float], dict[str, Any]]:
        """``({"accuracy": ..., analog objective: ...}, record)``. Analog objectives (names of
        :data:`~nas_edge.analog.config.ANALOG_OBJECTIVES`) are simulated on ``profile`` with ``analog``
        (:class:`~nas_edge.analog.objective.AnalogOptions` or a mapping; repeats, overrides, calibration);
        ``record`` is JSON-safe, for a trial's user attributes."""
        t0 = time.perf_counter()
        model = self._subnet(arch, data)
        _, xv, yv = self._tensors(data)
        with torch_threads(self.threads):
            values = {"accuracy": accuracy(model, xv, yv, self.batch_size)}
        record: dict[str, Any] = {"mode": "supernet", "supernet": str(self.path),
                                  "calibration_samples": self.calibration_samples}
        if analog_objectives:
            values_a, record_a = self._analog(model, data, profile, analog_objectives, analog)
            values.update(values_a)
            record["analog"] = record_a
        record["seconds"] = round(time.perf_counter() - t0, 4)
        return values, record

    def __call__(self, arch: Architecture, data: Data, **analog: Any) -> dict[str, float]:
        """The metrics of :meth:`score`."""
        return self.score(arch, data, **analog)[0]

    def _analog(self, model: nn.Module, data: Data, profile: Profile | str | None, objectives: Sequence[str],
                options: Any) -> tuple[dict[str, float], dict[str, Any]]:
        from nas_edge.analog.config import ANALOG_OBJECTIVES, AnalogConfig
        from nas_edge.analog.evaluate import evaluate_analog
        from nas_edge.analog.objective import AnalogOptions

        bad = [o for o in objectives if o not in ANALOG_OBJECTIVES]
        if bad or profile is None:
            raise SupernetError(f"analog objectives need a profile and names among {sorted(ANALOG_OBJECTIVES)}; "
                                f"got profile {profile!r}, objectives {list(objectives)}")
        opts = AnalogOptions.coerce(options)
        cfg = AnalogConfig.from_profile(profile, **dict(opts.overrides))
        result = evaluate_analog(model, data, cfg, times=sorted({ANALOG_OBJECTIVES[o] for o in objectives}),
                                 repeats=opts.repeats, seed=self.seed, calibration_samples=opts.calibration_samples,
                                 train_limit=self.train_limit, threads=self.threads, device=self.device)
        return {o: result.mean(ANALOG_OBJECTIVES[o]) for o in objectives}, result.to_dict()


def extract_subnet(supernet: str | Path | Supernet, arch: Architecture, data: Data, *,
                   calibration_samples: int = 256, device: str | torch.device = "cpu") -> nn.Module:
    """A standalone ``space.build(arch)`` with the supernet's weights and batch norms recalibrated on ``data``
    (checked against the supernet's), on ``device``: the start of an export's fine-tuning."""
    scorer = SupernetScorer(supernet, device=device, calibration_samples=calibration_samples, threads=None)
    return scorer.subnet(arch, data)
