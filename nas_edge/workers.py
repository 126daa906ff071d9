"""Many workers on one study: an exact trial budget, heartbeats and recovery of trials whose worker died.

Optuna's storages do the coordination (RDB on PostgreSQL for many machines, the journal file for many
processes on one machine); this module adds what a fixed-budget, crash-tolerant search needs on top:

- :class:`TrialBudget`: exactly ``total`` trials run to the end across all workers. Trial numbers are handed
  out atomically by the storage, so trial *k* runs iff fewer than ``total`` trials numbered below *k* are
  still alive (complete, pruned, running or waiting). While trials below *k* are still running, *k* waits
  (one of them may die and free its place); a surplus trial is closed as FAILED with the user attribute
  ``budget_exhausted``. Queued trials (a dead trial's retry, with its parameters) go first: a new trial
  whose place a queued one needs steps aside (closed the same way, the attribute naming the queued trials) and
  its worker goes on with the queued trial. The wait ends at the worker's ``timeout`` (the trial is closed as
  FAILED with ``wait_timed_out`` and the worker stops).
- heartbeats on RDB servers (``heartbeat_interval``/``grace_period`` with Optuna's retry callback): a trial
  whose worker stopped beating — killed, suspended, or cut off, on any machine — is marked FAILED by the
  next worker and re-queued with the same parameters;
- :class:`Recovery` does the same, on every storage, for the workers of this host: a RUNNING trial whose
  worker process (recorded as host + pid) no longer exists, or has been suspended (SIGSTOP, Ctrl-Z) for
  ``grace_s``, is failed and re-queued. A suspended worker that resumes finds its trial taken, says so and
  goes on with the next one.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import socket
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.storages._heartbeat import is_heartbeat_enabled
from optuna.trial import FrozenTrial, TrialState

from nas_edge.errors import NasEdgeError

WORKER_ATTR = "worker"
BUDGET_ATTR = "budget_exhausted"
TIMEOUT_ATTR = "wait_timed_out"
INTERRUPTED_ATTR = "interrupted"
HEARTBEAT_S = 10
GRACE_S = 2.0 * HEARTBEAT_S  # a worker silent (or suspended) this long has lost its trial
_ALIVE = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
_log = optuna.logging.get_logger("nas_edge.workers")


class BudgetExhausted(NasEdgeError):
    """Raised inside a surplus trial; ``study.optimize(catch=...)`` closes it as FAILED."""

    def __init__(self, message: str, number: int | None = None) -> None:
        super().__init__(message)
        self.number = number


class _OneLineBudgetLog(logging.Filter):
    """Optuna logs a caught exception as a warning with its traceback, then "Trial N failed with value None":
    for a surplus trial that is one line, the exception's message."""

    def __init__(self) -> None:
        super().__init__()
        self.closed: set[int] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        # the subclasses (a wait timed out, a place kept for a queued trial) are the front end's to word
        if isinstance(exc, BudgetExhausted) and type(exc) is BudgetExhausted and exc.number is not None:
            self.closed.add(exc.number)
            record.msg, record.args, record.exc_info, record.exc_text = str(exc), (), None, None
            return True
        text = record.getMessage()
        return not any(text.startswith(f"Trial {n} failed with value") for n in self.closed)


@contextlib.contextmanager
def one_line_budget_messages() -> Iterator[None]:
    """While inside: a surplus trial is reported by Optuna's logger as one line, without a traceback."""
    logger = logging.getLogger("optuna.study._optimize")
    flt = _OneLineBudgetLog()
    logger.addFilter(flt)
    try:
        yield
    finally:
        logger.removeFilter(flt)


class YieldToQueued(BudgetExhausted):
    """Raised inside a new trial whose place in the budget belongs to queued trials (retries of dead ones)."""


class WaitTimedOut(BudgetExhausted):
    """Raised inside a trial whose wait for earlier trials outlasted the worker's ``timeout``."""


class TrialLost(NasEdgeError):
    """This worker's trial was failed (and re-queued) by another worker while this one was silent."""


def host_id() -> str:
    """The name this host's workers record in their trials."""
    return socket.gethostname()


def worker_id() -> str:
    return f"{host_id()}:{os.getpid()}"


