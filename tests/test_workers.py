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

from nas_edge.workers import BUDGET_ATTR, WORKER_ATTR, Recovery, TrialBudget, run_worker, worker_id

from pg_server import postgres_server

WORKER = textwrap.dedent("""
    import sys, time, optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    from nas_edge.workers import Recovery, TrialBudget, heartbeat_storage, run_worker
    url, budget, seed, slow = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    grace = float(sys.argv[5]) if len(sys.argv) > 5 else 3.0
    timeout = float(sys.argv[6]) if len(sys.argv) > 6 else None
    if url.startswith("postgresql"):
        storage = heartbeat_storage(url, heartbeat_interval=1, grace_period=6)
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
    t0 = time.monotonic()
    run_worker(study, objective, TrialBudget(budget, poll_s=0.2, recovery=Recovery(grace_s=grace)), timeout=timeout)
    print(f"worker done after {time.monotonic() - t0:.1f} s", flush=True)
""")


def on_other_host(cmd: list[str], host: str = "host-b") -> list[str]:
    """``cmd`` in its own UTS namespace whose host name is ``host``: a worker 'on another machine'."""
    if subprocess.run(["unshare", "-u", "true"], capture_output=True, check=False).returncode:
        pytest.skip("unshare -u (a private host name) needs root or user namespaces")
    return ["unshare", "-u", "sh", "-c", f'hostname {host} && exec "$@"', "sh", *cmd]


def _wait_for_params(study, deadline_s: float = 60.0):
    """The RUNNING trials once one of them has drawn its parameters."""
    deadline = time.time() + deadline_s
    while time.time() < deadline:
        running = [t for t in study.get_trials(states=(TrialState.RUNNING,)) if t.params]
        if running:
            return running
        time.sleep(0.1)
    raise AssertionError("no worker started a trial")


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
    retried = {t.system_attrs.get("failed_trial") for t in study.trials}
    for t in study.get_trials(states=(TrialState.FAIL,)):
        # surplus trials or killed ones; on a loaded machine a live worker's heartbeat can also be late past the
        # grace period: its trial is then failed and re-queued like a dead one's (and the worker goes on)
        assert t.user_attrs.get(BUDGET_ATTR) or t.number in killed or t.number in retried, t


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
        _wait_for_params(study)  # the victim is inside its (30 s) trial, parameters drawn
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


# -- hardening (issue 12): dead, suspended and remote workers ---------------------------------------------------


def _running_trial_of(study, worker: str, heartbeat: bool = False) -> int:
    """A RUNNING trial owned by ``worker`` (host:pid), as a worker that then vanished leaves it."""
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    trial.set_user_attr("worker", worker)
    if heartbeat:
        study._storage.record_heartbeat(trial._trial_id)
    return trial.number


def test_a_loaded_study_fails_stale_trials_by_heartbeat(tmp_path):
    """Issue 12.1: a loaded study's storage is Optuna's cache around the RDB storage; the stale check ran only on a
    bare RDBStorage, so the trial of a dead worker on another machine was never failed."""
    from nas_edge.workers import Recovery, heartbeat_storage

    url = f"sqlite:///{tmp_path / 'hb.db'}"
    optuna.create_study(study_name="s", storage=heartbeat_storage(url, heartbeat_interval=1, grace_period=1))
    study = optuna.load_study(study_name="s", storage=heartbeat_storage(url, heartbeat_interval=1, grace_period=1))
    assert not isinstance(study._storage, optuna.storages.RDBStorage)  # the cache: what the old check missed
    dead = _running_trial_of(study, "another-machine:4242", heartbeat=True)
    time.sleep(2.5)  # past the grace period: stale
    Recovery()(study)
    trials = study.get_trials()
    assert trials[dead].state == TrialState.FAIL
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == dead]
    assert len(retried) == 1 and retried[0].state == TrialState.WAITING and retried[0].params == trials[dead].params


