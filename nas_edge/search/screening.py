"""The screening sampler of nas-edge searches: :class:`HWScreeningSampler` fed with exact cheap objectives and
constraints.

Everything a :class:`nas_edge.search.Objective` knows before training — energy, latency, area, params, MACs
and every other cost total, the hardware constraints and ``fits_on_chip`` — is computed here for many
candidates at once: the analytic workload of each network (cached per network, so candidates that differ
only in hardware knobs share it) and one :func:`nas_edge.cost.estimate_batch` call for all
(network, chip) pairs. Constraint values carry the same keys the objective passes to ``trial.set_constraint``,
so the sampler knows they are covered and does not model them again.

    objective = nas_edge.search.Objective("cnn", objectives=("accuracy", "energy_uj", "latency_ms"),
                                          constraints={"area_mm2": 20}, hardware_search=True)
    study = objective.create_study(sampler=screening_sampler(objective, seed=0))
    study.optimize(objective, n_trials=100)

``Objective.cheap_objectives`` / ``cheap_constraints`` / ``hardware_metrics`` are this class too (one
implementation of each hook).
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from optuna.distributions import BaseDistribution

from nas_edge.cost import estimate_batch, pack_profiles
from nas_edge.hardware import Profile
from nas_edge.samplers import HWScreeningSampler
from nas_edge.search.errors import SearchError
from nas_edge.search.hardware_cost import HardwareCost, candidate_metrics
from nas_edge.search.metrics import CONSTRAINABLE
from nas_edge.spaces import NetworkSpace, has_equivalents
from nas_edge.workload.table import Workload

if TYPE_CHECKING:
    from nas_edge.search.objective import Objective

_CACHE = 8192


@contextlib.contextmanager
def _single_numba_thread() -> Iterator[None]:
    """Run the (parallel) cost kernel on the calling thread only; Numba's setting is per thread."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