def process_state(pid: int) -> str:
    """``"gone"`` (no such process, or a zombie), ``"stopped"`` (SIGSTOP / Ctrl-Z) or ``"running"``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "gone"
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (macOS): that it exists is all that is known
        return "running"
    fields = stat.rpartition(")")[2].split()
    state = fields[0] if fields else "R"
    return "gone" if state in ("Z", "X") else "stopped" if state == "T" else "running"


def _retry_callback(max_retry: int | None) -> Callable[[optuna.Study, FrozenTrial], None]:
    """Optuna's own re-queue of a stale trial with the same parameters (system attr ``failed_trial``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)


class Recovery:
    """Fail and re-queue RUNNING trials whose worker is gone: by heartbeat where the storage beats (any host),
    and by process state for the workers of this host (gone, or suspended for ``grace_s``)."""

    def __init__(self, *, grace_s: float = GRACE_S, max_retry: int | None = 3) -> None:
        self.grace_s = grace_s
        self.max_retry = max_retry
        self._stopped_since: dict[int, float] = {}  # trial id -> when its worker was first seen suspended

    def __call__(self, study: optuna.Study) -> list[int]:
        """Recover what can be recovered now; returns the numbers of the trials failed here by process state."""
        if is_heartbeat_enabled(study._storage):  # Optuna's RDBStorage, also behind its cache on a loaded study
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
        return self.local(study)

    def local(self, study: optuna.Study) -> list[int]:
        storage, host, now = study._storage, host_id(), time.monotonic()
        retry = _retry_callback(self.max_retry)
        recovered, stopped = [], set()
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            owner_host, _, pid = str(t.user_attrs.get(WORKER_ATTR, "")).rpartition(":")
            if owner_host != host or not pid.isdigit() or int(pid) == os.getpid():
                continue
            if _unclaimed_retry(study, t) and _age_s(t) < self.grace_s:
                continue  # a retry carries its dead original's owner until the worker that took it claims it
            state = process_state(int(pid))
            if state == "stopped":
                stopped.add(t._trial_id)
                if now - self._stopped_since.setdefault(t._trial_id, now) < self.grace_s:
                    continue
            elif state != "gone":
                continue
            try:
                if not storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                    continue
            except optuna.exceptions.UpdateFinishedTrialError:  # another worker got there first
                continue
            _log.warning(f"trial {t.number}: its worker {t.user_attrs[WORKER_ATTR]} is "
                         f"{'suspended' if state == 'stopped' else 'gone'}; failed and re-queued")
            retry(study, storage.get_trial(t._trial_id))
            recovered.append(t.number)
        self._stopped_since = {k: v for k, v in self._stopped_since.items() if k in stopped}
        return recovered


def _unclaimed_retry(study: optuna.Study, trial: FrozenTrial) -> bool:
    """Whether ``trial`` is a re-queued trial whose owner is still the one its failed original had (Optuna's
    retry copies the user attributes; the worker that picks it up writes its own at the start of the trial)."""
    original = trial.system_attrs.get("failed_trial")
    if not isinstance(original, int):
        return False
    try:
        first = study._storage.get_trial(
            study._storage.get_trial_id_from_study_id_trial_number(study._study_id, original))
    except KeyError:
        return False
    return first.user_attrs.get(WORKER_ATTR) == trial.user_attrs.get(WORKER_ATTR)


def _age_s(trial: FrozenTrial) -> float:
    """Seconds since ``trial`` started (Optuna stamps local time)."""
    start = trial.datetime_start
    return float("inf") if start is None else (datetime.datetime.now() - start).total_seconds()


