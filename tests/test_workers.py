"""Workers on one study: exact budget over processes, and recovery of a worker killed mid-trial
(journal file on one machine; PostgreSQL with heartbeats)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import optuna
import pytest
from optuna.trial import TrialState

from nas_edge.workers import BUDGET_ATTR, TrialBudget, run_worker

from pg_server import postgres_server

WORKER = textwrap.dedent("""
    import sys, time, optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    from nas_edge.workers import TrialBudget, heartbeat_storage, run_worker
    url, budget, seed, slow = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    if url.startswith("postgresql"):
        storage = heartbeat_storage(url, heartbeat_interval=1, grace_period=3)
    else:
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend
        storage = JournalStorage(JournalFileBackend(url))
    study = optuna.load_study(study_name="s", storage=storage, sampler=optuna.samplers.RandomSampler(seed=seed))
    def objective(trial):
        x = trial.suggest_float("x", -5, 5)
        trial.set_user_attr("x2", x * x)
        time.sleep(slow)
        return x * x
    run_worker(study, objective, TrialBudget(budget, poll_s=0.2))
""")


def _journal(path):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(path)))


def _on_backend(backend, tmp_path, run):
    """Call ``run(url)`` on a journal file or on a fresh PostgreSQL server."""
    if backend == "journal":
        run(str(tmp_path / "journal.log"))
    else:
        with postgres_server() as url:
            run(url)


def _check(study, budget, killed=()):
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == budget
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))
    for t in done:
        assert t.user_attrs["x2"] == pytest.approx(t.value) and "worker" in t.user_attrs
    for t in study.get_trials(states=(TrialState.FAIL,)):  # surplus trials or killed ones, nothing else
        assert t.user_attrs.get(BUDGET_ATTR) or t.number in killed, t


def test_budget_is_exact_in_one_process(tmp_path):
    study = optuna.create_study(storage=_journal(tmp_path / "j.log"), study_name="s")
    run_worker(study, lambda t: t.suggest_float("x", 0, 1), TrialBudget(7))
    run_worker(study, lambda t: t.suggest_float("x", 0, 1), TrialBudget(7))  # a rerun adds nothing
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 7


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["journal", "postgres"])
def test_three_worker_processes_exact_budget(tmp_path, backend):
    budget = 24

    def run(url):
        storage = _journal(url) if backend == "journal" else url
        optuna.create_study(study_name="s", storage=storage)
        procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, str(budget), str(seed), "0.05"])
                 for seed in range(3)]
        assert all(p.wait(timeout=300) == 0 for p in procs)
        _check(optuna.load_study(study_name="s", storage=storage), budget)

    _on_backend(backend, tmp_path, run)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["journal", "postgres"])
def test_worker_killed_mid_trial_is_recovered(tmp_path, backend):
    budget = 12

    def run(url):
        storage = _journal(url) if backend == "journal" else url
        optuna.create_study(study_name="s", storage=storage)
        victim = subprocess.Popen([sys.executable, "-c", WORKER, url, str(budget), "99", "30"])  # one slow trial
        study = optuna.load_study(study_name="s", storage=storage)
        deadline = time.time() + 60
        # wait until the victim is inside its (30 s) trial, parameters drawn
        while not any(t.params for t in study.get_trials(states=(TrialState.RUNNING,))) and time.time() < deadline:
            time.sleep(0.1)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        killed = study.get_trials(states=(TrialState.RUNNING,))
        assert len(killed) == 1
        procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, str(budget), str(seed), "0.05"])
                 for seed in range(2)]
        assert all(p.wait(timeout=300) == 0 for p in procs)
        study = optuna.load_study(study_name="s", storage=storage)
        _check(study, budget, killed=[killed[0].number])
        dead = study.trials[killed[0].number]
        assert dead.state == TrialState.FAIL
        # the dead trial was re-queued with the same parameters and completed by another worker
        retried = [t for t in study.get_trials(states=(TrialState.COMPLETE,))
                   if t.system_attrs.get("failed_trial") == dead.number]
        assert len(retried) == 1 and retried[0].params == dead.params

    _on_backend(backend, tmp_path, run)