class ObjectiveScreen:
    """Cheap objectives/constraints of a network space costed by a :class:`HardwareCost` (picklable).

    ``objectives`` are the study's objective names in order; the cheap ones are those known before training
    (``nas_edge.search.CONSTRAINABLE``: cost totals, ``params``, ``macs``); any other name (``accuracy``, a
    proxy, a user's own score) is left to the surrogate. Use :meth:`from_objective` for an ``Objective``.
    """

    def __init__(self, space: NetworkSpace, hardware: HardwareCost, objectives: Sequence[str]) -> None:
        self.space = space
        self.hardware = hardware
        self.objectives = tuple(objectives)
        self.net_names = tuple(space.distributions())
        self.cheap_names = tuple(o for o in self.objectives if o in CONSTRAINABLE)
        self.cheap_objective_indices = tuple(i for i, o in enumerate(self.objectives) if o in CONSTRAINABLE)
        self.hw_names = tuple(hardware.space.distributions()) if hardware.space is not None else ()
        self._workloads: OrderedDict[tuple[Any, ...], Workload] = OrderedDict()
        self._profiles: dict[tuple[Any, ...], Profile] = {}
        self._results: OrderedDict[tuple[Any, ...], tuple[dict[str, float], dict[str, float]]] = OrderedDict()
        self._profile_rows: dict[str, np.ndarray] = {}

    @classmethod
    def from_objective(cls, objective: Objective) -> ObjectiveScreen:
        return cls(objective.space, objective.hardware, objective.objectives)

    @property
    def search_space(self) -> dict[str, BaseDistribution]:
        """Every parameter a trial suggests: the network's, then the chip's when co-searching."""
        hw = self.hardware.space.distributions() if self.hardware.space is not None else {}
        return {**self.space.distributions(), **hw}

    def evaluate(self, params: Sequence[Mapping[str, Any]]) -> list[tuple[dict[str, float], dict[str, float]]]:
        """(metrics, constraint violations) per parameter set, as ``Objective`` would compute them."""
        names = self.net_names + self.hw_names
        try:
            keys = [tuple(p[n] for n in names) for p in params]
        except KeyError as exc:
            raise SearchError(f"a parameter set lacks {exc.args[0]!r} (expected {list(names)})") from None
        out: list[tuple[dict[str, float], dict[str, float]] | None] = [self._results.get(k) for k in keys]
        todo = [i for i, r in enumerate(out) if r is None]
        if todo:
            workloads = [self._workload(params[i]) for i in todo]
            profiles = [self._profile(keys[i][len(self.net_names):], params[i]) for i in todo]
            unique: dict[str, int] = {}
            prof_index = np.array([unique.setdefault(p.name, len(unique)) for p in profiles], dtype=np.int64)
            rows = {p.name: self._packed(p) for p in profiles}
            with _single_numba_thread():  # a few hundred pairs: threads cost more than they save
                batch = estimate_batch(workloads, np.vstack([rows[name] for name in unique]),
                                       pairs=(np.arange(len(todo), dtype=np.int64), prof_index))
            for row, i in enumerate(todo):
                metrics = candidate_metrics({name: v[row] for name, v in batch.values.items()}, workloads[row])
                out[i] = (metrics, self.hardware.violations(metrics, profiles[row]))
                self._remember(self._results, keys[i], out[i])
        return [r for r in out if r is not None]

    def cheap_objectives(self, params: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Values of the cheap objectives, one row per parameter set (vectorised sampler interface)."""
        return np.array([[m[n] for n in self.cheap_names] for m, _ in self.evaluate(params)],
                        dtype=float).reshape(len(params), len(self.cheap_names))

    def cheap_constraints(self, params: Sequence[Mapping[str, Any]]) -> list[dict[str, float]]:
        """Constraint violations keyed as in ``trial.set_constraint`` (feasible when every value <= 0)."""
        return [v for _, v in self.evaluate(params)]

    def canonical(self, params: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Each parameter set with the network's part replaced by the space's canonical architecture's
        (:meth:`nas_edge.spaces.NetworkSpace.canonical`); chip knobs and incomplete sets pass unchanged."""
        return canonical_params(self.space, params)

    def _packed(self, profile: Profile) -> np.ndarray:
        """The kernels' parameter row of a profile, cached by name (co-search names encode the knobs)."""
        row = self._profile_rows.get(profile.name)
        if row is None:
            row = self._profile_rows[profile.name] = pack_profiles([profile])[0]
        return row

    def _profile(self, key: tuple[Any, ...], params: Mapping[str, Any]) -> Profile:
        """The chip a parameter set selects, cached by its hardware values (a co-search has few chips)."""
        prof = self._profiles.get(key)
        if prof is None:
            prof = self._profiles[key] = self.hardware.profile_for(params)
        return prof

    def _workload(self, params: Mapping[str, Any]) -> Workload:
        key = tuple(params[n] for n in self.net_names)
        w = self._workloads.get(key)
        if w is None:
            arch = self.space.from_params({n: params[n] for n in self.net_names})
            w = self.space.layers(arch)
            self._remember(self._workloads, key, w)
        return w

    @staticmethod
    def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        cache[key] = value
        if len(cache) > _CACHE:
            cache.popitem(last=False)


def canonical_params(space: NetworkSpace, params: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``params`` with each network part replaced by that of ``space.canonical`` (the sampler's
    ``canonical`` hook); other parameters, and sets that lack a network parameter, pass unchanged."""
    names = tuple(space.distributions())
    out = []
    for p in params:
        if all(n in p for n in names):
            arch = space.canonical(space.from_params({n: p[n] for n in names}))
            out.append({**p, **space.to_params(arch)})
        else:
            out.append(dict(p))
    return out


class Screen(Protocol):
    """What :func:`screening_sampler` reads (an :class:`ObjectiveScreen`, or a benchmark's table lookups)."""

    @property
    def space(self) -> NetworkSpace: ...

    @property
    def cheap_objective_indices(self) -> tuple[int, ...]: ...

    @property
    def search_space(self) -> dict[str, BaseDistribution]: ...

    def cheap_objectives(self, params: Sequence[Mapping[str, Any]]) -> np.ndarray: ...

    def cheap_constraints(self, params: Sequence[Mapping[str, Any]]) -> list[dict[str, float]]: ...

    def canonical(self, params: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]: ...


def screening_sampler(objective: Objective | Screen, **kwargs: Any) -> HWScreeningSampler:
    """An :class:`HWScreeningSampler` that knows the objective's cheap objectives and constraints.

    Keywords go to the sampler (``seed``, ``n_startup_trials``, ``reference_point`` ...). ``n_candidates``
    defaults to 128 here, not 256: building the candidate networks' workloads is half of the sampler's
    time. In ``benchmarks/bench_search.py`` (CNN space, 200 trials) 128 costs 67 ms per trial (TPE: 68 ms);
    64 costs 38 ms for 2 % less hypervolume at 100 trials. In a space where different parameters can build the
    same network (:func:`nas_edge.spaces.has_equivalents`: ``nb201``), the sampler proposes one parameter set
    per network (``canonical``).
    """
    from nas_edge.search.objective import Objective

    screen = ObjectiveScreen.from_objective(objective) if isinstance(objective, Objective) else objective
    cheap = bool(screen.cheap_objective_indices)
    kwargs.setdefault("n_candidates", 128)
    if has_equivalents(screen.space):
        kwargs.setdefault("canonical", screen.canonical)
    return HWScreeningSampler(
        cheap_objectives=screen.cheap_objectives if cheap else None,
        cheap_objective_indices=screen.cheap_objective_indices if cheap else None,
        cheap_constraints=screen.cheap_constraints,
        vectorized=True,
        search_space=screen.search_space,
        **kwargs,
    )