class TrialBudget:
    """Exactly ``total`` finished (complete or pruned) trials over all workers of a study."""

    def __init__(self, total: int, *, poll_s: float = 0.5, recovery: Recovery | None = None) -> None:
        if total < 1:
            raise ValueError(f"the trial budget must be >= 1, got {total}")
        self.total = total
        self.poll_s = poll_s
        self.recovery = recovery or Recovery()
        self.interrupted = False  # a Ctrl-C arrived (set by run_worker's latch; see _latched_interrupts)
        self.lost: int | None = None  # the number of this worker's last trial if another worker took it

    def admits(self, study: optuna.Study, number: int, *, deadline: float | None = None) -> bool:
        """Whether trial ``number`` may run; waits while trials before it are still undecided, recovering
        those whose worker died. :class:`WaitTimedOut` when the wait reaches ``deadline`` (``time.monotonic``)."""
        storage, study_id = study._storage, study._study_id
        while True:
            # cheap count first: when all alive trials (this one included) fit the budget, it is admitted
            if storage.get_n_trials(study_id, _ALIVE) <= self.total:
                return True
            alive = study.get_trials(deepcopy=False, states=_ALIVE)
            before = [t for t in alive if t.number < number]
            queued = [t.number for t in alive if t.number > number and t.state == TrialState.WAITING]
            if len(before) + len(queued) < self.total:
                return True
            if not any(t.state == TrialState.RUNNING for t in before):
                if len(before) < self.total:  # the places left belong to queued trials (retries) first
                    raise YieldToQueued(f"trial {number}: the budget's last places go to queued trials "
                                        f"{', '.join(map(str, queued))}")
                return False
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimedOut(f"trial {number}: the worker's timeout passed while it waited for trials "
                                   f"{', '.join(str(t.number) for t in before if t.state == TrialState.RUNNING)}")
            time.sleep(self.poll_s if deadline is None else max(0.0, min(self.poll_s, deadline - time.monotonic())))
            self.recovery(study)

    def finished(self, study: optuna.Study) -> int:
        return study._storage.get_n_trials(study._study_id, _FINISHED)

    def guard(self, objective: Callable[[optuna.Trial], Any], *,
              deadline: float | None = None) -> Callable[[optuna.Trial], Any]:
        """Wrap an objective: a surplus trial raises :class:`BudgetExhausted` before any work; a trial that
        another worker failed meanwhile (this one was suspended or cut off) raises :class:`TrialLost`; a trial
        stopped by Ctrl-C is marked ``interrupted``."""

        def guarded(trial: optuna.Trial) -> Any:
            try:
                value = run(trial)
                if self.interrupted:  # a Ctrl-C that Python swallowed inside a finaliser: honoured here
                    raise KeyboardInterrupt
                return value
            except KeyboardInterrupt:  # Optuna closes the trial as FAILED; say why
                trial.set_user_attr(INTERRUPTED_ATTR, True)
                raise

        def run(trial: optuna.Trial) -> Any:
            try:
                admitted = self.admits(trial.study, trial.number, deadline=deadline)
            except WaitTimedOut:
                trial.set_user_attr(TIMEOUT_ATTR, True)
                raise
            except YieldToQueued as exc:  # not run for the budget, but this worker goes on (with the queued)
                trial.set_user_attr(BUDGET_ATTR, str(exc))
                raise
            if not admitted:
                trial.set_user_attr(BUDGET_ATTR, True)
                raise BudgetExhausted(f"trial {trial.number} closed unrun: the study's budget of {self.total} trials "
                                      "is spent (other workers ran the last ones)", trial.number)
            trial.set_user_attr(WORKER_ATTR, worker_id())
            try:
                value = objective(trial)
            except Exception:
                if _taken(trial):
                    self._lose(trial)
                raise
            if _taken(trial):
                self._lose(trial)
            return value

        return guarded

    def _lose(self, trial: optuna.Trial) -> None:
        self.lost = trial.number
        raise TrialLost(f"trial {trial.number} was failed and re-queued by another worker while this one was "
                        "suspended or cut off; its result is dropped")

    def callback(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """``study.optimize`` callback: stop this worker once the budget is spent (or its wait timed out)."""
        if (trial.user_attrs.get(BUDGET_ATTR) is True or trial.user_attrs.get(TIMEOUT_ATTR)
                or self.finished(study) >= self.total):
            study.stop()


def _taken(trial: optuna.Trial) -> bool:
    """Whether another worker has finished (failed) this running trial."""
    return trial.study._storage.get_trial(trial._trial_id).state != TrialState.RUNNING


def create_rdb_storage(url: str, **kwargs: Any) -> optuna.storages.RDBStorage:
    """``optuna.storages.RDBStorage(url, **kwargs)``. Workers started together on an empty database race to
    create Optuna's tables (``UNIQUE constraint failed: alembic_version``, a duplicate table); the loser
    retries, as often as it takes within a few seconds."""
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    attempts = 8
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, **kwargs)
        except (IntegrityError, ProgrammingError, OperationalError) as exc:
            if attempt == attempts - 1 or (isinstance(exc, OperationalError) and not _creation_race(exc)):
                raise
            time.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")


