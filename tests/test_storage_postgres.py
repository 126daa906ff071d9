"""Optuna's RDB storage on a real PostgreSQL server: several worker processes share one study."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import optuna
import pytest

from pg_server import postgres_server

WORKER = textwrap.dedent("""
    import sys, optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState
    url, budget, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    study = optuna.load_study(study_name="shared", storage=url, sampler=optuna.samplers.RandomSampler(seed=seed))
    def objective(trial):
        x = trial.suggest_float("x", -5, 5)
        trial.set_user_attr("x2", float(x * x))
        return x * x
    study.optimize(objective, callbacks=[MaxTrialsCallback(budget, states=(TrialState.COMPLETE,))])
""")


@pytest.mark.slow
def test_three_workers_share_one_study_on_postgres():
    with postgres_server() as url:
        optuna.create_study(study_name="shared", storage=url)
        budget = 30
        procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, str(budget), str(seed)]) for seed in range(3)]
        assert all(p.wait(timeout=300) == 0 for p in procs)
        study = optuna.load_study(study_name="shared", storage=url)
        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        # MaxTrialsCallback stops each worker after it sees the budget: workers in flight may add one each
        assert budget <= len(done) <= budget + 2
        numbers = [t.number for t in study.trials]
        assert len(numbers) == len(set(numbers))
        assert all(t.user_attrs["x2"] == pytest.approx(t.value) for t in done)
