"""Where a search is stored and how it proposes: storages, samplers and pruners by short name, and a study
created — or resumed, when it was made by the same search — for an :class:`~nas_edge.search.Objective`."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from nas_edge.search.errors import SearchError
from nas_edge.search.objective import set_metric_names

if TYPE_CHECKING:
    from nas_edge.search.objective import Objective

DEFAULT_STORAGE = "sqlite:///nas_edge.db"
DEFAULT_STUDY = "nas-edge"
SAMPLERS = ("tpe", "nsga2", "nsga3", "random", "gp", "cmaes", "qmc", "hw")
PRUNERS = ("none", "median", "sha", "hyperband")
RESUME_KEYS = ("space", "space_config", "objectives", "hardware", "search", "constraints", "data", "analog",
               "training", "evaluator")  # what must match for a run to extend an existing study
_LATER_KEYS = ("analog", "training", "evaluator")  # studies made by earlier versions lack these: not compared


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers (optuna-dashboard) do not block the writer
    cur.execute("PRAGMA synchronous=NORMAL")  # commit without fsync; durable across a crashed process
    cur.close()


def is_journal_url(url: str) -> bool:
    """A journal file: ``journal:PATH`` or a path ending in ``.log`` / ``.jsonl``."""
    return url.startswith("journal:") or url.endswith((".log", ".jsonl"))


def open_storage(url: str | optuna.storages.BaseStorage | None) -> optuna.storages.BaseStorage | None:
    """An Optuna storage from a URL: RDB URLs (SQLite gets WAL mode and a 60 s lock timeout), or a journal
    file (``*.log`` / ``*.jsonl`` / ``journal:PATH``) for many processes on one machine. ``None`` = memory."""
    if url is None or isinstance(url, optuna.storages.BaseStorage):
        return url
    url = str(url)
    try:
        if is_journal_url(url):
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
    except Exception as exc:  # the driver's or SQLAlchemy's error for a URL it cannot open: one line
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SearchError(f"cannot open storage {url!r}: {msg}") from None


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
