"""The run loop: validate everything, open (or resume) the study, then let a search method fill it.

:func:`run_search` checks every input before the study is touched, opens (or resumes) the study as a
:class:`SearchRun` and runs it. A *method* is what fills the study: the built-in ``sampler`` method lets an Optuna
sampler propose every trial, as one worker among any number on the same study (the trial budget is exact
over all of them, :mod:`nas_edge.workers`). Another method — a differentiable search, say — is a function
``method(run, callbacks)`` registered by name (:func:`register_method`, or a line in
:data:`BUILTIN_METHODS`); it records the architectures it derives as ordinary trials with
:meth:`SearchRun.record`, so that the front, the export and the report treat them like any other trial. A
method with options (``method_options``) has a ``prepare(objective, options)`` too: it checks them, and does
any work that can fail on bad input, before the study is touched; what it returns is ``run.prepared``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas_edge.analog.objective import AnalogOptions
from nas_edge.evaluate.config import TrainConfig
from nas_edge.evaluate.data import Data
from nas_edge.hardware import Profile
from nas_edge.search.constraints import ConstraintSpec
from nas_edge.search.errors import SearchError
from nas_edge.search.evaluators import Evaluator
from nas_edge.search.objective import Objective
from nas_edge.search.storage import storage_errors
from nas_edge.search.study import DEFAULT_STORAGE, DEFAULT_STUDY, make_pruner, make_sampler, open_study
from nas_edge.spaces import Architecture, HardwareChoice, NetworkSpace
from nas_edge.workers import TIMEOUT_ATTR as TIMEOUT_ATTR  # for front ends (they do not import workers)
from nas_edge.workers import TrialLost, WaitTimedOut, YieldToQueued

Callback = Callable[[optuna.Study, FrozenTrial], None]
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
QUIET_FAILURES: tuple[type[BaseException], ...] = (KeyboardInterrupt, TrialLost, WaitTimedOut, YieldToQueued)
"""A trial failed by one of these is explained by the front end (Ctrl-C, a trial taken over by another worker,
a wait cut short by ``--timeout``, a new trial stepping aside for a retry): Optuna's log of it, with its
traceback, is left out."""


@dataclass
class SearchRun:
    """A validated search on its (created or resumed) study, ready to run."""

    objective: Objective
    study: optuna.Study
    n_trials: int | None = None
    timeout: float | None = None
    method: str = "sampler"
    method_options: Mapping[str, Any] = field(default_factory=dict)
    prepared: Any = None  # what the method's prepare() returned

    @property
    def planned(self) -> int | None:
        """Finished trials the study should hold when the run ends (for a progress bar): the budget, or what
        a prepared method plans to add (its ``trials``) on top of the trials already there."""
        adds = getattr(self.prepared, "trials", None)
        return self.finished + int(adds) if adds is not None else self.n_trials

    @property
    def finished(self) -> int:
        """Finished (complete or pruned) trials of the study so far."""
        return len(self.study.get_trials(deepcopy=False, states=FINISHED))

    def run(self, callbacks: Sequence[Callback] = ()) -> optuna.Study:
        """Fill the study with the chosen method; returns the study."""
        get_method(self.method)(self, list(callbacks))
        return self.study

    def record(self, arch: Architecture, *, hardware: HardwareChoice | None = None,
               user_attrs: Mapping[str, Any] | None = None, callbacks: Sequence[Callback] = ()) -> FrozenTrial:
        """Evaluate ``arch`` (on chip ``hardware``; with co-search and none given, the sampler picks the chip)
        as an ordinary trial of the study and return it. ``user_attrs`` are set on the trial first (e.g. where
        the architecture came from)."""
        params = dict(self.objective.space.to_params(arch))
        if hardware is not None:
            if self.objective.hardware.space is None:
                raise SearchError("a chip was given for a search without hardware co-search")
            params.update(self.objective.hardware.space.to_params(hardware))
        self.study.enqueue_trial(params, user_attrs=dict(user_attrs or {}))
        done: list[FrozenTrial] = []
        self.study.optimize(self.objective, n_trials=1, catch=(),
                            callbacks=[lambda _s, t: done.append(t), *callbacks])
        return done[-1]


def counted_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The study's trials less the surplus ones another worker's budget closed at once (``budget_exhausted``):
    what a summary should count."""
    from nas_edge.workers import BUDGET_ATTR

    return [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get(BUDGET_ATTR)]


def sampler_method(run: SearchRun, callbacks: list[Callback]) -> None:
    """The built-in method: the study's sampler proposes every trial until the budget (or timeout) is spent."""
    from nas_edge.workers import TrialBudget, recover_stale, run_worker

    if run.n_trials is None:
        recover_stale(run.study)
        run.study.optimize(run.objective, timeout=run.timeout, callbacks=callbacks, catch=())
    else:
        run_worker(run.study, run.objective, TrialBudget(run.n_trials), timeout=run.timeout, callbacks=callbacks)


