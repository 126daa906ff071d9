"""`nas-edge search` as workers of one study (PostgreSQL, journal file), and resuming after a killed worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas_edge.search import open_storage
from nas_edge.workers import BUDGET_ATTR

from pg_server import postgres_server

EXE = str(Path(sys.executable).parent / "nas-edge")


def _search(storage: str, trials: int, seed: int, *extra: str) -> list[str]:
    return [EXE, "search", "--storage", storage, "--study-name", "shared", "--trials", str(trials),
            "--seed", str(seed), "--sampler", "random", "--no-progress", *extra]


def _check_study(storage: str, budget: int, killed: tuple[int, ...] = ()) -> optuna.Study:
    study = optuna.load_study(study_name="shared", storage=open_storage(storage))
    finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(finished) == budget
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))
    for t in study.get_trials(states=(TrialState.FAIL,)):
        assert t.user_attrs.get(BUDGET_ATTR) or t.number in killed, (t.number, t.user_attrs)
    assert study.best_trials
    for t in study.best_trials:
        assert {"arch", "hardware", "cost"} <= set(t.user_attrs), t.user_attrs.keys()
        assert t.user_attrs["cost"]["energy_uj"] > 0
    return study


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgres", "journal"])
def test_three_search_workers_share_one_study(tmp_path, backend):
    budget = 9

    def run(storage: str) -> None:
        cmd = lambda seed: _search(storage, budget, seed, "--objectives", "naswot,energy_uj")  # noqa: E731
        procs = [subprocess.Popen(cmd(seed), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for seed in range(3)]
        outs = [p.communicate(timeout=600) for p in procs]
        assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
        _check_study(storage, budget)

    if backend == "postgres":
        with postgres_server() as url:
            run(url)
    else:
        run(str(tmp_path / "study.log"))


@pytest.mark.slow
def test_rerun_after_a_killed_worker_resumes_and_completes(tmp_path):
    storage = f"sqlite:///{tmp_path / 'nas_edge.db'}"
    budget = 4
    cmd = _search(storage, budget, 0, "--objectives", "accuracy,energy_uj", "--epochs", "6")
    victim = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    running: list = []
    deadline = time.time() + 120
    while time.time() < deadline and not running:
        time.sleep(0.3)
        try:
            study = optuna.load_study(study_name="shared", storage=storage)
            running = [t for t in study.get_trials(states=(TrialState.RUNNING,)) if t.params]
        except KeyError:  # the study is not created yet
            continue
    assert running, "the worker never started a trial"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    killed = running[0]
    rerun = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    study = _check_study(storage, budget, killed=(killed.number,))
    assert study.trials[killed.number].state == TrialState.FAIL
    retried = [t for t in study.trials if t.system_attrs.get("failed_trial") == killed.number]
    # re-queued with the parameters the dead trial had drawn (the rest are sampled anew)
    assert len(retried) == 1 and killed.params.items() <= retried[0].params.items()
