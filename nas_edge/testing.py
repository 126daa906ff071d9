"""The contract every search space must keep, as a check you can run on your own space.

Optuna ships its sampler contract tests in ``optuna.testing``; nas-edge ships the search-space contract here::

    from nas_edge.testing import check_space

    def test_my_space():
        check_space(MySpace(input_shape=(3, 32, 32), num_classes=10))

:func:`check_space` raises ``AssertionError`` naming the space and the broken rule. The rules:

1. **Parameters are stable.** ``distributions()`` returns the same names, in the same order, with the same
   choices on every call and for a space rebuilt from its ``config()`` (a study can only be extended, and
   every Optuna sampler only works, if a name's choices never change). Only categorical, integer and float
   distributions; ``config()`` is JSON-safe.
2. **Round trips.** For sampled architectures: ``from_params(to_params(arch)) == arch``, ``to_params`` gives
   exactly the declared names with values inside their distributions, ``suggest`` on a trial fixed to those
   parameters gives ``arch``, ``Architecture.from_dict(arch.to_dict()) == arch`` and ``to_dict()`` survives
   JSON; ``sample(seed)`` is deterministic.
3. **The analytic workload is the built network's** (network spaces). ``layers(arch)`` is a non-empty
   :class:`~nas_edge.workload.Workload` with MACs and weights, the same on every call, and — with torch
   installed — equal column by column to ``Workload.from_torch(build(arch), example_input())``, the module
   giving one row of ``num_classes`` logits per input. The search costs candidates from ``layers()`` without
   building them, so a difference here is a wrong cost for every trial.

Importing this module does not import torch.
"""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import numpy as np

from nas_edge.spaces import Architecture, NetworkSpace, SearchSpace
from nas_edge.spaces.base import _REGISTRY
from nas_edge.workload.table import COLUMNS, Workload

_KINDS = ("CategoricalDistribution", "IntDistribution", "FloatDistribution")


def check_space(space: SearchSpace, *, samples: int = 3, seed: int = 0, torch: bool | None = None) -> None:
    """Check ``space`` against the search-space contract (module docstring) on ``samples`` sampled
    architectures. ``torch``: compare ``layers()`` with the built module (default: when torch is installed)."""
    label = f"space {space.name or type(space).__name__!r}"
    _check_parameters(space, label)
    archs = [space.sample(seed + i) for i in range(samples)]
    for i, arch in enumerate(archs):
        if space.sample(seed + i) != arch:
            raise _fail(label, "sample(seed) is deterministic", f"two draws with seed {seed + i} differ")
        _check_round_trips(space, arch, label)
    if isinstance(space, NetworkSpace):
        use_torch = importlib.util.find_spec("torch") is not None if torch is None else torch
        for arch in archs:
            _check_workload(space, arch, label, use_torch)


def _fail(label: str, rule: str, detail: str) -> AssertionError:
    return AssertionError(f"{label}: {rule}: {detail}")


def _check_parameters(space: SearchSpace, label: str) -> None:
    dists = space.distributions()
    if not dists:
        raise _fail(label, "parameters", "distributions() is empty")
    if list(space.distributions().items()) != list(dists.items()):
        raise _fail(label, "parameters are stable", "two calls of distributions() differ")
    odd = {n: type(d).__name__ for n, d in dists.items() if type(d).__name__ not in _KINDS}
    if odd:
        raise _fail(label, "parameters", f"unsupported distributions {odd}; use {', '.join(_KINDS)}")
    config = space.config()
    try:
        text = json.dumps(config)
    except (TypeError, ValueError) as exc:
        raise _fail(label, "config() is JSON-safe", str(exc)) from None
    try:
        rebuilt = type(space)(**json.loads(text))
    except (TypeError, ValueError) as exc:
        raise _fail(label, "config() rebuilds the space", f"{type(space).__name__}(**config()) fails: {exc}") from None
    if list(rebuilt.distributions().items()) != list(dists.items()):
        raise _fail(label, "parameters are stable", "a space rebuilt from config() declares other parameters")
    registered = _REGISTRY.get(space.name)
    if space.name and registered is not None and registered is not type(space) and not isinstance(space, registered):
        raise _fail(label, "registry", f"the name is registered to {registered.__name__}, not {type(space).__name__}")


def _check_round_trips(space: SearchSpace, arch: Architecture, label: str) -> None:
    import optuna

    if not isinstance(arch, space.arch_type):
        raise _fail(label, "sample()", f"gave a {type(arch).__name__}, not the declared {space.arch_type.__name__}")
    params = space.to_params(arch)
    dists = space.distributions()
    if list(params) != list(dists):
        raise _fail(label, "to_params()", f"gives {list(params)}, the declared parameters are {list(dists)}")
    for name, dist in dists.items():
        if not dist._contains(dist.to_internal_repr(params[name])):
            raise _fail(label, "to_params()", f"{name}={params[name]!r} is outside {dist!r}")
    if space.from_params(params) != arch:
        raise _fail(label, "from_params(to_params(arch)) == arch", f"{arch} came back as {space.from_params(params)}")
    if space.suggest(optuna.trial.FixedTrial(params)) != arch:
        raise _fail(label, "suggest()", f"a trial fixed to to_params({arch}) suggests another architecture")
    d = arch.to_dict()
    try:
        again = json.loads(json.dumps(d))
    except (TypeError, ValueError) as exc:
        raise _fail(label, "to_dict() is JSON-safe", str(exc)) from None
    if again != d or Architecture.from_dict(again) != arch or type(arch).from_dict(again) != arch:
        raise _fail(label, "Architecture.from_dict(arch.to_dict()) == arch", f"{arch} does not survive JSON")


def _check_workload(space: NetworkSpace, arch: Architecture, label: str, use_torch: bool) -> None:
    w = space.layers(arch)
    if not isinstance(w, Workload) or len(w) == 0:
        raise _fail(label, "layers()", f"gave {type(w).__name__} of {len(w) if isinstance(w, Workload) else 0} rows")
    if not (w.total_macs > 0 and w.total_params > 0):
        raise _fail(label, "layers()", f"{arch}: no MACs or no weights")
    again = space.layers(arch)
    if any(not np.array_equal(getattr(w, c), getattr(again, c)) for c in COLUMNS):
        raise _fail(label, "layers() is deterministic", f"two calls differ for {arch}")
    if not use_torch:
        return
    module = space.build(arch)
    traced = Workload.from_torch(module, space.example_input())
    if len(traced) != len(w):
        raise _fail(label, "layers() equals the built module's workload",
                    f"{arch}: {len(w)} analytic rows, {len(traced)} traced ({list(w.names)} vs {list(traced.names)})")
    for c in COLUMNS:
        a, b = getattr(w, c), getattr(traced, c)
        if not np.array_equal(a, b):
            i = int(np.flatnonzero(a != b)[0])
            raise _fail(label, "layers() equals the built module's workload",
                        f"{arch}: column {c!r} differs at row {i} ({w.names[i]}): {a[i]} analytic, {b[i]} traced")
    _check_output(space, module, label, arch)


def _check_output(space: NetworkSpace, module: Any, label: str, arch: Architecture) -> None:
    import torch

    with torch.no_grad():
        out = module.eval()(space.example_input(batch=2))
    if tuple(out.shape) != (2, space.num_classes):
        raise _fail(label, "build()", f"{arch}: output shape {tuple(out.shape)}, expected (2, {space.num_classes})")


__all__ = ["check_space"]