Method = Callable[[SearchRun, list[Callback]], None]
"""A search method; it may also have ``prepare(objective, options) -> Any`` (see the module docstring)."""
BUILTIN_METHODS: dict[str, str] = {"sampler": "nas_edge.search.run:sampler_method",
                                   "dnas": "nas_edge.dnas.method:dnas_method"}
"""Methods that ship with nas-edge, as ``"module:function"`` (imported when chosen)."""
_REGISTERED: dict[str, Method] = {}


def register_method(name: str, method: Method) -> None:
    """Make ``method(run, callbacks)`` available as ``run_search(method=name)`` / ``--method name``."""
    if name in BUILTIN_METHODS or (name in _REGISTERED and _REGISTERED[name] is not method):
        raise SearchError(f"a search method named {name!r} is already registered")
    _REGISTERED[name] = method


def list_methods() -> list[str]:
    return sorted({*BUILTIN_METHODS, *_REGISTERED})


def get_method(name: str) -> Method:
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name not in BUILTIN_METHODS:
        raise SearchError(f"unknown search method {name!r}; known: {', '.join(list_methods())}")
    module, _, attr = BUILTIN_METHODS[name].partition(":")
    method: Method = getattr(importlib.import_module(module), attr)
    return method


def prepare_method(method: Method, name: str, objective: Objective, options: Mapping[str, Any]) -> Any:
    """The method's ``prepare(objective, options)`` (None without one); a method without it takes no options."""
    prepare = getattr(method, "prepare", None)
    if prepare is None:
        if options:
            raise SearchError(f"the {name} search method takes no options (got {', '.join(sorted(options))}); "
                              "choose a method that does, e.g. dnas")
        return None
    return prepare(objective, options)


def run_search(
    *,
    space: str | NetworkSpace = "cnn",
    hardware: str | Path | Profile = "neurosim-rram-22nm",
    data: str | Data | None = "digits",
    objectives: str | Sequence[str] = ("accuracy", "energy_uj", "latency_ms"),
    constraints: ConstraintSpec = None,
    hardware_search: bool = False,
    n_trials: int | None = 20,
    timeout: float | None = None,
    sampler: str | optuna.samplers.BaseSampler = "hw",
    pruner: str | optuna.pruners.BasePruner | None = None,
    storage: str | optuna.storages.BaseStorage | None = DEFAULT_STORAGE,
    study_name: str = DEFAULT_STUDY,
    seed: int | None = 0,
    training: TrainConfig | Mapping[str, Any] | None = None,
    callbacks: Sequence[Callback] = (),
    objective: Objective | None = None,
    analog: AnalogOptions | Mapping[str, Any] | None = None,
    space_options: Mapping[str, Any] | None = None,
    evaluator: str | Evaluator | None = None,
    method: str = "sampler",
    method_options: Mapping[str, Any] | None = None,
    on_ready: Callable[[SearchRun], None] | None = None,
) -> optuna.Study:
    """Validate everything, then create or resume the study and run it.

    ``n_trials`` is the study's total of finished (complete or pruned) trials: rerunning resumes and stops
    there. ``sampler`` defaults to ``hw``, nas-edge's screening sampler (the best hypervolume at every budget
    of ``benchmarks/bench_search.py``). ``objective`` replaces the objective the other arguments describe;
    ``evaluator`` chooses where model metrics come from, ``method`` what fills the study and
    ``method_options`` its options (checked by the method's ``prepare``; see the module docstring). Every
    input is checked before the study is touched. ``on_ready(run)`` is called once the study is open, before
    any trial (a front end prints the resume state, starts a progress bar). Returns the study;
    ``study.best_trials`` is the feasible Pareto front.
    """
    if n_trials is not None and n_trials < 1:
        raise SearchError(f"n_trials must be at least 1, got {n_trials}").for_cli(
            f"--trials must be at least 1, got {n_trials}")
    if timeout is not None and timeout <= 0:
        raise SearchError(f"timeout must be positive, got {timeout:g}").for_cli(
            f"--timeout must be positive, got {timeout:g}")
    chosen = get_method(method)
    obj = objective or Objective(space, hardware, data, objectives=objectives, constraints=constraints,
                                 hardware_search=hardware_search, training=training, seed=seed or 0,
                                 analog=analog, space_options=space_options, evaluator=evaluator)
    prepared = prepare_method(chosen, method, obj, dict(method_options or {}))
    n_obj = len(obj.objectives)
    smp = sampler if isinstance(sampler, optuna.samplers.BaseSampler) else make_sampler(
        sampler, seed=seed, n_objectives=n_obj, objective=obj)
    prn = pruner if isinstance(pruner, optuna.pruners.BasePruner) else make_pruner(
        pruner, n_objectives=n_obj, max_resource=obj.training.epochs)
    study = open_study(obj, storage=storage, study_name=study_name, sampler=smp, pruner=prn)
    run = SearchRun(objective=obj, study=study, n_trials=n_trials, timeout=timeout, method=method,
                    method_options=dict(method_options or {}), prepared=prepared)
    if on_ready is not None:
        on_ready(run)
    with storage_errors(storage):
        return run.run(callbacks)