def test_process_state_sees_gone_stopped_and_zombie_workers():
    from nas_edge.workers import process_state

    child = subprocess.Popen(["sleep", "60"])
    try:
        assert process_state(child.pid) == "running"
        os.kill(child.pid, signal.SIGSTOP)
        deadline = time.time() + 10
        while process_state(child.pid) != "stopped" and time.time() < deadline:
            time.sleep(0.05)
        assert process_state(child.pid) == "stopped"
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.time() + 10
        while process_state(child.pid) != "gone" and time.time() < deadline:  # a zombie until reaped
            time.sleep(0.05)
        assert process_state(child.pid) == "gone"
    finally:
        child.kill()
        child.wait()
    assert process_state(child.pid) == "gone"


@pytest.mark.timeout(120)
def test_the_budget_wait_honours_the_worker_timeout(tmp_path):
    """Issue 12.5: a trial waiting for an earlier one that never ends (its worker suspended on another host,
    where neither heartbeat nor pid can tell) waited forever, past --timeout. Now the wait ends there."""
    from nas_edge.workers import TIMEOUT_ATTR

    study = optuna.create_study(storage=_journal(tmp_path / "j.log"), study_name="s")
    blocker = _running_trial_of(study, "another-machine:4242")
    t0 = time.monotonic()
    run_worker(study, lambda t: t.suggest_float("x", 0, 1), TrialBudget(1, poll_s=0.05), timeout=1.0)
    waited = time.monotonic() - t0
    trials = study.get_trials()
    assert trials[blocker].state == TrialState.RUNNING  # not recovered: nothing says its worker is gone
    assert [t.user_attrs.get(TIMEOUT_ATTR) for t in trials[1:]] == [True] and trials[1].state == TrialState.FAIL
    assert waited < 60  # the worker returned (it used to wait forever)


