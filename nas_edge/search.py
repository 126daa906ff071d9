"""The Optuna side: :class:`Objective` (a plain callable for any study), :class:`HardwareCost` (a hardware
objective and constraints for a user's own objective), storages, samplers, pruners and :func:`run_search`.

Constraints go through ``trial.set_constraint`` (feasible when <= 0), so every constraint-aware sampler
sees them and ``study.best_trials`` is the feasible Pareto front. Architecture, hardware and cost are stored
as JSON-safe user attributes (``arch``, ``hardware``, ``cost``). A candidate that does not fit on the chip
(``cost.totals["feasible"] == 0``) or breaks a hardware constraint is recognised before any training.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import BaseDistribution

from nas_edge.analog.config import ANALOG_OBJECTIVES, AnalogConfigError, check_analog_objectives
from nas_edge.analog.objective import AnalogOptions
from nas_edge.cost import TOTAL_NAMES, Cost, estimate
from nas_edge.evaluate.config import TrainConfig
from nas_edge.evaluate.data import Data, DataError, load_data
from nas_edge.hardware import Profile, ProfileError, load_profile
from nas_edge.spaces import HardwareSpace, NetworkSpace, SpaceError, create_space, get_space_class, json_safe
from nas_edge.workload.table import Workload

DEFAULT_STORAGE = "sqlite:///nas_edge.db"
DEFAULT_STUDY = "nas-edge"

MODEL_METRICS = {"accuracy": "maximize", "naswot": "maximize", "synflow": "maximize",
                 **dict.fromkeys(ANALOG_OBJECTIVES, "maximize")}
"""Metrics that need the network itself: trained accuracy, a zero-cost proxy, or the accuracy on the simulated
analog chip after programming (``analog_accuracy``) and after 1 h / 1 day / 1 month of drift."""
TRAINED_METRICS = frozenset({"accuracy", *ANALOG_OBJECTIVES})  # the model metrics that cost a training run
NETWORK_METRICS = {"params": "minimize", "macs": "minimize"}
_MAXIMIZE_COST = {"tops", "tops_per_w", "tops_per_mm2", "frames_per_s", "frames_per_s_pipelined", "utilisation"}
_NOT_METRICS = {"fits", "feasible"}
COST_METRICS = {n: ("maximize" if n in _MAXIMIZE_COST else "minimize") for n in TOTAL_NAMES if n not in _NOT_METRICS}
OBJECTIVES: dict[str, str] = {**MODEL_METRICS, **NETWORK_METRICS, **COST_METRICS}
"""Every objective name and its direction."""
CONSTRAINABLE = {**NETWORK_METRICS, **COST_METRICS}
"""Names a constraint may bound: everything known before training."""
CAPACITY_KEY = "fits_on_chip"
"""Constraint key set on every trial: 1 when the network does not fit a chip that has no room to reprogram."""


class SearchError(ValueError):
    """Bad search input (names, constraints, data, hardware, storage, sampler): one clear message."""


# -- constraints -------------------------------------------------------------------------------------------

_CONSTRAINT_RE = re.compile(r"^\s*([A-Za-z_]\w*)\s*(<=|>=)\s*([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\s*$")


@dataclass(frozen=True)
class Constraint:
    """``name <= limit`` or ``name >= limit``. The value Optuna sees is the violation relative to the limit
    (``(value - limit) / |limit|`` for ``<=``), so constraints of different units weigh alike."""

    name: str
    op: str
    limit: float

    def __post_init__(self) -> None:
        if self.name not in CONSTRAINABLE:
            hint = " (it is only known after training; use it as an objective)" if self.name in MODEL_METRICS else ""
            raise SearchError(f"unknown constraint name {self.name!r}{hint}; known: {', '.join(sorted(CONSTRAINABLE))}")
        if self.op not in ("<=", ">="):
            raise SearchError(f"constraint {self.name}: operator must be <= or >=, got {self.op!r}")
        if not math.isfinite(self.limit):
            raise SearchError(f"constraint {self.name}: the limit must be a finite number")

    def violation(self, value: float) -> float:
        diff = value - self.limit if self.op == "<=" else self.limit - value
        return diff / abs(self.limit) if self.limit != 0 else diff

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.limit:g}"


def parse_constraint(text: str) -> Constraint:
    """``"area_mm2<=50"`` -> :class:`Constraint`."""
    m = _CONSTRAINT_RE.match(text)
    if not m:
        raise SearchError(f"malformed constraint {text!r}; expected NAME<=NUMBER or NAME>=NUMBER, "
                          "e.g. area_mm2<=50")
    return Constraint(m.group(1), m.group(2), float(m.group(3)))


def parse_constraints(spec: Mapping[str, Any] | Sequence[str | Constraint] | None) -> tuple[Constraint, ...]:
    """A mapping ``{"area_mm2": 100}`` (<=) or ``{"tops_per_w": ">=5"}``, or a list of strings/constraints."""
    if not spec:
        return ()
    out: list[Constraint] = []
    if isinstance(spec, Mapping):
        for name, limit in spec.items():
            if isinstance(limit, str):
                out.append(parse_constraint(f"{name}{limit}" if limit.lstrip()[:2] in ("<=", ">=")
                                            else f"{name}<={limit}"))
            elif isinstance(limit, (int, float)) and not isinstance(limit, bool):
                out.append(Constraint(str(name), "<=", float(limit)))
            else:
                raise SearchError(f"constraint {name!r}: expected a number or '<=N' / '>=N', got {limit!r}")
    elif isinstance(spec, str):
        out.append(parse_constraint(spec))
    else:
        out.extend(c if isinstance(c, Constraint) else parse_constraint(str(c)) for c in spec)
    keys = [f"{c.name}{c.op}" for c in out]
    if len(set(keys)) != len(keys):
        raise SearchError(f"duplicate constraints: {', '.join(str(c) for c in out)}")
    return tuple(out)


def check_objectives(objectives: str | Sequence[str]) -> tuple[str, ...]:
    names = tuple(o.strip() for o in (objectives.split(",") if isinstance(objectives, str) else objectives))
    if not names or any(not n for n in names):
        raise SearchError("give at least one objective, e.g. accuracy,energy_uj")
    unknown = [n for n in names if n not in OBJECTIVES]
    if unknown:
        raise SearchError(f"unknown objective {unknown[0]!r}; known: {', '.join(sorted(OBJECTIVES))}")
    if len(set(names)) != len(names):
        raise SearchError(f"objectives repeat a name: {', '.join(names)}")
    return names


# -- hardware cost for any objective -------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class HardwareResult:
    profile: Profile
    cost: Cost
    metrics: dict[str, float]
    violations: dict[str, float]

    @property
    def feasible(self) -> bool:
        return all(v <= 0 for v in self.violations.values())

    @property
    def fits(self) -> bool:
        return self.violations.get(CAPACITY_KEY, 0.0) <= 0


class HardwareCost:
    """Hardware objectives and constraints for any objective function, yours included.

    ``hw(trial, workload)`` (co-)suggests the chip's knobs when ``search`` is on, costs the workload,
    sets the constraints (``trial.set_constraint``) and the ``hardware`` / ``cost`` user attributes, and
    returns the values of ``objectives`` (directions in :attr:`directions`).
    """

    def __init__(
        self,
        hardware: str | Path | Profile = "neurosim-rram-22nm",
        *,
        objectives: str | Sequence[str] = ("energy_uj", "latency_ms"),
        constraints: Mapping[str, Any] | Sequence[str | Constraint] | None = None,
        search: bool | HardwareSpace = False,
    ) -> None:
        names = check_objectives(objectives) if objectives else ()
        bad = [n for n in names if n not in CONSTRAINABLE]
        if bad:
            raise SearchError(f"{bad[0]!r} is not a hardware metric; hardware objectives: "
                              f"{', '.join(sorted(CONSTRAINABLE))}")
        self.objectives = names
        self.constraints = parse_constraints(constraints)
        try:
            self.base = load_profile(hardware if not isinstance(hardware, Path) else str(hardware))
        except ProfileError as exc:
            raise SearchError(str(exc)) from None
        if isinstance(search, HardwareSpace):
            self.space: HardwareSpace | None = search
        elif search:
            try:
                self.space = HardwareSpace(base=self.base)
            except SpaceError as exc:
                raise SearchError(str(exc)) from None
        else:
            self.space = None
        self.hardware_name = str(hardware) if isinstance(hardware, (str, Path)) else self.base.name

    @property
    def directions(self) -> list[str]:
        return [OBJECTIVES[n] for n in self.objectives]

    def describe(self) -> dict[str, Any]:
        return {"hardware": self.hardware_name, "search": self.space.config() if self.space else None,
                "constraints": [str(c) for c in self.constraints]}

    def profile_for(self, params: Mapping[str, Any]) -> Profile:
        """The profile a set of trial parameters selects (the base profile without co-search)."""
        if self.space is None:
            return self.base
        return self.space.profile(self.space.from_params({k: params[k] for k in self.space.distributions()}))

    def metrics(self, workload: Workload, profile: Profile) -> tuple[Cost, dict[str, float]]:
        cost = estimate(workload, profile)
        metrics = {k: float(v) for k, v in cost.totals.items()}
        metrics["params"], metrics["macs"] = workload.total_params, workload.total_macs
        return cost, metrics

    def violations(self, metrics: Mapping[str, float], profile: Profile) -> dict[str, float]:
        out = {str(c): c.violation(metrics[c.name]) for c in self.constraints}
        out[CAPACITY_KEY] = 0.0 if metrics.get("feasible", metrics.get("fits", 1.0)) > 0.5 else 1.0
        return out

    def evaluate(self, trial: Any, workload: Workload) -> HardwareResult:
        hw_attr: dict[str, Any]
        if self.space is not None:
            choice = self.space.suggest(trial)
            profile = self.space.profile(choice)
            hw_attr = {"profile": profile.name, **choice.to_dict()}
        else:
            profile = self.base
            hw_attr = {"profile": profile.name}
        cost, metrics = self.metrics(workload, profile)
        violations = self.violations(metrics, profile)
        for key, value in violations.items():
            trial.set_constraint(key, value)
        trial.set_user_attr("hardware", hw_attr)
        trial.set_user_attr("cost", json_safe(metrics))
        return HardwareResult(profile=profile, cost=cost, metrics=metrics, violations=violations)

    def __call__(self, trial: Any, workload: Workload) -> tuple[float, ...]:
        res = self.evaluate(trial, workload)
        return tuple(res.metrics[n] for n in self.objectives)


# -- the objective -----------------------------------------------------------------------------------------

class Objective:
    """A network (+ optionally chip) search objective: ``study.optimize(Objective(...))`` in any study.

    ``objectives`` names come from :data:`OBJECTIVES`: ``accuracy`` (short training), ``naswot`` /
    ``synflow`` (zero-cost proxies), ``params`` / ``macs``, and every cost total (``energy_uj``,
    ``latency_ms``, ``area_mm2``, ``edp_uj_ms``, ``tops_per_w`` ...), and ``analog_accuracy`` /
    ``analog_accuracy_1h`` / ``_1d`` / ``_1m``: validation accuracy on the trial's (co-searched) IMC chip,
    simulated from the profile (:mod:`nas_edge.analog`; ``analog`` options: Monte-Carlo ``repeats``,
    hardware-aware training ``hwa``, simulation overrides). Create the study with
    ``directions=objective.directions`` (or :meth:`create_study`). Training is skipped for candidates
    that break a constraint or do not fit on the chip (``skip_infeasible``); their accuracy is reported
    as 0 and they are infeasible, so they never reach ``study.best_trials``.
    """

    def __init__(
        self,
        space: str | NetworkSpace = "cnn",
        hardware: str | Path | Profile = "neurosim-rram-22nm",
        data: str | Data | None = "digits",
        *,
        objectives: str | Sequence[str] = ("accuracy", "energy_uj", "latency_ms"),
        constraints: Mapping[str, Any] | Sequence[str | Constraint] | None = None,
        hardware_search: bool | HardwareSpace = False,
        training: TrainConfig | Mapping[str, Any] | None = None,
        space_options: Mapping[str, Any] | None = None,
        proxy_batch: int = 64,
        skip_infeasible: bool = True,
        seed: int = 0,
        analog: AnalogOptions | Mapping[str, Any] | None = None,
    ) -> None:
        self.objectives = check_objectives(objectives)
        self.model_metrics = tuple(o for o in self.objectives if o in MODEL_METRICS)
        hw_objectives = tuple(o for o in self.objectives if o not in MODEL_METRICS)
        self.hardware = HardwareCost(hardware, objectives=hw_objectives, constraints=constraints,
                                     search=hardware_search)
        try:
            self.analog = AnalogOptions.coerce(analog)
            check_analog_objectives(self.hardware.base, self.objectives)
        except AnalogConfigError as exc:
            raise SearchError(str(exc)) from None
        self.seed = int(seed)
        self.proxy_batch = int(proxy_batch)
        self.skip_infeasible = bool(skip_infeasible)
        try:
            self.training = training if isinstance(training, TrainConfig) else TrainConfig(
                **{"seed": self.seed, **(training or {})})
        except (TypeError, ValueError) as exc:
            raise SearchError(f"training options: {exc}") from None
        self.data: Data | None = None
        if data is not None:
            try:
                self.data = load_data(data, seed=self.seed)
            except DataError as exc:
                raise SearchError(str(exc)) from None
        elif self.model_metrics:
            raise SearchError(f"objectives {', '.join(self.model_metrics)} need data (e.g. data='digits')")
        self.space = self._make_space(space, dict(space_options or {}))
        self._metrics_cache: dict[tuple[Any, ...], dict[str, float]] = {}

    def _make_space(self, space: str | NetworkSpace, options: dict[str, Any]) -> NetworkSpace:
        if isinstance(space, NetworkSpace):
            if self.data is not None and (tuple(space.input_shape) != self.data.input_shape
                                          or space.num_classes != self.data.num_classes):
                raise SearchError(f"space input {space.input_shape} / {space.num_classes} classes does not match "
                                  f"the data ({self.data.input_shape} / {self.data.num_classes} classes)")
            return space
        try:
            cls = get_space_class(str(space))
            if cls.kind != "network":
                raise SearchError(f"{space!r} is not a network space; use hardware_search=True for chip knobs")
            kwargs = {**(self.data.space_kwargs() if self.data is not None else {}), **options}
            made = create_space(str(space), **kwargs)
        except SpaceError as exc:
            raise SearchError(str(exc)) from None
        assert isinstance(made, NetworkSpace)
        return made

    @property
    def directions(self) -> list[str]:
        return [OBJECTIVES[o] for o in self.objectives]

    @property
    def metric_names(self) -> list[str]:
        return list(self.objectives)

    def describe(self) -> dict[str, Any]:
        """What defines this search (stored with a study so that a resumed study can be checked)."""
        analog = self.analog.describe() if any(o in ANALOG_OBJECTIVES for o in self.objectives) else None
        return json_safe({"space": self.space.name, "space_config": self.space.config(),
                          "objectives": list(self.objectives), **self.hardware.describe(),
                          "data": self.data.describe() if self.data is not None else None, "analog": analog,
                          "training": self.training.describe() if TRAINED_METRICS & set(self.objectives) else None})

    def create_study(self, **kwargs: Any) -> optuna.Study:
        """``optuna.create_study`` with this objective's directions (other keywords passed through)."""
        study = optuna.create_study(directions=self.directions, **kwargs)
        if not study.metric_names:
            set_metric_names(study, self.metric_names)
        return study

    # -- for screening samplers: what is known from the parameters alone ------------------------------

    def search_space(self) -> dict[str, BaseDistribution]:
        """Every parameter a trial of this objective suggests (network, then chip knobs)."""
        dists = self.space.distributions()
        if self.hardware.space is not None:
            dists.update(self.hardware.space.distributions())
        return dists

    def hardware_metrics(self, params: Mapping[str, Any]) -> dict[str, float]:
        """Cost metrics of a full parameter set, without a trial (the last few are cached)."""
        key = tuple(sorted(params.items()))
        hit = self._metrics_cache.get(key)
        if hit is None:
            arch = self.space.from_params({k: params[k] for k in self.space.distributions()})
            hit = self.hardware.metrics(self.space.layers(arch), self.hardware.profile_for(params))[1]
            if len(self._metrics_cache) > 4096:
                self._metrics_cache.clear()
            self._metrics_cache[key] = hit
        return hit

    @property
    def cheap_objective_indices(self) -> list[int]:
        """Indices of the objectives known before training (hardware, params, macs)."""
        return [i for i, o in enumerate(self.objectives) if o not in MODEL_METRICS]

    def cheap_objectives(self, params: Mapping[str, Any]) -> list[float]:
        m = self.hardware_metrics(params)
        return [m[self.objectives[i]] for i in self.cheap_objective_indices]

    def cheap_constraints(self, params: Mapping[str, Any]) -> dict[str, float]:
        """The constraint values a trial with these parameters will set (same keys)."""
        return self.hardware.violations(self.hardware_metrics(params), self.hardware.profile_for(params))

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        arch = self.space.suggest(trial)
        workload = self.space.layers(arch)
        trial.set_user_attr("arch", arch.to_dict())
        hw = self.hardware.evaluate(trial, workload)
        values = dict(hw.metrics)
        if self.model_metrics:
            from nas_edge.evaluate.train import torch_threads

            with torch_threads(self.training.threads):
                values.update(self._model_values(trial, arch, hw))
        out = tuple(float(values[o]) for o in self.objectives)
        return out[0] if len(out) == 1 else out

    def _model_values(self, trial: Any, arch: Any, hw: HardwareResult) -> dict[str, float]:
        import torch

        assert self.data is not None
        out: dict[str, float] = {}
        skip = self.skip_infeasible and not hw.feasible
        analog = [m for m in self.model_metrics if m in ANALOG_OBJECTIVES]
        if analog and not skip:  # one training (plain or hardware-aware), then the chip at every time
            from nas_edge.analog.objective import analog_objective_values

            torch.manual_seed(self.seed)
            out, record = analog_objective_values(self.space.build(arch), self.data, hw.profile, analog,
                                                  self.training, self.analog, seed=self.seed,
                                                  report=_reporter(trial))
            trial.set_user_attr("evaluation", {"mode": record["mode"], "epochs": record["epochs"],
                                               "seconds": record["train_seconds"], "history": record["history"]})
            trial.set_user_attr("analog", record)
        for metric in self.model_metrics:
            if metric in out:  # "accuracy" comes with the analog objectives: the same trained network
                continue
            if metric in TRAINED_METRICS and skip:
                reason = "does not fit on the chip" if not hw.fits else "breaks a hardware constraint"
                trial.set_user_attr("evaluation", {"skipped": reason})
                out[metric] = 0.0
                continue
            torch.manual_seed(self.seed)
            model = self.space.build(arch)
            if metric == "accuracy":
                from nas_edge.evaluate.train import train_and_evaluate

                res = train_and_evaluate(model, self.data, self.training, report=_reporter(trial))
                trial.set_user_attr("evaluation", {"mode": "train", "epochs": len(res.history),
                                                   "seconds": round(res.seconds, 3),
                                                   "history": [round(h, 5) for h in res.history]})
                out[metric] = res.accuracy
            else:
                from nas_edge.evaluate import proxies

                if metric == "naswot":
                    gen = torch.Generator().manual_seed(self.seed)
                    idx = torch.randperm(len(self.data.x_train), generator=gen)[:self.proxy_batch].numpy()
                    x = torch.from_numpy(self.data.x_train[idx])
                    score = proxies.naswot(model, x)
                else:
                    score = proxies.synflow(model, self.space.example_input())
                if not math.isfinite(score):
                    trial.set_user_attr("evaluation", {"pruned": f"{metric} score is not finite"})
                    raise optuna.TrialPruned(f"{metric} score is not finite")
                out[metric] = score
        return out