def _creation_race(exc: Exception) -> bool:
    text = str(exc).lower()
    return "already exists" in text or "locked" in text


def heartbeat_storage(
    url: str, *, heartbeat_interval: int = HEARTBEAT_S, grace_period: int | None = None, max_retry: int | None = 3,
    engine_kwargs: dict[str, Any] | None = None,
) -> optuna.storages.RDBStorage:
    """An RDB storage whose workers beat; a trial whose worker stops beating is failed and re-queued."""
    return create_rdb_storage(url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat_interval,
                              grace_period=grace_period or 2 * heartbeat_interval,
                              heartbeat_stale_trial_callback=_retry_callback(max_retry))


_DEFAULT_RECOVERY = Recovery()


def recover_stale(study: optuna.Study) -> None:
    """Fail (and re-queue) trials whose worker died: by heartbeat where the storage beats, and by process
    state on this host (see :class:`Recovery`)."""
    _DEFAULT_RECOVERY(study)


def recover_dead_local_workers(study: optuna.Study, storage: optuna.storages.BaseStorage | None = None, *,
                               max_retry: int | None = 3) -> list[int]:
    """Fail and re-queue RUNNING trials whose worker process on this host is gone. Returns their numbers."""
    return Recovery(max_retry=max_retry).local(study)


def run_worker(study: optuna.Study, objective: Callable[[optuna.Trial], Any], budget: TrialBudget, *,
               timeout: float | None = None,
               callbacks: list[Callable[[optuna.Study, FrozenTrial], None]] | None = None,
               show_progress_bar: bool = False) -> None:
    """Run trials of ``study`` until its budget is spent (or ``timeout`` seconds, waits included), as one worker
    among many."""
    deadline = None if timeout is None else time.monotonic() + timeout
    guarded = budget.guard(objective, deadline=deadline)
    with one_line_budget_messages(), _latched_interrupts(budget):
        _run_until_spent(study, budget, guarded, deadline, callbacks, show_progress_bar)
    if budget.interrupted:
        raise KeyboardInterrupt


@contextlib.contextmanager
def _latched_interrupts(budget: TrialBudget) -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt as usual and is also remembered in ``budget.interrupted``: Python drops an
    exception raised while it runs a finaliser or a garbage-collection callback ("Exception ignored in ..."),
    and a worker whose interrupt landed there would run on and exit 0; Python's report of that dropped exception
    (a traceback on stderr) is left out. Only in the main thread, and only where SIGINT has Python's own handler
    (an application's handler is left alone)."""
    import signal
    import threading

    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        budget.interrupted = True
        raise KeyboardInterrupt

    def unraisable(info: Any) -> None:  # the swallowed interrupt: latched above, not a traceback to show
        if not (info.exc_type is KeyboardInterrupt and budget.interrupted):
            hook(info)

    previous, hook = signal.signal(signal.SIGINT, handler), sys.unraisablehook
    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = hook


def _run_until_spent(study: optuna.Study, budget: TrialBudget, guarded: Callable[[optuna.Trial], Any],
                     deadline: float | None, callbacks: list[Callable[[optuna.Study, FrozenTrial], None]] | None,
                     show_progress_bar: bool) -> None:
    while True:
        budget.recovery(study)
        left = None if deadline is None else deadline - time.monotonic()
        if budget.finished(study) >= budget.total or (left is not None and left <= 0):
            return
        budget.lost = None
        try:
            study.optimize(guarded, timeout=left, catch=(BudgetExhausted,),
                           callbacks=[budget.callback, *(callbacks or [])], show_progress_bar=show_progress_bar)
            return
        except Exception:
            if budget.lost is None:
                raise
            # Optuna refuses to tell a trial another worker has failed: this worker goes on with the next one
            _log.warning(f"trial {budget.lost} was taken over by another worker while this one was suspended; "
                         "continuing")