def test_a_new_trial_steps_aside_for_a_queued_retry(tmp_path):
    """When a dead trial's retry is queued while a new trial waits for the budget's last place, the new trial
    steps aside (closed as surplus) and the retry, with the dead trial's parameters, takes the place."""
    from nas_edge.workers import YieldToQueued, _retry_callback

    study = optuna.create_study(storage=_journal(tmp_path / "j.log"), study_name="s")
    dead = study.ask()
    dead_x = dead.suggest_float("x", 0, 1)
    for _ in range(2):
        t = study.ask()
        study.tell(t, t.suggest_float("x", 0, 1))
    waiting = study.ask()  # a new trial, waiting for trial 0
    study._storage.set_trial_state_values(dead._trial_id, state=TrialState.FAIL)  # its worker died
    _retry_callback(3)(study, study._storage.get_trial(dead._trial_id))
    budget = TrialBudget(3, poll_s=0.05)
    with pytest.raises(YieldToQueued, match="the budget's last places go to queued trials 4"):
        budget.admits(study, waiting.number)
    study.tell(waiting, state=TrialState.FAIL)
    run_worker(study, lambda t: t.suggest_float("x", 0, 1), budget)
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == 3 and done[-1].number == 4 and done[-1].params["x"] == dead_x


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_dead_worker_on_another_host_does_not_block_postgres_workers(tmp_path):
    """Issue 12.1, the scale-out scenario: a worker on host B dies mid-trial; a worker on this host, started right
    after (the documented rerun), used to wait for ever (> 100 s). Now the heartbeat fails and re-queues the
    dead trial after the grace period and the budget completes."""
    budget = 6

    with postgres_server() as url:
        optuna.create_study(study_name="s", storage=url)
        victim = subprocess.Popen(on_other_host([sys.executable, "-c", WORKER, url, str(budget), "99", "60"]))
        study = optuna.load_study(study_name="s", storage=url)
        (dead,) = _wait_for_params(study)
        assert dead.user_attrs["worker"].startswith("host-b:")
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        t0 = time.monotonic()
        survivor = subprocess.run([sys.executable, "-c", WORKER, url, str(budget), "1", "0.05"], capture_output=True,
                                  text=True, timeout=120, check=False)
        print(f"survivor finished {time.monotonic() - t0:.1f} s after the kill; {survivor.stdout.strip()}")
        assert survivor.returncode == 0, survivor.stderr[-2000:]
        study = optuna.load_study(study_name="s", storage=url)
        _check(study, budget, killed=[dead.number])
        retried = [t for t in study.get_trials(states=(TrialState.COMPLETE,))
                   if t.system_attrs.get("failed_trial") == dead.number]
        assert len(retried) == 1 and retried[0].params == dead.params


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_suspended_worker_does_not_block_the_others(tmp_path):
    """Issue 12.5: a worker suspended mid-trial (SIGSTOP, Ctrl-Z) blocked the others on a journal file for as long
    as it stayed suspended. Now its trial is failed and re-queued after the grace period; when it resumes it
    finds its trial taken, says so and exits cleanly, and the budget is exact."""
    budget, url = 5, str(tmp_path / "journal.log")
    storage = _journal(url)
    optuna.create_study(study_name="s", storage=storage)
    sleeper = subprocess.Popen([sys.executable, "-c", WORKER, url, str(budget), "99", "15", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    study = optuna.load_study(study_name="s", storage=storage)
    (suspended,) = _wait_for_params(study)
    os.kill(sleeper.pid, signal.SIGSTOP)
    try:
        other = subprocess.run([sys.executable, "-c", WORKER, url, str(budget), "1", "0.05", "2"],
                               capture_output=True, text=True, timeout=120, check=False)
        assert other.returncode == 0, other.stderr[-2000:]
    finally:
        os.kill(sleeper.pid, signal.SIGCONT)
    _out, err = sleeper.communicate(timeout=120)
    assert sleeper.returncode == 0, err[-2000:]
    assert "taken over by another worker" in err
    study = optuna.load_study(study_name="s", storage=storage)
    _check(study, budget, killed=[suspended.number])
    assert study.trials[suspended.number].state == TrialState.FAIL
    retried = [t for t in study.trials if t.system_attrs.get("failed_trial") == suspended.number]
    assert len(retried) == 1 and retried[0].params == suspended.params


def test_a_ctrl_c_swallowed_by_a_finaliser_still_stops_the_worker():
    """A KeyboardInterrupt raised while Python runs a finaliser is dropped ("Exception ignored in ..."): the
    worker ran on and ``nas-edge search`` exited 0 (1 run in 6 of the Ctrl-C test). The latch honours it at the
    end of the trial: the trial is FAILED as ``interrupted`` and the worker stops with KeyboardInterrupt."""

    class InterruptedWhileCollected:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(10_000):  # the handler runs here, inside the finaliser, where its exception is lost
                pass

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        InterruptedWhileCollected()  # collected at once
        return x

    study = optuna.create_study()
    reported = []
    hook, sys.unraisablehook = sys.unraisablehook, reported.append
    try:
        with pytest.raises(KeyboardInterrupt):
            run_worker(study, objective, TrialBudget(3))
    finally:
        sys.unraisablehook = hook
    assert not reported  # Python's "Exception ignored in ..." traceback is not shown for the latched interrupt
    assert len(study.trials) == 1
    assert study.trials[0].state == TrialState.FAIL and study.trials[0].user_attrs.get("interrupted") is True
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the latch is gone again


def test_a_retry_is_not_failed_for_its_dead_originals_owner():
    """Optuna's retry of a dead trial copies its user attributes, the dead worker's id included, until the worker
    that picks it up writes its own: another worker's recovery failed the retry in that window (CI, PostgreSQL).
    Now an unclaimed retry is left alone for the grace period, and recovered after it (its taker died too)."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owner = f"{worker_id().rpartition(':')[0]}:{dead.pid}"
    study = optuna.create_study()
    first = study.ask()
    first.set_user_attr(WORKER_ATTR, owner)
    study.tell(first, state=TrialState.FAIL)
    retry = study.ask()  # as a worker would pick up the queued retry
    study._storage.set_trial_system_attr(retry._trial_id, "failed_trial", first.number)
    study._storage.set_trial_user_attr(retry._trial_id, WORKER_ATTR, owner)
    assert Recovery(grace_s=60).local(study) == []
    assert study.trials[retry.number].state == TrialState.RUNNING
    assert Recovery(grace_s=0).local(study) == [retry.number]
    assert study.trials[retry.number].state == TrialState.FAIL
