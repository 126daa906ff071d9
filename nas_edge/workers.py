"""Many workers on one study: an exact trial budget, heartbeats and recovery of trials whose worker died.

Optuna's storages do the coordination (RDB on PostgreSQL for many machines, the journal file for many
processes on one machine); this module adds what a fixed-budget, crash-tolerant search needs on top:

- :class:`TrialBudget`: exactly ``total`` trials run to the end across all workers. Trial numbers are handed
  out atomically by the storage, so trial *k* runs iff fewer than ``total`` trials numbered below *k* are
  still alive (complete, pruned, running or waiting). While trials below *k* are still running, *k* waits
  (one of them may die and free its place); a surplus trial is closed as FAILED with the user attribute
  ``budget_exhausted``; a retried trial takes the place of the one that died.
- heartbeats on RDB storages (``heartbeat_interval``/``grace_period`` with ``RetryFailedTrialCallback``): a
  killed worker's trial is marked FAILED by the next worker and re-queued with the same parameters;
- :func:`recover_dead_local_workers` does the same for storages without heartbeats (the journal file): it
  fails RUNNING trials whose worker process (recorded as host + pid) no longer exists on this host.
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from collections.abc import Callable
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas_edge.errors import NasEdgeError

WORKER_ATTR = "worker"
BUDGET_ATTR = "budget_exhausted"
_ALIVE = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


class BudgetExhausted(NasEdgeError):
    """Raised inside a surplus trial; ``study.optimize(catch=...)`` closes it as FAILED."""


class TrialBudget:
    """Exactly ``total`` finished (complete or pruned) trials over all workers of a study."""

    def __init__(self, total: int, *, poll_s: float = 0.5) -> None:
        if total < 1:
            raise ValueError(f"the trial budget must be >= 1, got {total}")
        self.total = total
        self.poll_s = poll_s

    def admits(self, study: optuna.Study, number: int) -> bool:
        """Whether trial ``number`` may run; waits while trials before it are still undecided."""
        storage, study_id = study._storage, study._study_id
        while True:
            # cheap count first: when all alive trials (this one included) fit the budget, it is admitted
            if storage.get_n_trials(study_id, _ALIVE) <= self.total:
                return True
            before = [t for t in study.get_trials(deepcopy=False, states=_ALIVE) if t.number < number]
            if len(before) < self.total:
                return True
            if not any(t.state == TrialState.RUNNING for t in before):
                return False
            time.sleep(self.poll_s)
            recover_stale(study)

    def finished(self, study: optuna.Study) -> int:
        return study._storage.get_n_trials(study._study_id, _FINISHED)

    def guard(self, objective: Callable[[optuna.Trial], Any]) -> Callable[[optuna.Trial], Any]:
        """Wrap an objective: a surplus trial raises :class:`BudgetExhausted` before any work."""

        def guarded(trial: optuna.Trial) -> Any:
            if not self.admits(trial.study, trial.number):
                trial.set_user_attr(BUDGET_ATTR, True)
                raise BudgetExhausted(f"trial {trial.number}: the study's budget of {self.total} trials is spent")
            trial.set_user_attr(WORKER_ATTR, worker_id())
            return objective(trial)

        return guarded

    def callback(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """``study.optimize`` callback: stop this worker once the budget is spent."""
        if trial.user_attrs.get(BUDGET_ATTR) or self.finished(study) >= self.total:
            study.stop()


def _retry_callback(max_retry: int | None) -> Callable[[optuna.Study, FrozenTrial], None]:
    """Optuna's own re-queue of a stale trial with the same parameters (system attr ``failed_trial``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_dead_local_workers(study: optuna.Study, storage: optuna.storages.BaseStorage, *,
                               max_retry: int | None = 3) -> list[int]:
    """Fail and re-queue RUNNING trials whose worker process on this host is gone. Returns their numbers."""
    host = socket.gethostname()
    retry = _retry_callback(max_retry)
    recovered = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = t.user_attrs.get(WORKER_ATTR, "")
        owner_host, _, pid = owner.rpartition(":")
        if owner_host != host or not pid.isdigit() or _pid_alive(int(pid)):
            continue
        try:
            if not storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:  # another worker got there first
            continue
        retry(study, storage.get_trial(t._trial_id))
        recovered.append(t.number)
    return recovered


def heartbeat_storage(
    url: str, *, heartbeat_interval: int = 10, grace_period: int | None = None, max_retry: int | None = 3,
    engine_kwargs: dict[str, Any] | None = None,
) -> optuna.storages.RDBStorage:
    """An RDB storage whose workers beat; a trial whose worker stops beating is failed and re-queued.

    Workers started together on an empty database race to create Optuna's tables; the loser retries.
    """
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    for attempt in range(5):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period or 2 * heartbeat_interval,
                    heartbeat_stale_trial_callback=_retry_callback(max_retry),
                )
        except (IntegrityError, ProgrammingError):
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def recover_stale(study: optuna.Study) -> None:
    """Fail (and re-queue) trials whose worker died: by heartbeat where the storage beats, else by pid."""
    storage = study._storage
    if isinstance(storage, optuna.storages.RDBStorage) and storage.get_heartbeat_interval() is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
    else:  # journal files and SQLite: workers share this host
        recover_dead_local_workers(study, storage)


def run_worker(study: optuna.Study, objective: Callable[[optuna.Trial], Any], budget: TrialBudget, *,
               timeout: float | None = None,
               callbacks: list[Callable[[optuna.Study, FrozenTrial], None]] | None = None,
               show_progress_bar: bool = False) -> None:
    """Run trials of ``study`` until its budget is spent (or ``timeout``), as one worker among many."""
    recover_stale(study)
    if budget.finished(study) >= budget.total:
        return
    study.optimize(budget.guard(objective), timeout=timeout, catch=(BudgetExhausted,),
                   callbacks=[budget.callback, *(callbacks or [])], show_progress_bar=show_progress_bar)
