"""Search-space interface and registry (in the spirit of timm's ``register_model`` / ``create_model``).

A space turns an Optuna trial into an :class:`Architecture` and an architecture into a workload (analytic,
no torch) and a ``torch.nn.Module``. Each space declares its parameters once, in :meth:`distributions`:
names are stable and each name's choices fixed, so every Optuna sampler works and a study can be extended.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from nas_edge._json import json_safe
from nas_edge.errors import NasEdgeError
from nas_edge.workload.table import Workload


class SpaceError(NasEdgeError, ValueError):
    """An unknown space, an invalid space option or an architecture that does not belong to a space."""


@dataclasses.dataclass(frozen=True)
class Architecture:
    """One point of a search space; a frozen dataclass per space. ``to_dict`` is JSON-safe."""

    space: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        return {"space": self.space, **json_safe(dataclasses.asdict(self))}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Architecture:
        """Rebuild from :meth:`to_dict`; on the base class, dispatch on ``data["space"]``."""
        name = data.get("space")
        if cls is Architecture:
            if name not in _REGISTRY:
                raise SpaceError(f"unknown space {name!r} in architecture dict; known: {', '.join(list_spaces())}")
            return _REGISTRY[name].arch_type.from_dict(data)
        if name not in (None, cls.space):
            raise SpaceError(f"architecture of space {name!r} given to {cls.__name__} ({cls.space!r})")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields - {"space"}
        missing = fields - set(data)
        if unknown or missing:
            raise SpaceError(f"{cls.__name__}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
        return cls(**cls._decode({k: data[k] for k in fields}))

    @classmethod
    def _decode(cls, fields: dict[str, Any]) -> dict[str, Any]:
        """Hook for nested fields (lists back to tuples of dataclasses)."""
        return fields

    def summary(self) -> str:
        """A one-line description for tables."""
        return ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(self).items())


A = TypeVar("A", bound=Architecture)


class SearchSpace(ABC):
    """Base of all spaces. Subclasses declare parameters in :meth:`distributions` and map them both ways."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = "network"  # or "hardware"
    arch_type: ClassVar[type[Architecture]] = Architecture

    @abstractmethod
    def distributions(self) -> dict[str, BaseDistribution]:
        """Every parameter this space suggests, in suggestion order. Fixed for a given configuration."""

    @abstractmethod
    def from_params(self, params: Mapping[str, Any]) -> Architecture:
        """The architecture that a full set of parameter values describes."""

    @abstractmethod
    def to_params(self, arch: Architecture) -> dict[str, Any]:
        """The parameter values that describe ``arch`` (for ``study.enqueue_trial``)."""

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """Constructor options, JSON-safe (stored with a study, so a resumed study uses the same space)."""

    def __repr__(self) -> str:
        """Short: the name, the parameter count and the scalar options (choice lists are in ``config()``)."""
        options = ", ".join(f"{k}={tuple(v) if k == 'input_shape' else v!r}" for k, v in self.config().items()
                            if k == "input_shape" or not isinstance(v, (list, tuple, dict)))
        return f"{type(self).__name__}({self.name!r}, {len(self.distributions())} parameters; {options})"

    def suggest(self, trial: Any) -> Architecture:
        """Ask ``trial`` for every parameter (always all of them: the space is static)."""
        params: dict[str, Any] = {}
        for pname, dist in self.distributions().items():
            if isinstance(dist, CategoricalDistribution):
                params[pname] = trial.suggest_categorical(pname, dist.choices)
            elif isinstance(dist, IntDistribution):
                params[pname] = trial.suggest_int(pname, dist.low, dist.high, step=dist.step, log=dist.log)
            elif isinstance(dist, FloatDistribution):
                params[pname] = trial.suggest_float(pname, dist.low, dist.high, step=dist.step, log=dist.log)
            else:  # pragma: no cover - spaces only declare the three kinds above
                raise SpaceError(f"{pname}: unsupported distribution {dist!r}")
        return self.from_params(params)

    def sample(self, rng: np.random.Generator | int | None = None) -> Architecture:
        """A uniformly random architecture (no Optuna trial needed)."""
        rng = np.random.default_rng(rng)
        params: dict[str, Any] = {}
        for pname, dist in self.distributions().items():
            if isinstance(dist, CategoricalDistribution):
                params[pname] = dist.choices[int(rng.integers(len(dist.choices)))]
            elif isinstance(dist, IntDistribution):
                params[pname] = int(dist.low + dist.step * rng.integers((dist.high - dist.low) // dist.step + 1))
            elif isinstance(dist, FloatDistribution):
                params[pname] = float(rng.uniform(dist.low, dist.high))
        return self.from_params(params)

    def _check_params(self, params: Mapping[str, Any]) -> None:
        dists = self.distributions()
        missing = [p for p in dists if p not in params]
        if missing:
            raise SpaceError(f"space {self.name!r}: missing parameters {missing}")
        for pname, dist in dists.items():
            value = params[pname]
            ok = (value in dist.choices) if isinstance(dist, CategoricalDistribution) else dist._contains(
                dist.to_internal_repr(value))
            if not ok:
                raise SpaceError(f"space {self.name!r}: {pname}={value!r} is not in {dist!r}")


class NetworkSpace(SearchSpace):
    """A space of networks: adds the analytic workload and the torch module."""

    input_shape: tuple[int, ...]
    num_classes: int

    @abstractmethod
    def layers(self, arch: Architecture, input_shape: tuple[int, ...] | None = None) -> Workload:
        """The network's workload for one input of ``input_shape`` (default: the space's), without torch."""

    @abstractmethod
    def build(self, arch: Architecture) -> Any:
        """A freshly initialised ``torch.nn.Module`` (call ``torch.manual_seed`` first for reproducibility)."""

    def canonical(self, arch: Architecture) -> Architecture:
        """The architecture that stands for every architecture building the same network (default: itself).

        A space where different parameters give one network (an edge cut off, a relabelled cell: ``nb201``)
        overrides it; the screening sampler then models and proposes one architecture per network, and
        :func:`has_equivalents` is true."""
        return arch

    def example_input(self, batch: int = 1) -> Any:
        """A torch tensor the built module accepts (zeros of the space's input shape)."""
        import torch

        return torch.zeros((batch, *self.input_shape))

    def _own(self, arch: Architecture, cls: type[A]) -> A:
        if not isinstance(arch, cls):
            raise SpaceError(f"space {self.name!r} expects a {cls.__name__}, got {type(arch).__name__}")
        return arch


def has_equivalents(space: SearchSpace) -> bool:
    """Whether ``space`` maps parameter sets that build the same network to one (overrides ``canonical``)."""
    return isinstance(space, NetworkSpace) and type(space).canonical is not NetworkSpace.canonical


_REGISTRY: dict[str, type[SearchSpace]] = {}

S = TypeVar("S", bound=type[SearchSpace])


def register_space(cls: S | None = None, *, name: str | None = None) -> S | Callable[[S], S]:
    """Class decorator: make a space available to :func:`create_space` under ``name`` (default ``cls.name``)."""

    def add(space_cls: S) -> S:
        key = name or space_cls.name
        if not key:
            raise SpaceError(f"{space_cls.__name__} has no name")
        if key in _REGISTRY and _REGISTRY[key] is not space_cls:
            raise SpaceError(f"a space named {key!r} is already registered ({_REGISTRY[key].__name__})")
        _REGISTRY[key] = space_cls
        return space_cls

    return add(cls) if cls is not None else add


def list_spaces(kind: str | None = None) -> list[str]:
    """Registered space names, optionally only ``kind`` ``"network"`` or ``"hardware"``."""
    return sorted(n for n, c in _REGISTRY.items() if kind is None or c.kind == kind)


def get_space_class(name: str) -> type[SearchSpace]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise SpaceError(f"unknown search space {name!r}; available: {', '.join(list_spaces())}") from None


def create_space(name: str, **kwargs: Any) -> SearchSpace:
    """Instantiate a registered space: ``create_space("cnn", input_shape=(1, 8, 8), num_classes=10)``."""
    cls = get_space_class(name)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise SpaceError(f"space {name!r}: {exc}") from None
