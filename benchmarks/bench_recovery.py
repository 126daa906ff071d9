"""How long the other workers wait when one dies or is suspended mid-trial, with the default settings.

    python benchmarks/bench_recovery.py [--budget 6]

- ``postgres-other-host``: a worker on another host (its own UTS namespace, ``unshare -u``) is killed
  (SIGKILL) inside a trial; a worker on this host starts at once (the documented rerun). Heartbeats every
  10 s, a trial silent for 20 s is failed and re-queued.
- ``journal-suspended``: a worker on this host is suspended (SIGSTOP) inside a trial; another starts at once.
  A trial whose worker has been suspended for 20 s is failed and re-queued.

Printed per case: seconds from the kill/suspension until the lost trial is marked FAILED, and until the
surviving worker has finished the budget (trials of 5 ms). Needs root (unshare) and PostgreSQL
(tests/pg_server.py) for the first case.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

WORKER = textwrap.dedent("""
    import sys, time, optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    from nas_edge.search import open_storage
    from nas_edge.workers import TrialBudget, run_worker
    url, budget, slow = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    study = optuna.load_study(study_name="bench", storage=open_storage(url))
    def objective(trial):
        x = trial.suggest_float("x", -1, 1)
        time.sleep(slow)
        return x * x
    run_worker(study, objective, TrialBudget(budget, poll_s=0.2))
""")


def _case(url: str, budget: int, *, other_host: bool, suspend: bool) -> dict[str, float]:
    from nas_edge.search import open_storage

    optuna.create_study(study_name="bench", storage=open_storage(url))
    cmd = [sys.executable, "-c", WORKER, url, str(budget), "120"]
    if other_host:
        cmd = ["unshare", "-u", "sh", "-c", 'hostname host-b && exec "$@"', "sh", *cmd]
    victim = subprocess.Popen(cmd)
    study = optuna.load_study(study_name="bench", storage=open_storage(url))
    while not [t for t in study.get_trials(states=(TrialState.RUNNING,)) if t.params]:
        time.sleep(0.05)
    lost = next(t for t in study.get_trials(states=(TrialState.RUNNING,)) if t.params)
    os.kill(victim.pid, signal.SIGSTOP if suspend else signal.SIGKILL)
    t0 = time.monotonic()
    survivor = subprocess.Popen([sys.executable, "-c", WORKER, url, str(budget), "0.005"])
    failed_after = None
    while survivor.poll() is None:
        if failed_after is None and study._storage.get_trial(lost._trial_id).state == TrialState.FAIL:
            failed_after = time.monotonic() - t0
        time.sleep(0.1)
    done_after = time.monotonic() - t0
    if suspend:
        os.kill(victim.pid, signal.SIGCONT)
    victim.wait()
    assert survivor.returncode == 0
    study = optuna.load_study(study_name="bench", storage=open_storage(url))
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == budget
    return {"lost trial failed after s": failed_after or done_after, "survivor done after s": done_after}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=int, default=6)
    args = ap.parse_args()
    from pg_server import postgres_server

    print(f"load: {os.getloadavg()[0]:.2f}")
    with postgres_server() as url:
        r = _case(url, args.budget, other_host=True, suspend=False)
        print("postgres-other-host", {k: round(v, 1) for k, v in r.items()})
    with tempfile.TemporaryDirectory() as d:
        r = _case(str(Path(d) / "j.log"), args.budget, other_host=False, suspend=True)
        print("journal-suspended  ", {k: round(v, 1) for k, v in r.items()})


if __name__ == "__main__":
    main()
