"""What every supernet does, whatever its space.

A subnet is the space's own module, ``space.build(arch)``: the supernet builds it without weights (on the
``meta`` device, so nothing is allocated or initialised) and runs it with ``torch.func.functional_call`` on the
tensors :meth:`Supernet.subnet_state` slices from the shared weights, under the module's own parameter names.
Training, evaluation and extraction therefore run exactly the network the space describes; gradients flow
back into the shared weights. Batch norm always uses the statistics of the batch while training a supernet;
an extracted subnet gets its own statistics by recalibration (:mod:`nas_edge.supernet.evaluate`).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
import torch
from optuna.distributions import CategoricalDistribution, IntDistribution
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from nas_edge.analog.config import AnalogConfig, HWAConfig
from nas_edge.spaces.base import Architecture, NetworkSpace
from nas_edge.supernet.config import SupernetError
from nas_edge.supernet.elastic import State


class Supernet(nn.Module):
    """Shared weights for every architecture of ``space``; ``forward(x, arch)`` runs one subnet."""

    space_name: ClassVar[str] = ""
    choice_params: ClassVar[tuple[str, ...]] = ()
    """Parameters that pick between alternatives rather than sizes (random in the largest / smallest subnet)."""

    def __init__(self, space: NetworkSpace) -> None:
        super().__init__()
        self.space = space
        self._hwa: tuple[AnalogConfig, HWAConfig] | None = None
        self.hwa_generator: torch.Generator | None = None

    @abstractmethod
    def subnet_state(self, arch: Architecture) -> State:
        """The subnet's parameters, named as in ``space.build(arch)`` (views and transforms of the shared
        weights: gradients reach them)."""

    # -- running and extracting subnets ------------------------------------------------------------------

    def skeleton(self, arch: Architecture) -> nn.Module:
        """``space.build(arch)`` without storage, its batch norms on batch statistics."""
        with torch.device("meta"):
            module = self.space.build(arch)
        for m in module.modules():
            if isinstance(m, _BatchNorm):
                m.track_running_stats = False
                m.running_mean = m.running_var = m.num_batches_tracked = None
        return module

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        skeleton = self.skeleton(arch)
        state = self.subnet_state(arch)
        if self.training and self._hwa is not None:
            state = self._with_device_noise(state, skeleton)
        if x.dim() == 4:  # images: convolutions in the channels-last layout (2x faster on CPUs for mbconv blocks)
            x = x.contiguous(memory_format=torch.channels_last)
            state = {k: v.clone(memory_format=torch.channels_last) if v.dim() == 4 else v for k, v in state.items()}
        return torch.func.functional_call(skeleton, state, (x,), strict=True)

    @torch.no_grad()
    def extract(self, arch: Architecture, device: torch.device | str | None = None) -> nn.Module:
        """A standalone ``space.build(arch)`` holding the inherited weights (fresh batch-norm statistics: recalibrate
        before use, see :func:`~nas_edge.supernet.evaluate.recalibrate_bn`), on ``device`` (default: the
        supernet's)."""
        dev = torch.device(device) if device is not None else next(self.parameters()).device
        with torch.device("meta"):
            module = self.space.build(arch)
        module = module.to_empty(device=dev)
        missing, unexpected = module.load_state_dict(
            {k: v.detach() for k, v in self.subnet_state(arch).items()}, strict=False)
        bn_buffers = {"running_mean", "running_var", "num_batches_tracked"}
        if unexpected or any(k.rsplit(".", 1)[-1] not in bn_buffers for k in missing):
            raise SupernetError(f"subnet {arch.summary()}: the supernet's names do not match the space's module "
                                f"(missing {missing}, unexpected {unexpected})")
        for m in module.modules():
            if isinstance(m, _BatchNorm):
                m.reset_running_stats()
        return module

    # -- hardware-aware training -----------------------------------------------------------------------------

    def set_hwa(self, config: AnalogConfig | None, hwa: HWAConfig | None = None) -> None:
        """Inject ``config``'s device noise into every Linear / Conv2d weight of training forwards (``None``:
        off); draws come from :attr:`hwa_generator`."""
        self._hwa = None if config is None else (config, hwa or HWAConfig())

    def _with_device_noise(self, state: State, skeleton: nn.Module) -> State:
        from nas_edge.analog.layers import hwa_draw, straight_through

        assert self._hwa is not None
        cfg, hwa = self._hwa
        out = dict(state)
        for name, m in skeleton.named_modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):  # what nas_edge.analog puts on crossbars
                w = state[f"{name}.weight"]
                groups = getattr(m, "groups", 1)
                draw = hwa_draw(w.detach().reshape(groups, w.shape[0] // groups, -1), cfg, hwa, self.hwa_generator)
                out[f"{name}.weight"] = straight_through(w, draw.weight.reshape(w.shape).to(w.dtype))
        return out

    # -- the sandwich rule ---------------------------------------------------------------------------------------

    def largest(self, rng: np.random.Generator) -> Architecture:
        """The largest subnet (choices between alternatives drawn at random)."""
        return self._extreme(rng, largest=True)

    def smallest(self, rng: np.random.Generator) -> Architecture:
        return self._extreme(rng, largest=False)

    def _extreme(self, rng: np.random.Generator, *, largest: bool) -> Architecture:
        params: dict[str, Any] = {}
        for name, dist in self.space.distributions().items():
            if isinstance(dist, CategoricalDistribution):
                choices = list(dist.choices)
                if name in self.choice_params or any(isinstance(c, str) for c in choices):
                    params[name] = choices[int(rng.integers(len(choices)))]
                else:
                    params[name] = max(choices) if largest else min(choices)  # type: ignore[type-var]
            elif isinstance(dist, IntDistribution):
                params[name] = dist.high if largest else dist.low
            else:  # pragma: no cover - the network spaces declare categorical and integer parameters only
                raise SupernetError(f"{self.space.name}: parameter {name} ({dist!r}) has no largest value")
        return self.space.from_params(params)


_SUPERNETS: dict[str, type[Supernet]] = {}


def register_supernet(cls: type[Supernet]) -> type[Supernet]:
    _SUPERNETS[cls.space_name] = cls
    return cls


def build_supernet(space: NetworkSpace) -> Supernet:
    """A freshly initialised supernet for ``space`` (seed torch first for reproducibility)."""
    import nas_edge.supernet.cnn
    import nas_edge.supernet.transformer  # noqa: F401  (register themselves)

    cls = _SUPERNETS.get(space.name)
    if cls is None:
        raise SupernetError(f"no supernet for space {space.name!r}; supernets exist for "
                            f"{', '.join(sorted(_SUPERNETS))}")
    return cls(space)