def set_metric_names(study: optuna.Study, names: Sequence[str]) -> None:
    """Name the objectives (shown by optuna-dashboard); Optuna marks this experimental."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(list(names))


def _reporter(trial: Any) -> Callable[[float, int], None] | None:
    """Report intermediate accuracy for pruners (Optuna prunes single-objective studies only)."""
    study = getattr(trial, "study", None)
    if study is None or len(study.directions) != 1:
        return None

    def report(value: float, step: int) -> None:
        trial.report(value, step)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {step} (val accuracy {value:.4f})")

    return report


# -- storages, samplers, pruners ----------------------------------------------------------------------------

def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers (optuna-dashboard) do not block the writer
    cur.execute("PRAGMA synchronous=NORMAL")  # commit without fsync; durable across a crashed process
    cur.close()


def open_storage(url: str | optuna.storages.BaseStorage | None) -> optuna.storages.BaseStorage | None:
    """An Optuna storage from a URL: RDB URLs (SQLite gets WAL mode and a 60 s lock timeout), or a journal
    file (``*.log`` / ``*.jsonl`` / ``journal:PATH``) for many processes on one machine. ``None`` = memory."""
    if url is None or isinstance(url, optuna.storages.BaseStorage):
        return url
    url = str(url)
    try:
        if url.startswith("journal:") or url.endswith((".log", ".jsonl")):
            from optuna.storages.journal import JournalFileBackend

            path = Path(url.removeprefix("journal:"))
            if not path.parent.is_dir():
                raise SearchError(f"cannot open storage {url!r}: directory {str(path.parent)!r} does not exist")
            return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
        if "://" not in url:
            raise SearchError(f"cannot open storage {url!r}: expected a database URL such as "
                              f"{DEFAULT_STORAGE} or a journal file ending in .log")
        if url.startswith("sqlite:"):
            db = url.split(":///", 1)[1] if ":///" in url else ""
            if db and db != ":memory:" and not Path(db).expanduser().parent.is_dir():
                raise SearchError(f"cannot open storage {url!r}: directory {str(Path(db).parent)!r} does not exist")
            storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
            from sqlalchemy import event

            event.listen(storage.engine, "connect", _sqlite_pragmas)
            storage.engine.dispose()  # reconnect with the pragmas
            return storage
        from nas_edge.workers import heartbeat_storage  # a server shared by many machines: workers beat

        return heartbeat_storage(url)
    except SearchError:
        raise
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SearchError(f"cannot open storage {url!r}: {msg}") from None


SAMPLERS = ("tpe", "nsga2", "nsga3", "random", "gp", "cmaes", "qmc", "hw")
PRUNERS = ("none", "median", "sha", "hyperband")


def make_sampler(name: str, *, seed: int | None = None, n_objectives: int = 1,
                 objective: Objective | None = None) -> optuna.samplers.BaseSampler:
    """A sampler by short name (see :data:`SAMPLERS`). ``hw`` is nas-edge's screening sampler: it needs the
    ``objective`` whose hardware objectives and constraints it computes exactly for many candidates."""
    s = optuna.samplers
    if name == "hw":
        if objective is None:
            raise SearchError("the hw sampler needs the objective (its cheap hardware metrics)")
        from nas_edge.samplers.nas_glue import screening_sampler

        return screening_sampler(objective, seed=seed)
    if name == "cmaes":
        if n_objectives > 1:
            raise SearchError("the cmaes sampler optimises a single objective; use tpe, nsga2, nsga3 or gp")
        import importlib.util

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
    return {"none": lambda: p.NopPruner(), "median": lambda: p.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
            "sha": lambda: p.SuccessiveHalvingPruner(),
            "hyperband": lambda: p.HyperbandPruner(min_resource=1, max_resource=max_resource)}[name]()


def open_study(objective: Objective, *, storage: str | optuna.storages.BaseStorage | None = DEFAULT_STORAGE,
               study_name: str = DEFAULT_STUDY, sampler: optuna.samplers.BaseSampler | None = None,
               pruner: optuna.pruners.BasePruner | None = None) -> optuna.Study:
    """Create the study, or load it when it exists and was made by the same search (else an error)."""
    store = open_storage(storage)
    meta = objective.describe()
    if store is not None:
        try:
            existing = optuna.load_study(study_name=study_name, storage=store, sampler=sampler, pruner=pruner)
        except KeyError:
            existing = None
        if existing is not None:
            _check_resume(existing, objective, meta)
            return existing
    study = optuna.create_study(storage=store, study_name=study_name, directions=objective.directions,
                                sampler=sampler, pruner=pruner)
    set_metric_names(study, objective.metric_names)
    study.set_user_attr("nas_edge", meta)
    return study


RESUME_KEYS = ("space", "space_config", "objectives", "hardware", "search", "constraints", "data", "analog",
               "training")  # what must match for a run to extend an existing study
_LATER_KEYS = ("analog", "training")  # studies made by earlier versions lack these: not compared


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
        if old.get(key) != meta.get(key):
            raise SearchError(f"study {study.study_name!r} exists with a different {key.replace('_', ' ')} "
                              f"({old.get(key)!r} vs {meta.get(key)!r}); resume it with the same options or "
                              "choose another --study-name")


def run_search(
    *,
    space: str | NetworkSpace = "cnn",
    hardware: str | Path | Profile = "neurosim-rram-22nm",
    data: str | Data | None = "digits",
    objectives: str | Sequence[str] = ("accuracy", "energy_uj", "latency_ms"),
    constraints: Mapping[str, Any] | Sequence[str | Constraint] | None = None,
    hardware_search: bool = False,
    n_trials: int | None = 20,
    timeout: float | None = None,
    sampler: str | optuna.samplers.BaseSampler = "hw",
    pruner: str | optuna.pruners.BasePruner | None = None,
    storage: str | optuna.storages.BaseStorage | None = DEFAULT_STORAGE,
    study_name: str = DEFAULT_STUDY,
    seed: int | None = 0,
    training: TrainConfig | Mapping[str, Any] | None = None,
    callbacks: Sequence[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = (),
    objective: Objective | None = None,
) -> optuna.Study:
    """Validate everything, then create or resume the study and run it.

    ``n_trials`` is the study's total of finished (complete or pruned) trials: rerunning resumes and stops
    there. ``sampler`` defaults to ``hw``, nas-edge's screening sampler (the best hypervolume at every budget
    of ``benchmarks/bench_search.py``). Returns the study; ``study.best_trials`` is the feasible Pareto front.
    """
    if n_trials is not None and n_trials < 1:
        raise SearchError(f"--trials must be at least 1, got {n_trials}")
    if timeout is not None and timeout <= 0:
        raise SearchError(f"--timeout must be positive, got {timeout}")
    obj = objective or Objective(space, hardware, data, objectives=objectives, constraints=constraints,
                                 hardware_search=hardware_search, training=training, seed=seed or 0)
    n_obj = len(obj.objectives)
    smp = sampler if isinstance(sampler, optuna.samplers.BaseSampler) else make_sampler(
        sampler, seed=seed, n_objectives=n_obj, objective=obj)
    prn = pruner if isinstance(pruner, optuna.pruners.BasePruner) else make_pruner(
        pruner, n_objectives=n_obj, max_resource=obj.training.epochs)
    study = open_study(obj, storage=storage, study_name=study_name, sampler=smp, pruner=prn)
    # Any number of processes or machines may run this on one study: the budget is exact over all of them,
    # and trials of workers that died are failed and re-queued (nas_edge.workers).
    from nas_edge.workers import TrialBudget, recover_stale, run_worker

    if n_trials is None:
        recover_stale(study)
        study.optimize(obj, timeout=timeout, callbacks=list(callbacks), catch=())
    else:
        run_worker(study, obj, TrialBudget(n_trials), timeout=timeout, callbacks=list(callbacks))
    return study
