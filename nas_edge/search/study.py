"""How a search proposes and where it lives: samplers and pruners by short name, and a study created — or
resumed, when it was made by the same search — for an :class:`~nas_edge.search.Objective` (storages:
:mod:`nas_edge.search.storage`)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import optuna

from nas_edge.search.errors import SearchError
from nas_edge.search.objective import set_metric_names
from nas_edge.search.storage import DEFAULT_STORAGE, open_storage, storage_errors

if TYPE_CHECKING:
    from nas_edge.search.objective import Objective

DEFAULT_STUDY = "nas-edge"
SAMPLERS = ("tpe", "nsga2", "nsga3", "random", "gp", "cmaes", "qmc", "hw")
PRUNERS = ("none", "median", "sha", "hyperband")
RESUME_KEYS = ("space", "space_config", "objectives", "hardware", "hardware_sha256", "search", "constraints", "data",
               "analog", "training", "evaluator")  # what must match for a run to extend an existing study
_LATER_KEYS = ("analog", "training", "evaluator", "hardware_sha256")  # earlier versions lack these: not compared


def make_sampler(name: str, *, seed: int | None = None, n_objectives: int = 1,
                 objective: Objective | None = None) -> optuna.samplers.BaseSampler:
    """A sampler by short name (see :data:`SAMPLERS`). ``hw`` is nas-edge's screening sampler: it needs the
    ``objective`` whose hardware objectives and constraints it computes exactly for many candidates."""
    s = optuna.samplers
    if name == "hw":
        if objective is None:
            raise SearchError("the hw sampler needs the objective (its cheap hardware metrics)")
        from nas_edge.search.screening import screening_sampler

        return screening_sampler(objective, seed=seed)
    if name == "cmaes":
        if n_objectives > 1:
            raise SearchError("the cmaes sampler optimises a single objective; use tpe, nsga2, nsga3 or gp")
        if importlib.util.find_spec("cmaes") is None:
            raise SearchError("the cmaes sampler needs the 'cmaes' package (pip install cmaes)")
    factories: dict[str, Callable[[], optuna.samplers.BaseSampler]] = {
        "tpe": lambda: s.TPESampler(seed=seed), "nsga2": lambda: s.NSGAIISampler(seed=seed),
        "nsga3": lambda: s.NSGAIIISampler(seed=seed), "random": lambda: s.RandomSampler(seed=seed),
        "gp": lambda: s.GPSampler(seed=seed),
        "cmaes": lambda: s.CmaEsSampler(seed=seed, warn_independent_sampling=False),
        "qmc": lambda: s.QMCSampler(seed=seed, warn_independent_sampling=False),
    }
    if name not in factories:
        raise SearchError(f"unknown sampler {name!r}; known: {', '.join(SAMPLERS)}")
    return factories[name]()


def make_pruner(name: str | None, *, n_objectives: int = 1, max_resource: int = 12) -> optuna.pruners.BasePruner:
    """A pruner by short name (see :data:`PRUNERS`). Optuna prunes single-objective studies only."""
    name = name or "none"
    if name not in PRUNERS:
        raise SearchError(f"unknown pruner {name!r}; known: {', '.join(PRUNERS)}")
    if name != "none" and n_objectives > 1:
        raise SearchError(f"pruner {name!r} needs a single objective: Optuna does not prune multi-objective studies")
    p = optuna.pruners
    factories: dict[str, Callable[[], optuna.pruners.BasePruner]] = {
        "none": lambda: p.NopPruner(), "median": lambda: p.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
        "sha": lambda: p.SuccessiveHalvingPruner(),
        "hyperband": lambda: p.HyperbandPruner(min_resource=1, max_resource=max_resource)}
    return factories[name]()


def open_study(objective: Objective, *, storage: str | optuna.storages.BaseStorage | None = DEFAULT_STORAGE,
               study_name: str = DEFAULT_STUDY, sampler: optuna.samplers.BaseSampler | None = None,
               pruner: optuna.pruners.BasePruner | None = None) -> optuna.Study:
    """Create the study, or load it when it exists and was made by the same search (else an error)."""
    store = open_storage(storage)
    meta = objective.describe()
    with storage_errors(storage):
        for _attempt in range(2):
            if store is not None:
                try:
                    existing = optuna.load_study(study_name=study_name, storage=store, sampler=sampler,
                                                 pruner=pruner)
                except KeyError:
                    existing = None
                if existing is not None:
                    _check_resume(existing, objective, meta)
                    return existing
            try:
                study = optuna.create_study(storage=store, study_name=study_name, directions=objective.directions,
                                            sampler=sampler, pruner=pruner)
            except optuna.exceptions.DuplicatedStudyError:  # a worker started beside this one created it first
                continue
            set_metric_names(study, objective.metric_names)
            study.set_user_attr("nas_edge", meta)
            return study
    raise SearchError(f"study {study_name!r} could not be created or loaded")


def _check_resume(study: optuna.Study, objective: Objective, meta: dict[str, Any]) -> None:
    old = study.user_attrs.get("nas_edge")
    dirs = [d.name.lower() for d in study.directions]
    if old is None:
        if dirs != objective.directions:
            raise SearchError(f"study {study.study_name!r} exists with directions {dirs}, not "
                              f"{objective.directions}; choose another --study-name")
        return  # a user's own study with matching directions: extend it
    for key in RESUME_KEYS:
        if key not in old and key in _LATER_KEYS:
            continue
        if key == "hardware_sha256" and old.get(key) != meta.get(key):
            raise SearchError(f"study {study.study_name!r} was run on hardware profile {old.get('hardware')!r} "
                              f"with other contents (sha256 {str(old.get(key))[:12]}… then, "
                              f"{str(meta.get(key))[:12]}… now): the profile changed since; a resumed study "
                              "would mix two chips. Restore the profile or choose another --study-name")
        if old.get(key) != meta.get(key):
            raise SearchError(f"study {study.study_name!r} exists with a different {key.replace('_', ' ')} "
                              f"({old.get(key)!r} vs {meta.get(key)!r}); resume it with the same options or "
                              "choose another --study-name")
