"""Trials per minute with 1, 2 and 4 worker processes on one study, on PostgreSQL and on the journal file,
with a cheap objective: shows the scaling and each storage's overhead per trial.

    python benchmarks/bench_workers.py [--trials 120] [--backends journal,postgres]

Each worker runs ``nas_edge.workers.run_worker`` (the exact-budget loop ``nas-edge search`` uses) with a
random sampler and an objective of one float parameter and a 5 ms sleep standing in for a cheap evaluation.
PostgreSQL is a throw-away server on loopback (tests/pg_server.py).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import optuna

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

WORKER = textwrap.dedent("""
    import sys, time, optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    from nas_edge.search import open_storage
    from nas_edge.workers import TrialBudget, run_worker
    url, budget, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    study = optuna.load_study(study_name="bench", storage=open_storage(url),
                              sampler=optuna.samplers.RandomSampler(seed=seed))
    def objective(trial):
        x = trial.suggest_float("x", -1, 1)
        time.sleep(0.005)
        return x * x
    run_worker(study, objective, TrialBudget(budget, poll_s=0.05))
""")


def run(url: str, workers: int, trials: int) -> float:
    from nas_edge.search import open_storage

    optuna.create_study(study_name="bench", storage=open_storage(url))
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, str(trials), str(seed)]) for seed in range(workers)]
    if any(p.wait() for p in procs):
        raise RuntimeError("a worker failed")
    wall = time.perf_counter() - t0
    study = optuna.load_study(study_name="bench", storage=open_storage(url))
    done = len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))
    assert done == trials, (done, trials)
    return wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=120)
    ap.add_argument("--backends", default="journal,postgres")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    print(f"{os.cpu_count()} cores; {args.trials} trials per run; objective = 5 ms; wall time includes process start")
    print(f"{'storage':10s} {'workers':>7s} {'wall s':>8s} {'trials/min':>11s} {'ms/trial/worker':>16s}")
    for backend in args.backends.split(","):
        for workers in (1, 2, 4):
            if backend == "journal":
                with tempfile.TemporaryDirectory() as d:
                    wall = run(str(Path(d) / "bench.log"), workers, args.trials)
            else:
                from pg_server import postgres_server

                with postgres_server() as url:
                    wall = run(url, workers, args.trials)
            per = wall * workers / args.trials * 1e3
            print(f"{backend:10s} {workers:7d} {wall:8.2f} {args.trials / wall * 60:11.0f} {per:16.1f}")


if __name__ == "__main__":
    main()
